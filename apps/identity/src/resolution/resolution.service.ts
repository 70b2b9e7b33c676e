/**
 * Resolves a canonical event to a profile: drops junk and never-linking identities (a kiosk's
 * shared device id), pseudonymises the rest with a keyed hash (the graph never holds raw values),
 * and asks the graph repository for the placement. Returns a HandlerResult, never throws for data.
 */
import { createHmac } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { identityChangesTopic, resolvedEventsTopic, type CanonicalEvent, type ResolvedEvent } from '@cdp/contracts';
import { ok, output, type HandlerResult } from '@cdp/kafka';
import { counter, type Registry } from '@cdp/observability';
import { METRICS_REGISTRY } from '@cdp/nest-platform';
import type { IdentityConfig } from '../config';
import { IDENTITY_CONFIG } from '../tokens';
import { IdentityGraphRepository, type GraphIdentity } from './identity-graph.repository';
import { isJunk } from './junk';

/** Identity types recorded on events but never used to link people (shared devices). */
const NEVER_LINK = new Set(['kiosk_device_id']);

@Injectable()
export class ResolutionService {
  private readonly skipped;
  private readonly changes;

  constructor(
    private readonly graph: IdentityGraphRepository,
    @Inject(IDENTITY_CONFIG) private readonly config: IdentityConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.skipped = counter(registry, 'cdp_identity_values_skipped_total', 'Identity values not used for linking', ['type', 'reason']);
    this.changes = counter(registry, 'cdp_identity_changes_total', 'Merges, splits and refused merges', ['kind']);
  }

  pseudonymise(type: string, matchKey: string): string {
    return createHmac('sha256', this.config.IDENTITY_HMAC_KEY).update(`${type}\u0000${matchKey}`).digest('hex');
  }

  /** Graph key per identity of the event, "" for those never linked (junk, shared devices). */
  keysOf(event: CanonicalEvent): string[] {
    return event.identities.map((i) => (NEVER_LINK.has(i.type) || isJunk(i.matchKey) ? '' : this.pseudonymise(i.type, i.matchKey)));
  }

  linkable(event: CanonicalEvent): GraphIdentity[] {
    return event.identities.flatMap((i) => {
      if (NEVER_LINK.has(i.type)) {
        this.skipped.inc({ type: i.type, reason: 'shared-device' });
        return [];
      }
      if (isJunk(i.matchKey)) {
        this.skipped.inc({ type: i.type, reason: 'junk' });
        return [];
      }
      return [{ key: this.pseudonymise(i.type, i.matchKey), type: i.type, designation: i.designation }];
    });
  }

  async resolve(event: CanonicalEvent): Promise<HandlerResult> {
    const identities = this.linkable(event);
    if (identities.length === 0) {
      // Still published (profileId "") so that activity KPIs count it as unidentified activity.
      const unresolved: ResolvedEvent = { event, profileId: '', identified: false, resolvedAt: Date.now(), newIdentities: 0, identityKeys: event.identities.map(() => '') };
      return ok([output(resolvedEventsTopic, event.eventId, unresolved)]);
    }
    const resolution = await this.graph.resolve(identities, { eventId: event.eventId, channel: event.channel, occurredAt: event.occurredAt });
    for (const change of resolution.changes) this.changes.inc({ kind: change.kind });
    const resolved: ResolvedEvent = {
      event,
      profileId: resolution.profileId,
      identified: resolution.identified,
      resolvedAt: Date.now(),
      newIdentities: resolution.newIdentities,
      identityKeys: this.keysOf(event),
    };
    return ok([
      ...resolution.changes.map((c) => output(identityChangesTopic, c.survivorProfileId, c)),
      output(resolvedEventsTopic, resolution.profileId, resolved),
    ]);
  }
}
