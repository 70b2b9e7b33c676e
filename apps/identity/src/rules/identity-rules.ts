/**
 * Identity rules: how each identity type may link people. Loaded once at start-up from a YAML or
 * JSON file (IDENTITY_RULES_FILE) or the built-in defaults, validated with zod, versioned. The
 * clustering (clustering.ts) is the only reader of the linking rules; the resolution service reads
 * the blocked values and the collapse guard.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { IDENTITY_TYPES, type IdentityType } from '@cdp/contracts';
import { BUILT_IN_JUNK_PATTERNS, BUILT_IN_JUNK_VALUES } from '../resolution/junk';

const regex = z.string().refine((p) => {
  try {
    new RegExp(p, 'i');
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

export const typeRuleSchema = z
  .object({
    /** false: recorded on events, never put in the graph, never links anyone (a kiosk's device id). */
    links: z.boolean().default(true),
    /** Higher wins: when two links compete for a unique or limited slot, higher-priority links are placed first. */
    priority: z.number().int().min(0).max(1000),
    /** At most one value of this type per profile (a login): two profiles holding different values never merge. */
    unique: z.boolean().default(false),
    /** At most `max` identities of this type per profile, optionally only counting those first seen within `windowDays` of each other. */
    limit: z.object({ max: z.number().int().min(1), windowDays: z.number().positive().optional() }).strict().optional(),
    /** May a link through this type join two profiles that are both already known (non-anonymous)? */
    mayMerge: z.boolean(),
    /**
     * When links through one identity compete for different profiles: `earliest` keeps the first link
     * by event time (a family email stays with its first owner), `latest` the newest (a recycled
     * phone number follows its new owner), `detach` links none of them (a shared family device).
     */
    onConflict: z.enum(['earliest', 'latest', 'detach']).default('earliest'),
    /**
     * When a link governed by this type (the weaker end of the link) would join two groups that
     * were each seen with names, and with no name in common: `refuse` keeps them apart (a family
     * tablet, a family email typed at a till); `ignore` joins them anyway (a login or a loyalty
     * number outweighs a nickname or a misspelt name).
     */
    differentNames: z.enum(['refuse', 'ignore']).default('refuse'),
    /** Extra blocked values for this type, as case-insensitive regular expressions. */
    blockedPatterns: z.array(regex).default([]),
  })
  .strict();

export const identityRulesSchema = z
  .object({
    version: z.number().int().min(1),
    /** Blocked exact values (any type, case-insensitive), on top of the built-in junk list. */
    blockedValues: z.array(z.string().min(1)).default([]),
    /** Blocked patterns (any type), on top of the built-in ones. */
    blockedPatterns: z.array(regex).default([]),
    types: z.record(z.enum(IDENTITY_TYPES), typeRuleSchema).refine((t) => IDENTITY_TYPES.every((type) => t[type] !== undefined), {
      message: `every identity type needs a rule: ${IDENTITY_TYPES.join(', ')}`,
    }),
    collapseGuard: z
      .object({
        /** An identity that would join more than this many profiles is quarantined. */
        maxProfilesJoined: z.number().int().min(2),
        /** An identity seen in more than this many events in one minute (per instance) is quarantined. */
        maxEventsPerMinute: z.number().int().min(1),
      })
      .strict(),
    /**
     * Which evidence may merge two established profiles (each holding an identity some channel
     * established with confidence: a login, a delivered email, a calling number): `primary` only
     * links from events with a primary identity; `any` also secondary claims (an email typed at a
     * till, which a family may share).
     */
    mergeKnownProfiles: z.enum(['primary', 'any']).default('primary'),
    /** Largest connected group of identities read for one resolution; the walk stops there (the collapse guard should keep components far smaller). */
    maxComponentSize: z.number().int().min(10).default(2000),
  })
  .strict();

export type TypeRule = z.infer<typeof typeRuleSchema>;
export type IdentityRules = z.infer<typeof identityRulesSchema>;

const device = { priority: 20, mayMerge: true, onConflict: 'detach', limit: { max: 50 } } as const;

/** Defaults that fit the SPEC channel table; apps/identity/identity-rules.example.yaml is the same as a file. */
export const DEFAULT_RULES_INPUT = {
  version: 2,
  blockedValues: [],
  blockedPatterns: [],
  types: {
    login: { priority: 100, unique: true, mayMerge: true, differentNames: 'ignore' },
    account_number: { priority: 90, mayMerge: true, limit: { max: 2 }, differentNames: 'ignore' },
    loyalty_number: { priority: 90, mayMerge: true, limit: { max: 2 }, differentNames: 'ignore' },
    email: { priority: 80, mayMerge: true, limit: { max: 5 }, onConflict: 'earliest' },
    phone: { priority: 70, mayMerge: true, limit: { max: 3, windowDays: 365 }, onConflict: 'latest' },
    social_handle: { priority: 50, mayMerge: true, limit: { max: 10 } },
    postal_name_address: { priority: 40, mayMerge: false, limit: { max: 3 } },
    visitor_id: device,
    app_instance_id: device,
    push_token: device,
    name: { links: false, priority: 10, mayMerge: false },
    company_name: { links: false, priority: 10, mayMerge: false },
    postal_company_address: { links: false, priority: 10, mayMerge: false },
    kiosk_device_id: { links: false, priority: 0, mayMerge: false },
  },
  collapseGuard: { maxProfilesJoined: 8, maxEventsPerMinute: 1200 },
  mergeKnownProfiles: 'any',
  maxComponentSize: 2000,
};

export class RulesError extends Error {}

export function parseRules(input: unknown, source: string): IdentityRules {
  const parsed = identityRulesSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new RulesError(`invalid identity rules in ${source}: ${issues}`);
  }
  return parsed.data;
}

/** The rules in `file` (YAML or JSON), or the built-in defaults when no file is given. */
export function loadRules(file: string | undefined): IdentityRules {
  if (!file) return parseRules(DEFAULT_RULES_INPUT, 'built-in defaults');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RulesError(`cannot read identity rules file ${file}: ${(err as Error).message}`);
  }
  let input: unknown;
  try {
    input = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new RulesError(`identity rules file ${file} is not YAML or JSON: ${(err as Error).message}`);
  }
  return parseRules(input, file);
}

export const defaultRules = (): IdentityRules => loadRules(undefined);

/** Decides whether a value may link anyone: built-in junk, configured values and patterns. */
export class BlockList {
  private readonly values: Set<string>;
  private readonly patterns: readonly RegExp[];
  private readonly perType: ReadonlyMap<string, readonly RegExp[]>;

  constructor(rules: IdentityRules) {
    this.values = new Set([...BUILT_IN_JUNK_VALUES, ...rules.blockedValues.map((v) => v.trim().toLowerCase())]);
    this.patterns = [...BUILT_IN_JUNK_PATTERNS, ...rules.blockedPatterns.map((p) => new RegExp(p, 'i'))];
    this.perType = new Map(Object.entries(rules.types).map(([type, rule]) => [type, rule.blockedPatterns.map((p) => new RegExp(p, 'i'))]));
  }

  isBlocked(type: string, value: string): boolean {
    const v = value.trim().toLowerCase();
    return this.values.has(v) || this.patterns.some((p) => p.test(v)) || (this.perType.get(type) ?? []).some((p) => p.test(v));
  }
}

export function ruleOf(rules: IdentityRules, type: string): TypeRule {
  return rules.types[type as IdentityType] ?? { links: false, priority: 0, unique: false, mayMerge: false, onConflict: 'detach', differentNames: 'refuse', blockedPatterns: [] };
}
