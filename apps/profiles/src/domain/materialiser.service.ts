/**
 * Applies resolved events and identity changes to profiles and returns the profile updates to
 * publish: the full profile on every change, tombstones for merged-away ids.
 */
import { Inject, Injectable } from '@nestjs/common';
import { profileUpdatesTopic, type IdentityChange, type Profile, type ResolvedEvent } from '@cdp/contracts';
import { ok, output, type HandlerResult } from '@cdp/kafka';
import { counter, type Registry } from '@cdp/observability';
import { METRICS_REGISTRY } from '@cdp/nest-platform';
import { applyEvent, emptyProfile, mergeProfiles } from './profile-builder';
import { ProfileStore } from './profile-store';

@Injectable()
export class MaterialiserService {
  private readonly updates;

  constructor(
    private readonly store: ProfileStore,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.updates = counter(registry, 'cdp_profile_updates_total', 'Profile updates published', ['cause']);
  }

  onResolved(resolved: ResolvedEvent): HandlerResult {
    if (!resolved.profileId) return ok();
    const id = this.store.canonicalId(resolved.profileId);
    const current = this.store.get(id) ?? emptyProfile(id, resolved.event.occurredAt);
    const next = applyEvent(current, resolved.event, Date.now());
    this.store.put(next);
    this.updates.inc({ cause: 'event' });
    return ok([output(profileUpdatesTopic, next.profileId, next)]);
  }

  onChange(change: IdentityChange): HandlerResult {
    if (change.kind !== 'MERGE') return ok();
    const survivorId = this.store.canonicalId(change.survivorProfileId);
    const others = change.otherProfileIds
      .map((id) => this.store.canonicalId(id))
      .filter((id) => id !== survivorId)
      .map((id) => this.store.get(id))
      .filter((p): p is Profile => p !== undefined);
    const survivor = this.store.get(survivorId) ?? emptyProfile(survivorId, change.evidence.occurredAt);
    const merged = mergeProfiles(survivor, others, Date.now());
    merged.mergedProfileIds = [...new Set([...merged.mergedProfileIds, ...change.otherProfileIds])].sort();
    for (const o of others) this.store.remove(o.profileId, survivorId);
    this.store.put(merged);
    this.updates.inc({ cause: 'merge' });
    return ok([
      output(profileUpdatesTopic, merged.profileId, merged),
      ...others.map((o) => output<Profile>(profileUpdatesTopic, o.profileId, null)),
    ]);
  }
}
