import { AssignerProtocol, type Cluster } from 'kafkajs';
import { assignTasks, coPartitionedAssigner, decodeMemberInfo, encodeMemberInfo } from './co-partitioned-assigner';

const tasksOf = (m: Map<string, number[]>) => Object.fromEntries(m);

describe('assignTasks', () => {
  it.each([
    { name: 'one member takes every task', members: [{ memberId: 'a', owned: [] }], tasks: 6, want: { a: [0, 1, 2, 3, 4, 5] } },
    { name: 'fresh members share evenly, in id order', members: [{ memberId: 'b', owned: [] }, { memberId: 'a', owned: [] }], tasks: 6, want: { a: [0, 2, 4], b: [1, 3, 5] } },
    { name: 'members keep what they own', members: [{ memberId: 'a', owned: [3, 4, 5] }, { memberId: 'b', owned: [0, 1, 2] }], tasks: 6, want: { a: [3, 4, 5], b: [0, 1, 2] } },
    {
      name: 'a joining member takes only from those above their share',
      members: [{ memberId: 'a', owned: [0, 2, 4] }, { memberId: 'b', owned: [1, 3, 5] }, { memberId: 'c', owned: [] }],
      tasks: 6,
      want: { a: [0, 2], b: [1, 3], c: [4, 5] },
    },
    {
      name: 'a leaving member’s tasks go to the others, who keep theirs',
      members: [{ memberId: 'a', owned: [0, 3] }, { memberId: 'c', owned: [2, 5] }],
      tasks: 6,
      want: { a: [0, 1, 3], c: [2, 4, 5] },
    },
    { name: 'more members than tasks: some get none', members: [{ memberId: 'a', owned: [] }, { memberId: 'b', owned: [] }, { memberId: 'c', owned: [0] }], tasks: 1, want: { a: [], b: [], c: [0] } },
    { name: 'two members claiming one task: the one with fewer claims keeps it', members: [{ memberId: 'a', owned: [0, 1] }, { memberId: 'b', owned: [1] }], tasks: 2, want: { a: [0], b: [1] } },
    { name: 'tasks past the count are ignored', members: [{ memberId: 'a', owned: [7] }], tasks: 2, want: { a: [0, 1] } },
  ])('$name', ({ members, tasks, want }) => {
    expect(tasksOf(assignTasks(members, tasks))).toEqual(want);
  });

  it('gives every task to exactly one member, balanced within one, whatever the claims', () => {
    for (let seed = 1; seed < 200; seed++) {
      const rnd = (n: number) => (seed * 7919 + n * 104729) % 97;
      const count = 1 + (seed % 9);
      const members = Array.from({ length: 1 + (seed % 4) }, (_, i) => ({ memberId: `m${i}`, owned: Array.from({ length: rnd(i) % 5 }, (_, k) => rnd(i + k) % 8) }));
      const out = assignTasks(members, count);
      const all = [...out.values()].flat().sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
      const sizes = [...out.values()].map((t) => t.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });
});

describe('member info', () => {
  it('round-trips and is lenient with foreign metadata', () => {
    expect(decodeMemberInfo(encodeMemberInfo({ url: 'http://10.0.0.7:3003', owned: [1, 4] }))).toEqual({ url: 'http://10.0.0.7:3003', owned: [1, 4] });
    expect(decodeMemberInfo(Buffer.from('not json'))).toEqual({ url: '', owned: [] });
    expect(decodeMemberInfo(Buffer.from('{"url":5,"owned":[1,-1,"x",2.5,3]}'))).toEqual({ url: '', owned: [1, 3] });
    expect(decodeMemberInfo(null)).toEqual({ url: '', owned: [] });
  });
});

describe('coPartitionedAssigner', () => {
  const cluster = { findTopicPartitionMetadata: (topic: string) => Array.from({ length: topic === 'one' ? 1 : 6 }, (_, partitionId) => ({ partitionId })) } as unknown as Cluster;
  const member = (memberId: string, owned: number[]) => ({
    memberId,
    memberMetadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics: ['a', 'b', 'one'], userData: encodeMemberInfo({ url: `http://${memberId}`, owned }) }),
  });

  it('puts partition p of every topic on the owner of task p', async () => {
    const assigner = coPartitionedAssigner(() => ({ url: '', owned: [] }))({ cluster, groupId: 'g', logger: undefined as never });
    const out = await assigner.assign({ members: [member('m1', [5]), member('m2', []), member('m3', [])], topics: ['a', 'b', 'one'] });
    const decoded = Object.fromEntries(out.map((o) => [o.memberId, AssignerProtocol.MemberAssignment.decode(o.memberAssignment)!.assignment]));
    for (const assignment of Object.values(decoded)) expect(assignment.a).toEqual(assignment.b);
    expect(decoded.m1!.a).toContain(5);
    const ownerOfZero = Object.entries(decoded).find(([, a]) => a.a?.includes(0))![0];
    expect(decoded[ownerOfZero]!.one).toEqual([0]);
    expect(Object.values(decoded).flatMap((a) => a.a ?? []).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('advertises the member’s url and current tasks at every join', () => {
    let owned = [1];
    const assigner = coPartitionedAssigner(() => ({ url: 'http://me:1', owned }))({ cluster, groupId: 'g', logger: undefined as never });
    owned = [2, 3];
    const { metadata } = assigner.protocol({ topics: ['a'] });
    expect(decodeMemberInfo(AssignerProtocol.MemberMetadata.decode(metadata)!.userData)).toEqual({ url: 'http://me:1', owned: [2, 3] });
  });
});
