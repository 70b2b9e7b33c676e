/**
 * The resolution outbox against the real Neo4j: a redelivered chunk repeats its recorded outcome
 * (same profile ids, same change ids) even after another partition moved the graph on; a MERGE
 * whose outputs were lost is published again by the service on redelivery (where the read-only
 * path used to drop it), with the related profile its B2B placement made; rate-guard quarantines
 * are repeated, not decided again; a chunk prunes only its own partition's entries below its first
 * offset; two instances resolving one chunk at once end with one decision.
 * Each case writes to its own GRAPH_NAMESPACE and deletes only that.
 */
import { randomBytes } from 'node:crypto';
import neo4j, { type Driver } from 'neo4j-driver';
import { identityChangesTopic, identityQuarantineTopic, resolvedEventsTopic, type IdentityChange, type IdentityQuarantine, type ResolvedEvent } from '@cdp/contracts';
import { KafkaPlatform, type HandlerResult } from '@cdp/kafka';
import { createLogger, createRegistry } from '@cdp/observability';
import { testEvent, testIdentity } from '@cdp/testing';
import { identityTestConfig } from '../../test/test-config';
import { ensureGraphSchema } from '../graph/neo4j';
import { ErasedKeys } from '../privacy/erased-keys';
import { RelationsRepository } from '../relations/relations.repository';
import { RelationsService } from '../relations/relations.service';
import { defaultRules } from '../rules/identity-rules';
import type { EventSource, GraphIdentity, Resolution, ResolveRequest } from './graph-types';
import { IdentityGraphRepository } from './identity-graph.repository';
import { ResolutionService } from './resolution.service';

const rules = defaultRules();
let driver: Driver;
const repos: IdentityGraphRepository[] = [];

function repo(ns = `ob-${randomBytes(4).toString('hex')}`): IdentityGraphRepository {
  const r = new IdentityGraphRepository(driver, 'neo4j', ns, rules);
  repos.push(r);
  return r;
}

const id = (ref: string): GraphIdentity => {
  const type = ref.split(':')[0]!;
  return { key: ref, type, designation: type === 'login' ? 'PRIMARY' : 'SECONDARY' };
};
const at = (topic: string, partition: number, offset: number): EventSource => ({ topic, partition, offset: String(offset) });
const req = (eventId: string, occurredAt: number, refs: string[], source?: EventSource): ResolveRequest => ({
  identities: refs.map(id),
  evidence: { eventId, channel: 'website', occurredAt },
  ...(source ? { source } : {}),
});
/** A chunk as the consumer hands it over: the first offset tells which entries are committed. */
const chunk = (g: IdentityGraphRepository, requests: ResolveRequest[]) => g.resolveMany(requests, { committedBelow: requests.flatMap((r) => (r.source ? [r.source] : [])) });
/** What a resolution publishes; the flags say only which path answered. */
const published = (r: Resolution) => ({ profileId: r.profileId, identified: r.identified, newIdentities: r.newIdentities, changes: r.changes, quarantined: r.quarantined, rateQuarantines: r.rateQuarantines });

beforeAll(async () => {
  driver = neo4j.driver(process.env.NEO4J_URI!, neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD ?? 'cdp-local-password'), {
    disableLosslessIntegers: true,
  });
  await ensureGraphSchema(driver, 'neo4j');
});

afterAll(async () => {
  for (const r of repos) await r.deleteNamespace();
  await driver.close();
});

