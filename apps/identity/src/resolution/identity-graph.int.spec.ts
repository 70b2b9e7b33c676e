/**
 * The identity graph against the real Neo4j: merge, refusal, splits on unlink and removal with
 * their parts, the evidence chain, the read-only path, names that keep people apart, and order
 * independence (a property test with fast-check: the same events, with names, shuffled, duplicated
 * and late end in the same grouping).
 * Each case writes to its own GRAPH_NAMESPACE and deletes only that.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import neo4j, { type Driver } from 'neo4j-driver';
import { defaultRules } from '../rules/identity-rules';
import { ensureGraphSchema } from '../graph/neo4j';
import type { GraphIdentity } from './graph-types';
import { IdentityGraphRepository } from './identity-graph.repository';

const rules = defaultRules();
let driver: Driver;
const repos: IdentityGraphRepository[] = [];

function repo(): IdentityGraphRepository {
  const r = new IdentityGraphRepository(driver, 'neo4j', `it-${randomBytes(4).toString('hex')}`, rules);
  repos.push(r);
  return r;
}

/** Readable fake keys: the repository never sees raw values, only keys; tests name them by `type:label`. */
const id = (ref: string): GraphIdentity => {
  const [type, label] = ref.split(':') as [string, string];
  const designation = type === 'login' ? 'PRIMARY' : 'SECONDARY';
  return { key: `${type}:${label}`, type, designation };
};
const ev = (eventId: string, occurredAt: number, channel = 'website') => ({ eventId, channel, occurredAt });

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

