/**
 * The one file a person (or their privacy officer) gets for an access request: everything the
 * platform holds about them, across services, in one JSON document with a format name and version.
 * Pure: the graph side and the profiles side go in, the document comes out; export.service.ts
 * gathers the two. Identities are listed as the profile holds them (the person's own values)
 * with the graph's evidence for each, joined by key prefix, the only form the graph shows.
 */
import type { ProfileRelations } from '../relations/relations.repository';
import { KEY_PREFIX_LENGTH } from '../resolution/graph-explain';
import type { ProfilesExport } from './profiles-export.client';

export const PERSON_EXPORT_FORMAT = 'cdp.person-export';
export const PERSON_EXPORT_VERSION = 1;

/** One identity in the graph, as explain shows it (key prefix, never the whole HMAC). */
export interface GraphIdentity {
  readonly keyPrefix: string;
  readonly type: string;
  readonly designation?: string;
  readonly firstSeen?: number;
  readonly lastSeen?: number;
  readonly quarantined?: boolean;
  readonly linkedBy?: { eventId?: string | null; channel?: string | null; at?: number | null };
}

export interface GraphSide {
  readonly profileId: string;
  readonly mergedProfileIds: readonly string[];
  readonly identities: readonly GraphIdentity[];
  readonly links: readonly unknown[];
  readonly relations: ProfileRelations;
}

interface HeldIdentity {
  readonly type: string;
  readonly value: string;
  readonly designation?: string;
  readonly firstSeen?: number;
  readonly lastSeen?: number;
  readonly channels?: readonly string[];
}

export interface ExportInput {
  readonly graph: GraphSide;
  /** Undefined when the profiles service does not hold the profile (not materialised yet, or already erased there). */
  readonly profiles: ProfilesExport | undefined;
  /** The graph key prefix of a held identity (type and value as the profile stores them); undefined when it cannot be computed. */
  readonly keyPrefixOf: (type: string, value: string) => string | undefined;
  readonly generatedAt: Date;
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The profiles service keeps each event with the graph keys of its identities. Whole keys are what
 * the graph and the erasure list recognise a person by, and are never handed out (docs/security.md,
 * explain): the export shows their prefixes, as explain does.
 */
function withKeyPrefixes(stored: unknown): unknown {
  if (typeof stored !== 'object' || stored === null || !('keys' in stored)) return stored;
  const { keys, ...rest } = stored as { keys: unknown };
  return { ...rest, identityKeyPrefixes: list(keys).map((k) => (typeof k === 'string' ? k.slice(0, KEY_PREFIX_LENGTH) : k)) };
}

export function assemblePersonExport({ graph, profiles, keyPrefixOf, generatedAt }: ExportInput) {
  const profile = profiles?.profile;
  const held = list(profile?.identities) as HeldIdentity[];
  const byPrefix = new Map(graph.identities.map((i) => [i.keyPrefix, i]));
  const matched = new Set<string>();
  const identities = held.map((i) => {
    const prefix = keyPrefixOf(i.type, i.value);
    const inGraph = prefix === undefined ? undefined : byPrefix.get(prefix);
    if (inGraph) matched.add(inGraph.keyPrefix);
    return { ...i, graph: inGraph ? { keyPrefix: inGraph.keyPrefix, designation: inGraph.designation, quarantined: inGraph.quarantined ?? false, linkedBy: inGraph.linkedBy ?? null } : null };
  });
  // In the graph but not (or no longer) on the profile: still held, by key only.
  const graphOnly = graph.identities.filter((i) => !matched.has(i.keyPrefix));
  const mergedProfileIds = [...new Set([...graph.mergedProfileIds, ...(profiles?.mergedProfileIds ?? [])])].sort();
  const consents = list(profile?.consents);
  const events = (profiles?.events ?? []).map(withKeyPrefixes);
  return {
    format: PERSON_EXPORT_FORMAT,
    version: PERSON_EXPORT_VERSION,
    generatedAt: generatedAt.toISOString(),
    subject: { profileId: graph.profileId, mergedProfileIds },
    summary: {
      identities: identities.length + graphOnly.length,
      events: events.length,
      foldedEvents: (profiles?.foldedEvents as { events?: number } | null | undefined)?.events ?? 0,
      traits: list(profile?.traits).length,
      consents: consents.length,
      links: graph.links.length,
      accounts: graph.relations.accounts.length,
      related: graph.relations.related.length,
      channels: list(profile?.channels).map((c) => (c as { channel: string }).channel),
      stage: (profile?.stage as string | undefined) ?? null,
    },
    identities,
    identitiesByKeyOnly: graphOnly,
    consents,
    events,
    foldedEvents: profiles?.foldedEvents ?? null,
    profile: profile ?? null,
    graph: { identities: graph.identities, links: graph.links, accounts: graph.relations.accounts, related: graph.relations.related },
    sources: [
      { service: 'identity', store: 'Neo4j identity graph', status: 'ok' },
      { service: 'profiles', store: 'profile store and its changelog', status: profiles ? 'ok' : 'not_held' },
    ],
  };
}

export type PersonExport = ReturnType<typeof assemblePersonExport>;
