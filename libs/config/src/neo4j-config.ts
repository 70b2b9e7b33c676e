/**
 * How a service reaches Neo4j: the URI, the user and password, and TLS. `bolt+s://` and
 * `neo4j+s://` verify the server certificate (and host name) against the system CAs, or against
 * NEO4J_TLS_CA_FILE; `+ssc` (encrypted, certificate not verified) is refused unless
 * NEO4J_TRUST_UNVERIFIED_CERTIFICATE=true says so explicitly. `neo4jDriverSettingsOf` turns the
 * checked variables into the URI and options neo4j-driver takes (it forbids trust options beside a
 * `+s` scheme, so a custom CA is given on the plain scheme with encryption switched on).
 */
import { accessSync, constants } from 'node:fs';
import { z } from 'zod';
import { DEVELOPMENT_SECRETS } from './secret-policy';
import { secret } from './secrets';

const SCHEME = /^(bolt|neo4j)(\+s|\+ssc)?:\/\/.+/;

export const neo4jConfigShape = {
  NEO4J_URI: z.string().regex(SCHEME, 'must be a bolt:// or neo4j:// URI (+s: TLS, certificate verified)').default('bolt://127.0.0.1:7687'),
  NEO4J_USER: z.string().default('neo4j'),
  NEO4J_PASSWORD: secret(z.string().min(1), { required: true, development: DEVELOPMENT_SECRETS.neo4jPassword }),
  NEO4J_DATABASE: z.string().default('neo4j'),
  /** PEM file of the CA(s) that signed the Neo4j certificate, instead of the system's; needs a +s URI. */
  NEO4J_TLS_CA_FILE: z.string().min(1, 'must be a file path').optional(),
  /** The only way to accept an unverified certificate (a `+ssc` URI): set it to true explicitly. */
  NEO4J_TRUST_UNVERIFIED_CERTIFICATE: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
};

export type Neo4jVariables = Readonly<z.output<z.ZodObject<typeof neo4jConfigShape>>>;
type Neo4jTlsVariables = Pick<Neo4jVariables, 'NEO4J_URI' | 'NEO4J_TLS_CA_FILE' | 'NEO4J_TRUST_UNVERIFIED_CERTIFICATE'>;

type Tls = 'none' | 'verified' | 'unverified';

function tlsOf(uri: string): Tls {
  const suffix = SCHEME.exec(uri)?.[2];
  return suffix === '+s' ? 'verified' : suffix === '+ssc' ? 'unverified' : 'none';
}

/** The rules between the variables; each problem names the variable to change. */
export function neo4jTlsProblems(v: Neo4jTlsVariables): { variable: string; message: string }[] {
  const problems: { variable: string; message: string }[] = [];
  const add = (variable: string, message: string) => problems.push({ variable, message });
  const tls = tlsOf(v.NEO4J_URI);
  if (tls === 'unverified' && !v.NEO4J_TRUST_UNVERIFIED_CERTIFICATE) {
    add('NEO4J_URI', 'a +ssc URI accepts any certificate (no protection against a man in the middle); use +s (with NEO4J_TLS_CA_FILE for a private CA), or set NEO4J_TRUST_UNVERIFIED_CERTIFICATE=true to accept that');
  }
  if (tls !== 'unverified' && v.NEO4J_TRUST_UNVERIFIED_CERTIFICATE) add('NEO4J_TRUST_UNVERIFIED_CERTIFICATE', 'is true but NEO4J_URI is not a +ssc URI');
  if (v.NEO4J_TLS_CA_FILE !== undefined) {
    if (tls !== 'verified') add('NEO4J_TLS_CA_FILE', 'is set but NEO4J_URI is not a bolt+s:// or neo4j+s:// URI');
    try {
      accessSync(v.NEO4J_TLS_CA_FILE, constants.R_OK);
    } catch (err) {
      add('NEO4J_TLS_CA_FILE', `cannot read ${v.NEO4J_TLS_CA_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return problems;
}

/** For a schema's superRefine: reports every cross-variable problem on its variable. */
export function checkNeo4jTls(v: Neo4jTlsVariables, ctx: z.RefinementCtx): void {
  for (const { variable, message } of neo4jTlsProblems(v)) ctx.addIssue({ code: 'custom', path: [variable], message });
}

/** The part of neo4j-driver's Config that decides encryption and trust (structurally compatible). */
export interface Neo4jTrustOptions {
  readonly encrypted?: 'ENCRYPTION_ON';
  readonly trust?: 'TRUST_CUSTOM_CA_SIGNED_CERTIFICATES';
  readonly trustedCertificates?: string[];
}

/** The URI and trust options for neo4j.driver(), from variables that passed `checkNeo4jTls`. */
export function neo4jDriverSettingsOf(v: Pick<Neo4jTlsVariables, 'NEO4J_URI'> & Partial<Neo4jTlsVariables>): { uri: string; options: Neo4jTrustOptions } {
  if (v.NEO4J_TLS_CA_FILE === undefined || tlsOf(v.NEO4J_URI) !== 'verified') return { uri: v.NEO4J_URI, options: {} };
  return {
    uri: v.NEO4J_URI.replace(/^(bolt|neo4j)\+s:/, '$1:'),
    options: { encrypted: 'ENCRYPTION_ON', trust: 'TRUST_CUSTOM_CA_SIGNED_CERTIFICATES', trustedCertificates: [v.NEO4J_TLS_CA_FILE] },
  };
}