describe('identity graph repository', () => {
  it('merges an anonymous profile into a known one through a login, then answers a repeat without writing', async () => {
    const g = repo();
    const anon = await g.resolve([id('visitor_id:v1')], ev('e1', 1000));
    const known = await g.resolve([id('email:ann')], ev('e2', 2000, 'email'));
    expect(anon.identified).toBe(false);
    expect(known.profileId).not.toBe(anon.profileId);

    const login = await g.resolve([id('visitor_id:v1'), id('login:ann'), id('email:ann')], ev('e3', 3000));
    expect(login.profileId).toBe(anon.profileId); // the oldest profile survives
    expect(login.identified).toBe(true);
    expect(login.newIdentities).toBe(1);
    expect(login.changes.map((c) => [c.kind, c.survivorProfileId, c.otherProfileIds])).toEqual([['MERGE', anon.profileId, [known.profileId]]]);

    const repeat = await g.resolve([id('visitor_id:v1'), id('login:ann')], ev('e4', 4000));
    expect(repeat).toMatchObject({ readOnly: true, profileId: anon.profileId, identified: true, changes: [] });
    expect(await g.grouping()).toEqual([['email:ann', 'login:ann', 'visitor_id:v1']]);
  });

  it('refuses to merge two profiles holding different logins and records it once', async () => {
    const g = repo();
    const mum = await g.resolve([id('login:mum'), id('email:family')], ev('e1', 1000));
    const dad = await g.resolve([id('login:dad'), id('email:family')], ev('e2', 2000));
    expect(dad.profileId).not.toBe(mum.profileId);
    expect(dad.changes).toEqual([expect.objectContaining({ kind: 'REFUSED_MERGE', reason: 'profiles hold different login' })]);
    const again = await g.resolve([id('login:dad'), id('email:family')], ev('e3', 3000));
    expect(again.changes).toEqual([]);
    expect(await g.grouping()).toEqual([['email:family', 'login:mum'], ['login:dad']]);
  });

  it('splits when a link is cut, naming every part with its identity keys, and explains what still holds', async () => {
    const g = repo();
    const first = await g.resolve([id('login:a'), id('email:a')], ev('e1', 1000));
    await g.resolve([id('email:a'), id('phone:a')], ev('e2', 2000, 'store'));
    await g.resolve([id('phone:a'), id('visitor_id:a')], ev('e3', 3000));

    const why = await g.explainLink('login:a', 'visitor_id:a');
    expect(why).toMatchObject({ sameProfile: true, profileId: first.profileId });
    expect(why!.chain).toHaveLength(3);
    expect(why!.chain.map((l) => (l as { eventId: string }).eventId).sort()).toEqual(['e1', 'e2', 'e3']);

    const cut = await g.unlink('email:a', 'phone:a', 'test');
    expect(cut.found).toBe(true);
    const split = cut.changes.find((c) => c.kind === 'SPLIT')!;
    expect(split.survivorProfileId).toBe(first.profileId);
    const parts = Object.fromEntries(split.parts.map((p) => [p.profileId, p.identityKeys]));
    expect(parts[first.profileId]).toEqual(['email:a', 'login:a']);
    expect(parts[split.otherProfileIds[0]!]).toEqual(['phone:a', 'visitor_id:a']);
    expect(await g.grouping()).toEqual([['email:a', 'login:a'], ['phone:a', 'visitor_id:a']]);
    expect(await g.explainLink('login:a', 'visitor_id:a')).toMatchObject({ sameProfile: false, chain: [] });

    // The cut holds: the same pair seen again does not re-link.
    await g.resolve([id('email:a'), id('phone:a')], ev('e4', 4000, 'store'));
    expect(await g.grouping()).toEqual([['email:a', 'login:a'], ['phone:a', 'visitor_id:a']]);
    expect(await g.unlink('email:a', 'nobody', 'test')).toEqual({ changes: [], found: false });
  });

  it('splits when an identity that held the profile together is removed', async () => {
    const g = repo();
    const p = await g.resolve([id('visitor_id:x'), id('email:x')], ev('e1', 1000));
    await g.resolve([id('email:x'), id('loyalty_number:x')], ev('e2', 2000, 'store'));
    const removed = await g.removeIdentity('email:x', 'test');
    expect(removed.found).toBe(true);
    expect(removed.changes.map((c) => c.kind)).toEqual(['SPLIT']);
    expect(removed.changes[0]!.survivorProfileId).toBe(p.profileId);
    expect(removed.changes[0]!.removedIdentityKeys).toEqual(['email:x']);
    expect(await g.grouping()).toEqual([['loyalty_number:x'], ['visitor_id:x']]);
  });

  it('names the removed identity when the profile stays whole, and when it held nothing else', async () => {
    const g = repo();
    const p = await g.resolve([id('visitor_id:y'), id('email:y'), id('phone:y')], ev('e1', 1000));
    const removed = await g.removeIdentity('email:y', 'test');
    expect(removed.changes).toEqual([
      expect.objectContaining({ kind: 'SPLIT', survivorProfileId: p.profileId, otherProfileIds: [], parts: [{ profileId: p.profileId, identityKeys: ['phone:y', 'visitor_id:y'] }], removedIdentityKeys: ['email:y'] }),
    ]);
    expect(await g.grouping()).toEqual([['phone:y', 'visitor_id:y']]);

    const alone = await g.resolve([id('login:z')], ev('e2', 2000));
    expect((await g.removeIdentity('login:z', 'test')).changes).toEqual([
      expect.objectContaining({ kind: 'SPLIT', survivorProfileId: alone.profileId, parts: [{ profileId: alone.profileId, identityKeys: [] }], removedIdentityKeys: ['login:z'] }),
    ]);
  });

  it('quarantines an identity that starts to join too many profiles', async () => {
    const g = repo();
    const max = rules.collapseGuard.maxProfilesJoined;
    let last;
    for (let n = 0; n <= max; n++) last = await g.resolve([id(`loyalty_number:l${n}`), id('email:frontdesk')], ev(`e${n}`, 1000 + n, 'store'));
    expect(last!.quarantined).toEqual([expect.objectContaining({ key: 'email:frontdesk', type: 'email', profilesJoined: max + 1 })]);
    const grouping = await g.grouping();
    expect(grouping).toContainEqual(['email:frontdesk']);
    expect(grouping).toHaveLength(max + 2);
  });

  it('places the events of one chunk that share a component together, each counting only the identities it brought', async () => {
    const g = repo();
    const chunk = await g.resolveMany([
      { identities: [id('visitor_id:v1')], evidence: ev('e1', 1000) },
      { identities: [id('email:ann')], evidence: ev('e2', 2000) },
      { identities: [id('visitor_id:v1'), id('login:ann'), id('email:ann')], evidence: ev('e3', 3000) },
      { identities: [id('email:bob')], evidence: ev('e4', 4000) },
    ]);
    expect(chunk.map((r) => r.newIdentities)).toEqual([1, 1, 1, 1]);
    expect(new Set(chunk.slice(0, 3).map((r) => r.profileId)).size).toBe(1);
    expect(chunk[3]!.profileId).not.toBe(chunk[0]!.profileId);
    expect(chunk.flatMap((r) => r.changes)).toEqual([]);
    expect(await g.grouping()).toEqual([['email:ann', 'login:ann', 'visitor_id:v1'], ['email:bob']]);
  });

  it('answers a repeat in a chunk with the profile a merge earlier in the chunk left it in', async () => {
    const g = repo();
    const anon = await g.resolve([id('visitor_id:v1')], ev('e1', 1000));
    const known = await g.resolve([id('login:ann')], ev('e2', 500));
    const [merge, repeat] = await g.resolveMany([
      { identities: [id('visitor_id:v1'), id('login:ann')], evidence: ev('e3', 3000) },
      { identities: [id('visitor_id:v1')], evidence: ev('e4', 4000) },
    ]);
    expect(merge!.changes.map((c) => [c.kind, c.survivorProfileId, c.otherProfileIds])).toEqual([['MERGE', known.profileId, [anon.profileId]]]);
    expect(repeat).toMatchObject({ readOnly: true, profileId: known.profileId, identified: true });
  });

  it('keeps apart two people a family tablet joined once their names differ, and splits the profile it had made', async () => {
    const g = repo();
    await g.resolve([id('login:mum'), id('visitor_id:tab')], ev('e1', 1000));
    await g.resolve([id('email:kid')], ev('e0', 1500, 'email'));
    const joined = await g.resolve([id('email:kid'), id('visitor_id:tab')], ev('e2', 2000));
    expect(joined.changes.map((c) => c.kind)).toEqual(['MERGE']);

    await g.resolve([id('login:mum')], ev('e3', 3000, 'chat'), ['name:ann']);
    const named = await g.resolve([id('email:kid')], ev('e4', 4000, 'store'), ['name:bob']);
    expect(named.readOnly).toBe(false);
    expect(named.changes.map((c) => [c.kind, c.survivorProfileId])).toEqual([['SPLIT', joined.profileId]]);
    expect(await g.grouping()).toEqual([['email:kid'], ['login:mum', 'visitor_id:tab']]);
    expect(named.profileId).not.toBe(joined.profileId);

    // A name already known adds nothing: answered without writing.
    expect(await g.resolve([id('email:kid')], ev('e5', 5000, 'store'), ['name:bob'])).toMatchObject({ readOnly: true, profileId: named.profileId });
  });

  it('ends in the same grouping whether events come one at a time or in chunks (property)', async () => {
    const pool = ['login:a', 'login:b', 'email:a', 'email:f', 'phone:p', 'visitor_id:v', 'visitor_id:w', 'loyalty_number:l'];
    const event = fc.record({ ids: fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }), at: fc.integer({ min: 0, max: 50 }), names: fc.subarray(['name:ann', 'name:bob']) });
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 12, maxLength: 12 }), async (events, sizes) => {
        const requests = events.map((e, n) => ({ identities: e.ids.map(id), evidence: ev(`e${n}`, e.at * 86_400_000), names: e.names }));
        const single = repo();
        for (const r of requests) await single.resolve(r.identities, r.evidence, r.names);
        const chunked = repo();
        for (let start = 0, k = 0; start < requests.length; start += sizes[k++]!) {
          const answers = await chunked.resolveMany(requests.slice(start, start + sizes[k]!));
          expect(answers).toHaveLength(Math.min(sizes[k]!, requests.length - start));
        }
        expect(await chunked.grouping()).toEqual(await single.grouping());
        await single.deleteNamespace();
        await chunked.deleteNamespace();
      }),
      { numRuns: 15, seed: Number(process.env.FC_SEED ?? Date.now() % 1_000_000) },
    );
  });

  it('ends in the same grouping whatever the order, lateness and duplication of the events (property)', async () => {
    const pool = ['login:a', 'login:b', 'email:a', 'email:f', 'phone:p', 'phone:q', 'visitor_id:v', 'visitor_id:w', 'loyalty_number:l', 'app_instance_id:i'];
    const event = fc.record({
      ids: fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }),
      at: fc.integer({ min: 0, max: 50 }),
      names: fc.subarray(['name:ann', 'name:bob']),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { minLength: 1, maxLength: 12 }),
        fc.func(fc.integer()),
        fc.array(fc.nat(), { maxLength: 4 }),
        async (events, order, dups) => {
          const numbered = events.map((e, n) => ({ ...e, eventId: `e${n}` }));
          const shuffled = [...numbered].sort((x, y) => order(x.eventId) - order(y.eventId) || (x.eventId < y.eventId ? -1 : 1));
          for (const d of dups) shuffled.splice(d % (shuffled.length + 1), 0, numbered[d % numbered.length]!);
          const groupings = [];
          for (const sequence of [numbered, shuffled]) {
            const g = repo();
            for (const e of sequence) await g.resolve(e.ids.map(id), ev(e.eventId, e.at * 86_400_000), e.names);
            groupings.push(await g.grouping());
            await g.deleteNamespace();
          }
          expect(groupings[1]).toEqual(groupings[0]);
        },
      ),
      { numRuns: 15, seed: Number(process.env.FC_SEED ?? Date.now() % 1_000_000) },
    );
  });
});
