/**
 * Where a service's CPU went, from the V8 profile Node writes at exit (`--cpu-prof`): self time
 * per function and per area (our apps and libs, each npm package, Node's internals, the garbage
 * collector), so a bench can print the few places that matter instead of a flame graph.
 */
import { readFileSync } from 'node:fs';

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface CpuShare {
  readonly name: string;
  readonly ms: number;
  /** Of the busy time (everything but idle). */
  readonly share: number;
}

export interface CpuSummary {
  readonly profiledMs: number;
  readonly busyMs: number;
  readonly byArea: readonly CpuShare[];
  readonly topFunctions: readonly CpuShare[];
}

const VM_FRAMES = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

/** The area a frame's code belongs to: `apps/identity`, `libs/kafka`, an npm package, `node:internal`, or a VM frame. */
export function areaOf(url: string, functionName: string): string {
  if (VM_FRAMES.has(functionName)) return functionName;
  if (!url) return '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node:internal';
  const ours = /\/(apps|libs)\/([^/]+)\//.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  return '(other)';
}

function where(url: string, line: number): string {
  const short = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, '');
  return short ? `${short}:${line + 1}` : '';
}

export function summariseCpuProfile(profile: CpuProfile, top = 15): CpuSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const area = new Map<string, number>();
  const fn = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    total += us;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const a = areaOf(url, functionName);
    area.set(a, (area.get(a) ?? 0) + us);
    const name = `${functionName || '(anonymous)'} ${where(url, lineNumber)}`.trim();
    fn.set(name, (fn.get(name) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>, n: number): CpuShare[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: Number((us / Math.max(1, busy)).toFixed(3)) }));
  return { profiledMs: Math.round(total / 1000), busyMs: Math.round(busy / 1000), byArea: rank(area, 12), topFunctions: rank(fn, top) };
}

export function readCpuProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

export function formatCpuSummary(label: string, s: CpuSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `${label}: ${(s.busyMs / 1000).toFixed(1)} s busy of ${(s.profiledMs / 1000).toFixed(1)} s profiled`,
    `  by area: ${s.byArea.map((a) => `${a.name} ${pct(a.share)}`).join(', ')}`,
    ...s.topFunctions.map((f) => `  ${pct(f.share).padStart(6)}  ${f.name}`),
  ].join('\n');
}
