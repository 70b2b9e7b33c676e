/**
 * Assembles a person's export (person-export.ts) for an access request: finds the live profile the
 * request names, reads the graph side (identities with evidence, links, accounts, related profiles)
 * and fetches the profile side from the profiles service. Counted by result, so a failing profiles
 * service shows on a dashboard before a privacy officer reports it
 * (`cdp_identity_privacy_exports_total{result}`: ok, not-found, rejected, profiles-unavailable, failed).
 */
import { normaliseIdentityQuery } from '@cdp/normalisation';
import { counter, type Logger, type Registry } from '@cdp/observability';
import type { IdentityKeyer } from '../resolution/identity-keyer';
import type { RelationsRepository } from '../relations/relations.repository';
import { KEY_PREFIX_LENGTH } from '../resolution/graph-explain';
import type { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import type { ErasureRepository } from './erasure.repository';
import { assemblePersonExport, type GraphIdentity, type PersonExport } from './person-export';
import { ProfilesUnavailable, type ProfilesExportClient } from './profiles-export.client';


export type ExportOutcome = { readonly ok: true; readonly export: PersonExport } | { readonly ok: false; readonly result: 'not-found' } | { readonly ok: false; readonly result: 'profiles-unavailable'; readonly reason: string };

export class PrivacyExportService {
  private readonly exports;

  constructor(
    private readonly repo: ErasureRepository,
    private readonly graph: IdentityGraphRepository,
    private readonly relations: RelationsRepository,
    private readonly keyer: IdentityKeyer,
    private readonly profiles: ProfilesExportClient,
    private readonly phoneRegion: Parameters<typeof normaliseIdentityQuery>[1]['defaultPhoneRegion'],
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.exports = counter(registry, 'cdp_identity_privacy_exports_total', 'Privacy exports (access requests), by result', ['result']);
  }

  /** A request refused before it reached the graph (bad input). */
  rejected(): void {
    this.exports.inc({ result: 'rejected' });
  }

  /** The live profile an identity (graph key) belongs to, if any. */
  profileOfKey(graphKey: string): Promise<string | undefined> {
    return this.repo.profileOf(graphKey);
  }

  /** `undefined`: the request named nobody the graph knows (counted as not found). */
  async exportOf(profileId: string | undefined): Promise<ExportOutcome> {
    try {
      const outcome: ExportOutcome = profileId === undefined ? { ok: false, result: 'not-found' } : await this.assemble(profileId);
      this.exports.inc({ result: outcome.ok ? 'ok' : outcome.result });
      if (!outcome.ok && outcome.result === 'profiles-unavailable') this.logger.warn({ profileId, reason: outcome.reason }, 'privacy export: profiles side unavailable');
      return outcome;
    } catch (err) {
      this.exports.inc({ result: 'failed' });
      throw err;
    }
  }

  private async assemble(profileId: string): Promise<ExportOutcome> {
    const explained = await this.graph.explainProfile(profileId);
    const target = explained && (await this.repo.target(explained.profileId));
    if (!explained || !target) return { ok: false, result: 'not-found' };
    const relations = await this.relations.relationsOf(explained.profileId);
    let answer;
    try {
      answer = await this.profiles.exportOf(explained.profileId);
    } catch (err) {
      if (err instanceof ProfilesUnavailable) return { ok: false, result: 'profiles-unavailable', reason: err.message };
      throw err;
    }
    const document = assemblePersonExport({
      graph: { profileId: explained.profileId, mergedProfileIds: target.mergedProfileIds, identities: explained.identities as GraphIdentity[], links: explained.links, relations },
      profiles: answer.found ? answer.export : undefined,
      keyPrefixOf: (type, value) => this.keyPrefixOf(type, value),
      generatedAt: new Date(),
    });
    return { ok: true, export: document };
  }

  /** A stored value normalises to itself, which gives its match key (as ingestion computed it) and so its graph key. */
  private keyPrefixOf(type: string, value: string): string | undefined {
    const query = normaliseIdentityQuery({ type, value }, { defaultPhoneRegion: this.phoneRegion });
    return query.ok ? this.keyer.pseudonymise(query.identity.type, query.identity.matchKey).slice(0, KEY_PREFIX_LENGTH) : undefined;
  }
}
