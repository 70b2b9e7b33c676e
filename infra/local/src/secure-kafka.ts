/**
 * The secure Kafka's credentials and trust: one random password per user (kept, since the broker's
 * SCRAM store must match them), a CA and broker certificate made by openssl at every start, the
 * per-service users and ACLs of kafka/service-acls.json (applied by kafka/SecureSetup.java through
 * the admin user: kafkajs cannot create SCRAM credentials), and the settings clients connect with.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST, type InfraConfig, type SecureConfig } from './config';
import { readText } from './files';
import { InfraError } from './infra-error';

export const ADMIN_USER = 'admin';
/** The KRaft controller's own static PLAIN user (SCRAM users live in the log the controller serves). */
export const CONTROLLER_USER = 'controller';
export const SASL_MECHANISM = 'scram-sha-512';

export interface ServiceAcl {
  readonly resource: 'topic' | 'group' | 'transactional_id';
  readonly pattern: 'literal' | 'prefixed';
  /** `{ns}` stands for the TOPIC_NAMESPACE the ACL is granted for. */
  readonly name: string;
  readonly operations: readonly string[];
}

/** Service name -> its Kafka user and ACLs. */
export type ServiceAclTable = Readonly<Record<string, { readonly user: string; readonly acls: readonly ServiceAcl[] }>>;

export interface SecureKafkaConnection {
  readonly kafkaBrokers: string;
  readonly ssl: true;
  readonly caFile: string;
  readonly saslMechanism: typeof SASL_MECHANISM;
  readonly admin: { readonly username: string; readonly passwordFile: string };
  readonly users: Readonly<Record<string, { readonly username: string; readonly passwordFile: string }>>;
}

export function serviceAclTable(sec: SecureConfig): ServiceAclTable {
  return (JSON.parse(readFileSync(sec.acls, 'utf8')) as { services: ServiceAclTable }).services;
}

export function passwordFile(sec: SecureConfig, user: string): string {
  return join(sec.passwords, `${user}.password`);
}

export function readPassword(sec: SecureConfig, user: string): string {
  const value = readText(passwordFile(sec, user));
  if (value === null) throw new InfraError(`secure kafka: no password for ${user} in ${sec.passwords}`);
  return value.trim();
}

/** The admin password, or null before the first secure start made it. */
export function adminPasswordIfAny(sec: SecureConfig): string | null {
  return readText(passwordFile(sec, ADMIN_USER))?.trim() ?? null;
}

/** One random password per user, made once and kept. */
export function ensurePasswords(sec: SecureConfig): void {
  mkdirSync(sec.passwords, { recursive: true, mode: 0o700 });
  const users = [ADMIN_USER, CONTROLLER_USER, ...Object.values(serviceAclTable(sec)).map((s) => s.user)];
  for (const user of users) {
    const file = passwordFile(sec, user);
    if (!existsSync(file)) writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  }
}

function openssl(sec: SecureConfig, args: readonly string[], what: string): void {
  const r = spawnSync(sec.openssl, args, { encoding: 'utf8', timeout: 60_000, cwd: sec.dir });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new InfraError('secure kafka: openssl not found; install it or set CDP_INFRA_OPENSSL');
  if (r.status !== 0) throw new InfraError(`secure kafka: openssl failed to ${what} (exit ${r.status})`, `${r.stderr ?? ''}`.trim() || undefined);
}

/**
 * A fresh CA and broker certificate at every start (valid 30 days): nothing long-lived to leak, and
 * clients take the CA from ca.pem. The broker certificate names 127.0.0.1 and localhost.
 */
