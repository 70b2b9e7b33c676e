/**
 * After an event is placed in a profile: puts that profile in the B2B account the event names,
 * and resolves each related group (an avatar, a household member) to a profile of its own, linked
 * to the event's profile and never merged with it. The related group's identities are resolved
 * on their own, so no LINKED edge ever joins them to the event's identities. `related` has one
 * entry per group, in order; profileId "" where a group could not be linked (nothing linkable,
 * or its identities already belong to the event's profile).
 *
 * A related group's resolution is recorded in the outbox under `<eventId>#related-<n>` in the
 * same Neo4j transaction as its graph change, so a redelivered event whose placement was not
 * recorded yet (a crash between the two) repeats that group's first outcome and publishes its
 * changes again, instead of finding nothing new. Accounts and RELATED edges are MERGEd: placing
 * again makes the same ones.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { AccountRef, CanonicalEvent, IdentityChange, RelatedProfileRef } from '@cdp/contracts';
import { counter, type Logger, type Registry } from '@cdp/observability';
import { LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import type { EventSource, Evidence, QuarantineNotice } from '../resolution/graph-types';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import type { IdentityKeyer } from '../resolution/identity-keyer';
import { accountClaimOf } from './account-claims';
import { RelationsRepository } from './relations.repository';

/** The outbox key of the n-th related group's resolution of an event. */
export function relatedOutboxKey(eventId: string, n: number): string {
  return `${eventId}#related-${n}`;
}

export interface Placement {
  readonly accounts: AccountRef[];
  readonly related: RelatedProfileRef[];
  readonly changes: IdentityChange[];
  readonly quarantined: QuarantineNotice[];
}

@Injectable()
export class RelationsService {
  private readonly placements;
  private readonly relations;

  constructor(
    private readonly repo: RelationsRepository,
    private readonly graph: IdentityGraphRepository,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.placements = counter(registry, 'cdp_identity_account_placements_total', 'Events that placed their profile in a B2B account', ['key']);
    this.relations = counter(registry, 'cdp_identity_relations_total', 'Related groups (avatar, household) on events, by outcome', ['kind', 'result']);
  }

  async place(event: CanonicalEvent, profileId: string, keyer: IdentityKeyer, ev: Evidence, source?: EventSource): Promise<Placement> {
    const placement: Placement = { accounts: [], related: [], changes: [], quarantined: [] };
    if (profileId === '') {
      for (const group of event.related ?? []) {
        this.relations.inc({ kind: group.kind, result: 'no-profile' });
        placement.related.push({ kind: group.kind, profileId: '' });
      }
      return placement;
    }
    const claim = accountClaimOf(event);
    if (claim) {
      placement.accounts.push(await this.repo.placeInAccount(profileId, claim, ev));
      this.placements.inc({ key: claim.keys[0]!.kind });
    }
    for (const [n, group] of (event.related ?? []).entries()) {
      const ids = keyer.linkable({ ...event, identities: group.identities }, () => undefined);
      if (ids.length === 0) {
        this.relations.inc({ kind: group.kind, result: 'nothing-linkable' });
        placement.related.push({ kind: group.kind, profileId: '' });
        continue;
      }
      const [other] = await this.graph.resolveMany([{ identities: ids, evidence: ev, ...(source ? { source, outboxKey: relatedOutboxKey(event.eventId, n) } : {}) }]);
      placement.changes.push(...other.changes);
      placement.quarantined.push(...other.quarantined);
      if (other.profileId === '' || other.profileId === profileId) {
        // Already one profile (or all quarantined): separating them is an operator's unlink.
        this.relations.inc({ kind: group.kind, result: other.profileId === '' ? 'nothing-linkable' : 'same-profile' });
        this.logger.warn({ eventId: event.eventId, kind: group.kind, result: 'not-linked' }, 'related identities not linked as a separate profile');
        placement.related.push({ kind: group.kind, profileId: '' });
        continue;
      }
      await this.repo.relate(profileId, other.profileId, group.kind, ev);
      placement.related.push({ kind: group.kind, profileId: other.profileId });
      this.relations.inc({ kind: group.kind, result: 'linked' });
    }
    return placement;
  }
}
