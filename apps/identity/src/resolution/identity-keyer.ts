/**
 * Which identities of an event may link, and under which graph keys: types whose rule says they
 * never link (a kiosk's device id) and blocked values (junk) are left out; the rest are
 * pseudonymised with HMAC-SHA-256 so the graph never holds raw values; erased identities (the
 * suppression list) are left out too, so they never come back, not even on replay. Names never
 * link, but their keys are kept to tell people apart (clustering.ts). No I/O.
 */
import { createHmac } from 'node:crypto';
import type { CanonicalEvent } from '@cdp/contracts';
import { BlockList, ruleOf, type IdentityRules } from '../rules/identity-rules';
import type { GraphIdentity } from './graph-types';

/** Graph keys that must never be linked again (erased on request). */
export interface Suppressed {
  has(key: string): boolean;
}

const NONE: Suppressed = { has: () => false };

/** The identity type whose values tell people apart without linking them. */
const NAME_TYPE = 'name';

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

  /**
   * One pass over an event for resolution, one keyed hash per identity: the event without its
   * erased identities (they go no further: not into the graph, not onto any profile), the graph key
   * of each identity it keeps ("" where it never links), those that may link, and the keys of the
   * names it carries (junk and erased names left out).
   */
  prepare(event: CanonicalEvent, onSkip: (type: string, reason: string) => void = () => undefined): { event: CanonicalEvent; keys: string[]; linkable: GraphIdentity[]; names: string[] } {
    const keys: string[] = [];
    const linkable: GraphIdentity[] = [];
    const names = new Set<string>();
    const kept = event.identities.filter((i) => {
      const reason = this.skipReason(i.type, i.matchKey);
      if (i.type === NAME_TYPE && i.matchKey !== '' && !this.blocked.isBlocked(i.type, i.matchKey)) {
        const key = this.pseudonymise(i.type, i.matchKey);
        if (this.suppressed.has(key)) {
          onSkip(i.type, 'erased');
          return false;
        }
        names.add(key);
      }
      if (reason) {
        onSkip(i.type, reason);
        keys.push('');
        return true;
      }
      const key = this.pseudonymise(i.type, i.matchKey);
      if (this.suppressed.has(key)) {
        onSkip(i.type, 'erased');
        return false;
      }
      keys.push(key);
      linkable.push({ key, type: i.type, designation: i.designation });
      return true;
    });
    const related = (event.related ?? []).map((g) => ({ ...g, identities: g.identities.filter((i) => !this.suppressed.has(this.pseudonymise(i.type, i.matchKey))) }));
    const changed = kept.length !== event.identities.length || related.some((g, n) => g.identities.length !== event.related![n]!.identities.length);
    return { event: changed ? { ...event, identities: kept, related } : event, keys, linkable, names: [...names].sort() };
  }

  linkable(event: CanonicalEvent, onSkip: (type: string, reason: string) => void = () => undefined): GraphIdentity[] {
    return this.prepare(event, onSkip).linkable;
  }
}