describe('resolution outbox', () => {
  it('repeats a redelivered chunk exactly, even after another partition merged its profile away', async () => {
    const g = repo();
    await chunk(g, [req('e1', 1000, ['visitor_id:v1'], at('in', 0, 0)), req('e2', 2000, ['login:ann'], at('in', 0, 1))]);
    const requests = [
      req('e3', 3000, ['visitor_id:v1', 'login:ann'], at('in', 0, 2)),
      req('e4', 4000, ['email:bob'], at('in', 0, 3)),
      req('e3', 3000, ['visitor_id:v1', 'login:ann'], at('in', 0, 4)), // the same event again: one event
    ];
    const first = await chunk(g, requests);
    const merge = first[0]!.changes;
    expect(merge.map((c) => c.kind)).toEqual(['MERGE']);
    expect(first[2]).toEqual(first[0]);

    // Another partition: an older profile swallows Ann's.
    await chunk(g, [req('x1', 100, ['phone:old'], at('in', 1, 0))]);
    const moved = await chunk(g, [req('x2', 5000, ['phone:old', 'login:ann'], at('in', 1, 1))]);
    expect(moved[0]!.changes.map((c) => [c.kind, c.otherProfileIds])).toEqual([['MERGE', [first[0]!.profileId]]]);

    const again = await chunk(g, requests);
    expect(again.map((r) => r.replayed)).toEqual([true, true, true]);
    expect(again.map(published)).toEqual(first.map(published));
    // Without the outbox the graph now answers with the survivor and no change.
    const fresh = await g.resolve(requests[0]!.identities, requests[0]!.evidence);
    expect(fresh).toMatchObject({ readOnly: true, profileId: moved[0]!.profileId, changes: [] });
  });

  it('repeats the rate-guard quarantines recorded with an event instead of asking the guard again', async () => {
    const g = repo();
    await chunk(g, [req('e1', 1000, ['email:busy', 'login:a'], at('in', 0, 0))]);
    let asked = 0;
    const trip = { rateTrips: () => (asked++, [{ key: 'email:busy', type: 'email', eventsPerMinute: 61, reason: 'collapse-guard' }]), committedBelow: [at('in', 0, 1)] };
    const [first] = await g.resolveMany([req('e2', 2000, ['email:busy', 'login:a'], at('in', 0, 1))], trip);
    expect(asked).toBe(1);
    expect(first!.rateQuarantines.map((q) => [q.notice.key, q.eventsPerMinute])).toEqual([['email:busy', 61]]);
    expect(first!.rateQuarantines[0]!.changes.map((c) => c.kind)).toEqual(['SPLIT']);
    const [again] = await g.resolveMany([req('e2', 2000, ['email:busy', 'login:a'], at('in', 0, 1))], trip);
    expect(asked).toBe(1);
    expect(published(again!)).toEqual(published(first!));
  });

  it('prunes, in a chunk write, only its own partition below the chunk first offset; the sweep removes old entries', async () => {
    const g = repo();
    for (const [topic, partition] of [['in', 0], ['in', 1], ['other', 0]] as const) {
      await chunk(g, [0, 1, 2].map((o) => req(`${topic}-${partition}-${o}`, 1000 + o, [`visitor_id:${topic}${partition}${o}`], at(topic, partition, o))));
    }
    expect((await g.outbox.entries('in', 0)).map((e) => e.offset)).toEqual([0, 1, 2]);
    await chunk(g, [req('n1', 5000, ['visitor_id:new'], at('in', 0, 2))]);
    expect((await g.outbox.entries('in', 0)).map((e) => [e.eventId, e.offset]).sort()).toEqual([
      ['in-0-2', 2],
      ['n1', 2],
    ]);
    expect((await g.outbox.entries('in', 1)).map((e) => e.offset)).toEqual([0, 1, 2]);
    expect((await g.outbox.entries('other', 0)).map((e) => e.offset)).toEqual([0, 1, 2]);

    expect(await g.outbox.deleteOlderThan(0)).toBe(0);
    expect(await g.outbox.deleteOlderThan(Date.now() + 1)).toBe(8);
    expect(await g.outbox.entries('in', 1)).toEqual([]);
  });

  it('ends with one decision when two instances resolve the same chunk at once', async () => {
    const ns = `ob-${randomBytes(4).toString('hex')}`;
    const [a, b] = [repo(ns), repo(ns)];
    await chunk(a, [req('e1', 1000, ['visitor_id:v1'], at('in', 0, 0)), req('e2', 2000, ['login:ann'], at('in', 0, 1))]);
    const requests = [
      req('e3', 3000, ['visitor_id:v1', 'login:ann'], at('in', 0, 2)),
      ...Array.from({ length: 6 }, (_, n) => req(`n${n}`, 4000 + n, [`email:new${n}`, `visitor_id:new${n}`], at('in', 0, 3 + n))),
    ];
    const [ra, rb] = await Promise.all([chunk(a, requests), chunk(b, requests)]);
    expect(rb.map(published)).toEqual(ra.map(published));
    // One of them decided, the other repeated (some events, or all of them).
    expect([...ra, ...rb].some((r) => r.replayed)).toBe(true);
    expect(ra[0]!.changes.map((c) => c.kind)).toEqual(['MERGE']);
    const profiles = await driver.executeQuery('MATCH (p:Profile {ns: $ns}) RETURN count(p) AS n', { ns }, { database: 'neo4j' });
    expect(profiles.records[0]!.get('n')).toBe(2 + 6);
    expect((await a.outbox.entries('in', 0)).map((e) => e.eventId).sort()).toEqual(['e3', 'n0', 'n1', 'n2', 'n3', 'n4', 'n5']);
  });
});

