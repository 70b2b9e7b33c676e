import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import type { ProfileEntry, ProfileStat } from '../domain/profile-table';
import { changelogEntries, KpiStore } from './kpi-store';

const stat = (keys: Record<string, string>): ProfileStat => ({ identified: true, firstTouchAt: 1, firstIdentifiedTouchAt: 2, identifiedAt: 3, lastSeen: { email: 3 }, keys });

describe('KpiStore profile rows', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kpi-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads back the identity keys it wrote, from the transaction and from its changelog', async () => {
    const store = new KpiStore(join(dir, 'a'));
    const row = stat({ 'email:a': 'email', 'visitor_id:v': 'visitor_id' });
    const changes = [{ store: 'profiles' as const, changes: new Map<string, ProfileEntry>([['p1', row], ['p2', { mergedInto: 'p1' }]]) }];
    await store.commit(changes, []);
    expect(store.get('p1')).toEqual(row);
    expect(Object.entries((store.get('p1') as ProfileStat).keys)).toEqual([['email:a', 'email'], ['visitor_id:v', 'visitor_id']]);
    expect(store.get('p2')).toEqual({ mergedInto: 'p1' });
    expect([...store.entries()].map(([id]) => id)).toEqual(['p1', 'p2']);

    const restored = new KpiStore(join(dir, 'b'));
    await restored.applyChangelog(changelogEntries(changes, []));
    expect(restored.get('p1')).toEqual(row);
    expect(JSON.parse(changelogEntries(changes, [])[0]!.value!)).toEqual(row);
    await Promise.all([store.close(), restored.close()]);
    // The stored form (see StoredProfile): one flat list, not an object named by graph keys.
    const raw = open({ path: join(dir, 'a'), compression: false });
    expect(raw.openDB<{ keys: unknown }, string>({ name: 'profiles' }).get('p1')?.keys).toEqual(['email:a', 'email', 'visitor_id:v', 'visitor_id']);
    await raw.close();
  });
});
