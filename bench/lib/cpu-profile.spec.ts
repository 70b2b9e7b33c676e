import { areaOf, summariseCpuProfile } from './cpu-profile';

describe('CPU profile summary', () => {
  it('names the area of a frame: our code, an npm package, Node, the VM', () => {
    expect(areaOf('file:///app/dist/apps/identity/apps/identity/src/resolution/read-path.js', 'answers')).toBe('apps/identity');
    expect(areaOf('file:///w/libs/kafka/src/consumer-loop.ts', 'run')).toBe('libs/kafka');
    expect(areaOf('file:///w/node_modules/neo4j-driver-bolt-connection/lib/x.js', 'f')).toBe('neo4j-driver-bolt-connection');
    expect(areaOf('file:///w/node_modules/@nestjs/core/router.js', 'f')).toBe('@nestjs/core');
    expect(areaOf('node:internal/streams/readable', 'read')).toBe('node:internal');
    expect(areaOf('', '(garbage collector)')).toBe('(garbage collector)');
    expect(areaOf('', 'writev')).toBe('(native)');
  });

  it('adds each sample to its own frame, leaves idle out of the busy time and ranks by self time', () => {
    const frame = (id: number, functionName: string, url = '') => ({ id, callFrame: { functionName, url, lineNumber: 9 } });
    const summary = summariseCpuProfile({
      nodes: [frame(1, '(root)'), frame(2, '(idle)'), frame(3, 'decode', 'file:///w/node_modules/avsc/lib/types.js'), frame(4, 'answers', 'file:///w/apps/identity/src/read-path.js')],
      samples: [2, 3, 3, 4, 3, 2],
      timeDeltas: [5000, 1000, 1000, 1000, 1000, 5000],
    });
    expect(summary).toEqual({
      profiledMs: 14,
      busyMs: 4,
      byArea: [
        { name: 'avsc', ms: 3, share: 0.75 },
        { name: 'apps/identity', ms: 1, share: 0.25 },
      ],
      topFunctions: [
        { name: 'decode avsc/lib/types.js:10', ms: 3, share: 0.75 },
        { name: 'answers /w/apps/identity/src/read-path.js:10', ms: 1, share: 0.25 },
      ],
    });
  });
});
