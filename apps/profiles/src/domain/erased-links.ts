/**
 * An erased person as someone else's linked household member or avatar. The other profile's event
 * named them in a related group (their identities, as typed), identity resolution said which
 * profile that group was (`related[n].profileId`), and the fold made a `linked` entry of it holding
 * those identities. Erasure drops all three: the group and its reference from every stored event,
 * and the link from the folded base (whose events are gone); the profile is then folded again.
 * Only groups resolved to one of the erased ids go: a group that was never linked ('' profile id)
 * was not that person.
 */
import type { FoldedBase, StoredEvent } from './event-log';

/** The event without its related groups that were resolved to an erased id; the same object when it has none. */
export function eventWithoutLinksTo(e: StoredEvent, erased: ReadonlySet<string>): StoredEvent {
  const refs = e.related ?? [];
  const drop = refs.map((r) => erased.has(r.profileId));
  if (!drop.includes(true)) return e;
  const keep = (_: unknown, n: number): boolean => !drop[n];
  return { ...e, event: { ...e.event, related: (e.event.related ?? []).filter(keep) }, related: refs.filter(keep) };
}

/** The base without its links to erased ids; the same object when it has none. */
export function baseWithoutLinksTo(base: FoldedBase | null, erased: ReadonlySet<string>): FoldedBase | null {
  const linked = base?.profile.linked ?? [];
  if (!base || !linked.some((l) => erased.has(l.profileId))) return base;
  return { ...base, profile: { ...base.profile, linked: linked.filter((l) => !erased.has(l.profileId)) } };
}
