/**
 * What a process's resident memory is made of, from /proc, and a memory cgroup to run it under a
 * limit as a pod would be. Resident memory alone hides the difference that matters for sizing:
 * anonymous pages (heap, native buffers) are the process's own and can only be freed by it, while
 * file pages (LMDB maps its store) are page cache the kernel reclaims under a limit.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcessMemory {
  /** VmRSS, MB. */
  readonly rssMb: number;
  /** RssAnon: heap, stacks, native buffers. */
  readonly anonMb: number;
  /** RssFile: mapped file pages (the stores' maps, the node binary). */
  readonly fileMb: number;
  /** VmHWM: the highest resident size so far. */
  readonly peakRssMb: number;
  /**
   * Proportional set size of file pages: each physical page once, however many times it is
   * mapped. lmdb-js maps a growing store again in chunks, so RssFile counts its pages several
   * times; this is what the pages actually take.
   */
  readonly filePssMb: number;
}

const kb = (status: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
const mb = (kilobytes: number) => Math.round(kilobytes / 1024);

/** Undefined once the process is gone. */
export function processMemory(pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  let rollup = '';
  try {
    rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    // older kernels: no proportional figures
  }
  return { rssMb: mb(kb(status, 'VmRSS')), anonMb: mb(kb(status, 'RssAnon')), fileMb: mb(kb(status, 'RssFile') + kb(status, 'RssShmem')), peakRssMb: mb(kb(status, 'VmHWM')), filePssMb: mb(kb(rollup, 'Pss_File') + kb(rollup, 'Pss_Shmem')) };
}

/**
 * Resident MB by what is mapped (a file's path, "(deleted)" when it is gone from disk, or the
 * kind of anonymous region), largest first: where RssFile and RssAnon actually live.
 */
export function residentByMapping(pid: number, top = 8): { mapping: string; mb: number; maps: number }[] {
  let smaps: string;
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return [];
  }
  const byName = new Map<string, number>();
  const maps = new Map<string, number>();
  let name = '';
  for (const line of smaps.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      name = header[1] || '[anonymous]';
      maps.set(name, (maps.get(name) ?? 0) + 1);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) byName.set(name, (byName.get(name) ?? 0) + Number(rss[1]));
  }
  return [...byName]
    .map(([mapping, kilobytes]) => ({ mapping, mb: mb(kilobytes), maps: maps.get(mapping) ?? 0 }))
    .sort((a, b) => b.mb - a.mb)
    .slice(0, top);
}

export interface CgroupFigures {
  readonly limitMb: number;
  /** Charged to the group now (anonymous and page cache). */
  readonly usageMb: number;
  readonly peakUsageMb: number;
  /** Times the limit was hit (the kernel reclaimed to stay under it). */
  readonly limitHits: number;
  /** Processes of the group the OOM killer ended. */
  readonly oomKills: number;
}

/**
 * A memory cgroup (v1 or v2) with a hard limit. Needs a writable cgroup hierarchy (root, or a
 * delegated one); `create` answers undefined with the reason when there is none.
 */
export class MemoryCgroup {
  private constructor(
    private readonly dir: string,
    private readonly v2: boolean,
    readonly limitMb: number,
  ) {}

  static create(name: string, limitMb: number): { group?: MemoryCgroup; why?: string } {
    const v1 = '/sys/fs/cgroup/memory';
    const v2 = '/sys/fs/cgroup';
    const isV2 = !existsSync(join(v1, 'memory.limit_in_bytes')) && existsSync(join(v2, 'cgroup.controllers'));
    const dir = join(isV2 ? v2 : v1, name);
    try {
      mkdirSync(dir, { recursive: true });
      const bytes = String(limitMb * 1024 * 1024);
      if (isV2) {
        writeFileSync(join(dir, 'memory.max'), bytes);
        writeFileSync(join(dir, 'memory.swap.max'), '0');
      } else {
        writeFileSync(join(dir, 'memory.limit_in_bytes'), bytes);
        // Charges made before the move go with the process where the kernel still can (newer
        // kernels refuse): otherwise the group sees only what the process touches after the move.
        try {
          writeFileSync(join(dir, 'memory.move_charge_at_immigrate'), '3');
        } catch {
          // charged from the move on
        }
      }
      return { group: new MemoryCgroup(dir, isV2, limitMb) };
    } catch (err) {
      return { why: `no writable memory cgroup at ${dir}: ${(err as Error).message}` };
    }
  }

  add(pid: number): void {
    writeFileSync(join(this.dir, 'cgroup.procs'), String(pid));
  }

  figures(): CgroupFigures {
    const read = (file: string) => readFileSync(join(this.dir, file), 'utf8');
    const bytesMb = (text: string) => Math.round(Number(text.trim()) / 2 ** 20);
    if (this.v2) {
      const events = read('memory.events');
      const count = (key: string) => Number(new RegExp(`^${key} (\\d+)`, 'm').exec(events)?.[1] ?? 0);
      const peak = existsSync(join(this.dir, 'memory.peak')) ? bytesMb(read('memory.peak')) : 0;
      return { limitMb: this.limitMb, usageMb: bytesMb(read('memory.current')), peakUsageMb: peak, limitHits: count('max'), oomKills: count('oom_kill') };
    }
    const oom = read('memory.oom_control');
    return {
      limitMb: this.limitMb,
      usageMb: bytesMb(read('memory.usage_in_bytes')),
      peakUsageMb: bytesMb(read('memory.max_usage_in_bytes')),
      limitHits: Number(read('memory.failcnt').trim()),
      oomKills: Number(/^oom_kill (\d+)/m.exec(oom)?.[1] ?? 0),
    };
  }

  /** After its processes exited. */
  remove(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // a process still in it: the group outlives the bench, harmless
    }
  }
}
