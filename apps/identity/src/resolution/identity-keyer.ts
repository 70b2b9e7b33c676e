/**
 * Which identities of an event may link, and under which graph keys: types whose rule says they
 * never link (a kiosk's device id) and blocked values (junk) are left out; the rest are
 * pseudonymised with HMAC-SHA-256 so the graph never holds raw values; erased identities (the
 * suppression list) are left out too, so they never come back, not even on replay. No I/O.
 */
import { createHmac } from 'node:crypto';
import type { CanonicalEvent } from '@cdp/contracts';
import { BlockList, ruleOf, type IdentityRules } from '../rules/identity-rules';
import type { GraphIdentity } from './identity-graph.repository';

/** Graph keys that must never be linked again (erased on request). */
export interface Suppressed {
  has(key: string): boolean;
}

const NONE: Suppressed = { has: () => false };

export class IdentityKeyer {
  private readonly blocked: BlockList;

  constructor(
    private readonly hmacKey: string,
    private readonly rules: IdentityRules,
    private readonly suppressed: Suppressed = NONE,
  ) {
    this.blocked = new BlockList(rules);
  }

  pseudonymise(type: string, matchKey: string): string {
    return createHmac('sha256', this.hmacKey).update(`${type}\u0000${matchKey}`).digest('hex');
  }

  /** Why an identity never links, or undefined when it may. */
  skipReason(type: string, matchKey: string): 'never-links' | 'junk' | undefined {
    if (!ruleOf(this.rules, type).links) return 'never-links';
    if (this.blocked.isBlocked(type, matchKey)) return 'junk';
    return undefined;
  }

  /** Graph key per identity of the event, "" for those never linked (blocked values, shared devices, erased). */
  keysOf(event: CanonicalEvent): string[] {
    return event.identities.map((i) => {
      if (this.skipReason(i.type, i.matchKey)) return '';
      const key = this.pseudonymise(i.type, i.matchKey);
      return this.suppressed.has(key) ? '' : key;
    });
  }

  /** The event without its erased identities (the same object when it has none). */
  withoutErased(event: CanonicalEvent, onErased: (type: string) => void = () => undefined): CanonicalEvent {
    const keep = (i: CanonicalEvent['identities'][number]): boolean => {
      if (!this.suppressed.has(this.pseudonymise(i.type, i.matchKey))) return true;
      onErased(i.type);
      return false;
    };
    const identities = event.identities.filter(keep);
    const related = (event.related ?? []).map((g) => ({ ...g, identities: g.identities.filter(keep) }));
    const changed = identities.length !== event.identities.length || related.some((g, n) => g.identities.length !== event.related![n]!.identities.length);
    return changed ? { ...event, identities, related } : event;
  }

  linkable(event: CanonicalEvent, onSkip: (type: string, reason: string) => void = () => undefined): GraphIdentity[] {
    return event.identities.flatMap((i) => {
      const reason = this.skipReason(i.type, i.matchKey);
      if (reason) {
        onSkip(i.type, reason);
        return [];
      }
      const key = this.pseudonymise(i.type, i.matchKey);
      if (this.suppressed.has(key)) {
        onSkip(i.type, 'erased');
        return [];
      }
      return [{ key, type: i.type, designation: i.designation }];
    });
  }
}