export function makeCertificates(sec: SecureConfig): void {
  mkdirSync(sec.dir, { recursive: true, mode: 0o700 });
  const brokerKey = join(sec.dir, 'broker.key');
  const brokerCsr = join(sec.dir, 'broker.csr');
  const brokerCert = join(sec.dir, 'broker.pem');
  const ext = join(sec.dir, 'broker-ext.cnf');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl(sec, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', sec.caKey, '-out', sec.caFile, '-days', '30', '-subj', '/CN=cdp-local-secure-kafka-ca'], 'make the CA');
  openssl(sec, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', brokerKey, '-out', brokerCsr, '-subj', '/CN=localhost'], 'make the broker key');
  openssl(sec, ['x509', '-req', '-in', brokerCsr, '-CA', sec.caFile, '-CAkey', sec.caKey, '-CAcreateserial', '-out', brokerCert, '-days', '30', '-extfile', ext], 'sign the broker certificate');
  // Kafka's PEM key store: the PKCS#8 key (unencrypted, so no ssl.key.password) then the chain.
  writeFileSync(sec.keystore, `${readText(brokerKey)}${readText(brokerCert)}${readText(sec.caFile)}`, { mode: 0o600 });
  for (const f of [brokerKey, brokerCsr]) rmSync(f, { force: true });
}

/** The ACL plan lines (see kafka/SecureSetup.java) of every service for one topic namespace. */
export function serviceAclPlan(table: ServiceAclTable, namespace: string): string[] {
  return Object.values(table).flatMap(({ user, acls }) =>
    acls.flatMap((acl) => acl.operations.map((op) => ['acl', `User:${user}`, acl.resource, acl.pattern, acl.name.replaceAll('{ns}', namespace), op].join('\t'))),
  );
}

/** `''` (no namespace) or lower-case letters, digits and dashes with a trailing dot. */
export function isTopicNamespace(namespace: string): boolean {
  return /^([a-z0-9-]+\.)?$/.test(namespace);
}

/** Creates (upserts) the SCRAM users and the ACLs of the given namespaces through the admin user. */
export async function runSecureSetup(cfg: InfraConfig, sec: SecureConfig, namespaces: readonly string[], o: { users: boolean }): Promise<string> {
  writeFileSync(
    sec.clientProperties,
    [
      `bootstrap.servers=${HOST}:${cfg.kafka.port}`,
      'security.protocol=SASL_SSL',
      'sasl.mechanism=SCRAM-SHA-512',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${ADMIN_USER}" password="${readPassword(sec, ADMIN_USER)}";`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${sec.caFile}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const table = serviceAclTable(sec);
  const plan = [
    ...(o.users ? Object.values(table).map(({ user }) => ['user', user, readPassword(sec, user)].join('\t')) : []),
    ...namespaces.flatMap((ns) => serviceAclPlan(table, ns)),
  ];
  const planFile = join(sec.dir, `plan-${process.pid}.tsv`);
  writeFileSync(planFile, `${plan.join('\n')}\n`, { mode: 0o600 });
  try {
    // The authorizer answers a moment after the listener does: a few tries.
    let output = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      const r = spawnSync(
        cfg.java,
        [`-Dlog4j2.configurationFile=${cfg.kafka.log4jConfig}`, '-cp', join(cfg.kafka.jarDir, '*'), sec.setupLauncher, sec.clientProperties, planFile],
        { encoding: 'utf8', timeout: 120_000 },
      );
      if (r.status === 0 && /SECURE_SETUP_DONE/.test(r.stdout)) return r.stdout.trim();
      output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
      await new Promise((res) => setTimeout(res, 1000 * attempt));
    }
    throw new InfraError('secure kafka: could not create users and ACLs', output || undefined);
  } finally {
    rmSync(planFile, { force: true });
  }
}

/** Connection settings of the secure broker: the CA, the mechanism, and a user per service. */
export function secureKafkaConnection(cfg: InfraConfig, sec: SecureConfig): SecureKafkaConnection {
  const table = existsSync(sec.acls) ? serviceAclTable(sec) : {};
  const users = Object.fromEntries(Object.entries(table).map(([service, { user }]) => [service, { username: user, passwordFile: passwordFile(sec, user) }]));
  return {
    kafkaBrokers: `${HOST}:${cfg.kafka.port}`,
    ssl: true,
    caFile: sec.caFile,
    saslMechanism: SASL_MECHANISM,
    admin: { username: ADMIN_USER, passwordFile: passwordFile(sec, ADMIN_USER) },
    users,
  };
}