describe('resolution service on redelivery', () => {
  const graphNamespace = `ob-${randomBytes(4).toString('hex')}`;
  const base = identityTestConfig('unused.', graphNamespace);
  // A low events-per-minute limit, so that a short chunk trips the guard.
  const maxPerMinute = 3;
  const config = { ...base, IDENTITY_RULES_FILE: { file: '', rules: { ...rules, collapseGuard: { ...rules.collapseGuard, maxEventsPerMinute: maxPerMinute } } } };
  const logger = createLogger('identity-test', 'silent');
  let service: ResolutionService;

  beforeAll(() => {
    const registry = createRegistry('identity-test', false);
    // Never connected: resolution returns its outputs, the consumer loop publishes them.
    const kafka = new KafkaPlatform({ brokers: config.KAFKA_BROKERS, clientId: 'outbox-test', namespace: 'unused.', logger, registry });
    const graph = repo(graphNamespace);
    const relations = new RelationsService(new RelationsRepository(driver, 'neo4j', graphNamespace), graph, registry, logger);
    service = new ResolutionService(graph, config, registry, logger, kafka, relations, new ErasedKeys(kafka, logger));
  });

  const event = (eventId: string, t: number, ids: ReturnType<typeof testIdentity>[], over = {}) => testEvent(eventId, ids, { occurredAt: t, receivedAt: t, ...over });
  const outputsOf = (result: HandlerResult) => (result.kind === 'ok' ? result.outputs : []);
  const changes = (result: HandlerResult) => outputsOf(result).flatMap((o) => (o.contract === identityChangesTopic ? [o.value as IdentityChange] : []));
  const resolved = (result: HandlerResult) => outputsOf(result).find((o) => o.contract === resolvedEventsTopic)!.value as ResolvedEvent;
  const source = (offset: number): EventSource => at('cdp.events.canonical.v1', 3, offset);

  it('publishes again the MERGE (and the related profile) of an event whose outputs were lost', async () => {
    await service.resolveBatch([event('s1', 1000, [testIdentity('visitor_id', 'v1')]), event('s2', 2000, [testIdentity('login', 'ann', 'PRIMARY')])], [source(0), source(1)]);
    const login = event('s3', 3000, [testIdentity('visitor_id', 'v1'), testIdentity('login', 'ann', 'PRIMARY')], {
      related: [{ kind: 'avatar', identities: [testIdentity('login', 'dragon', 'PRIMARY')] }],
    });
    const [first] = await service.resolveBatch([login], [source(2)]);
    expect(changes(first!).map((c) => c.kind)).toEqual(['MERGE']);
    expect(resolved(first!).related).toEqual([{ kind: 'avatar', profileId: expect.stringMatching(/^p-/) }]);

    // The outputs never reached Kafka: the same record comes again.
    const [again] = await service.resolveBatch([login], [source(2)]);
    expect(changes(again!)).toEqual(changes(first!));
    const { resolvedAt: _a, ...was } = resolved(first!);
    const { resolvedAt: _b, ...is } = resolved(again!);
    expect(is).toEqual(was);
  });

  it('publishes again the rate-guard quarantine of a redelivered event, once', async () => {
    const max = maxPerMinute;
    const busy = testIdentity('email', 'busy@brand.shop');
    const events = Array.from({ length: max + 1 }, (_, n) => event(`r${n}`, 10_000 + n, [busy]));
    const results = await service.resolveBatch(events, events.map((_, n) => source(100 + n)));
    const quarantines = (r: HandlerResult) => outputsOf(r).flatMap((o) => (o.contract === identityQuarantineTopic ? [o.value as IdentityQuarantine] : []));
    expect(results.map((r) => quarantines(r).length)).toEqual([...Array<number>(max).fill(0), 1]);
    const last = events[max]!;
    const [again] = await service.resolveBatch([last], [source(100 + max)]);
    expect(quarantines(again!).map(({ at: _, ...q }) => q)).toEqual(quarantines(results[max]!).map(({ at: _, ...q }) => q));
  });
});
