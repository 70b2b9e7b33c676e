/**
 * `npm run bench:memory`: what the profiles and metrics services hold in memory against the number
 * of profiles they keep (--profiles 10000,100000,1000000), so an SRE can size a pod. Both run from
 * their build output on a namespace of their own on the Kafka named by KAFKA_BROKERS (the shared
 * one by default); this process plays the identity service and publishes, rung after rung, one
 * event for each new profile (email, visitor id and name), a repeat visit of an earlier profile for
 * every second new one, and a merge of two of the rung's new profiles for every 200th. After each
 * rung, once both groups are at the end of their inputs, it reads each process's resident memory
 * split into anonymous pages (heap and native buffers: the process's own) and file pages (the
 * LMDB store's map: page cache the kernel reclaims under a limit), its V8 heap (/metrics), the peak
 * during the rung, and the store on disk; and checks the counts (metrics counted every event once).
 * --limit-mb N runs both services in memory cgroups limited to N MB each, as a pod limit would
 * (needs a writable cgroup hierarchy; reported as unavailable otherwise), and reports how often the
 * limit was reached and whether the OOM killer ended either. A rung not drained within
 * --drain-timeout-s (3600) is recorded with what was left to read, and the run stops there.
 * --service-env K=V,... is added to both services' environment (for example
 * NODE_OPTIONS=--max-old-space-size=128). Writes bench-results/memory.json (memory-<label>.json
 * with --label).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { IdentityChange, KpiSnapshot, ResolvedEvent } from '@cdp/contracts';
import { API_KEYS, change, Feeder, identity, resolved } from '../test/profiles-fixtures';
import { Offsets } from '@cdp/testing/chaos';
import { deleteNamespace, readMetrics, sumMetric, startServiceProcess, stopServiceProcess, type RunningService, machine, writeResult, MemoryCgroup, processMemory, residentByMapping, type CgroupFigures, type ProcessMemory, WORKSPACE_ROOT } from '@cdp/testing';

const SERVICES = ['profiles', 'metrics'] as const;
type Service = (typeof SERVICES)[number];
const log = (line: string) => process.stderr.write(`[memory ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const { values: args } = parseArgs({
  options: {
    profiles: { type: 'string', default: '10000,100000,1000000' },
    'limit-mb': { type: 'string' },
    'service-env': { type: 'string', default: '' },
    'drain-timeout-s': { type: 'string', default: '3600' },
    'no-build': { type: 'boolean', default: false },
    label: { type: 'string' },
  },
});
const RUNGS = args.profiles.split(',').map(Number);
const LIMIT_MB = args['limit-mb'] ? Number(args['limit-mb']) : undefined;
const SERVICE_ENV: Record<string, string> = Object.fromEntries(
  args['service-env']
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

/** The load, profile by profile; merged-away profiles get their later visits on the survivor. */
class Population {
  created = 0;
  events = 0;
  merges = 0;
  private readonly survivorOf = new Map<number, number>();
  private readonly runId = randomBytes(3).toString('hex');

  /** Events and changes that bring the population to `target` profiles (before merges). */
  *upTo(target: number, batch: number): Generator<{ events: ResolvedEvent[]; changes: IdentityChange[] }> {
    let events: ResolvedEvent[] = [];
    let changes: IdentityChange[] = [];
    const firstOfRung = this.created;
    while (this.created < target) {
      const p = this.created++;
      events.push(this.event(p, true));
      if (p % 2 === 1 && p > 0) events.push(this.event(this.living(Math.floor(this.pseudo(p) * p)), false));
      if (p % 200 === 199 && p - 100 >= firstOfRung) {
        const other = p - 100;
        if (!this.survivorOf.has(other)) {
          this.survivorOf.set(other, p);
          changes.push(change('MERGE', `mem-${p}`, [`mem-${other}`]));
          this.merges++;
        }
      }
      if (events.length >= batch) {
        yield { events, changes };
        events = [];
        changes = [];
      }
    }
    if (events.length || changes.length) yield { events, changes };
  }

  private living(p: number): number {
    let at = p;
    for (let next = this.survivorOf.get(at); next !== undefined; next = this.survivorOf.get(at)) at = next;
    return at;
  }

  private pseudo(p: number): number {
    return ((p * 2654435761) % 4294967296) / 4294967296;
  }

  private event(p: number, first: boolean): ResolvedEvent {
    this.events++;
    const id = `mem-${p}`;
    return resolved({
      eventId: `${this.runId}-${this.events}`,
      profileId: id,
      channel: first ? 'email' : 'website',
      type: first ? 'signup' : 'page_view',
      occurredAt: Date.now(),
      identities: first ? [identity('email', `person-${p}@example.com`, 'PRIMARY'), identity('visitor_id', `v-${p}`)] : [identity('visitor_id', `v-${p}`)],
      ...(first ? { traits: { first_name: `Given${p}`, last_name: `Family${p % 9973}`, city: `City${p % 313}` } } : {}),
    });
  }
}

interface Sample {
  readonly service: Service;
  readonly memory: ProcessMemory;
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  readonly externalMb: number;
  readonly storeMb: number;
  readonly peakRssDuringRungMb: number;
  readonly largestMappings: { mapping: string; mb: number; maps: number }[];
  readonly cgroup?: CgroupFigures;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(path) : statSync(path).size;
  }
  return total;
}

async function heap(url: string): Promise<{ heapUsedMb: number; heapTotalMb: number; externalMb: number }> {
  const samples = await readMetrics(url);
  const gauge = (name: string) => Math.round(sumMetric(samples, name) / 2 ** 20);
  return { heapUsedMb: gauge('nodejs_heap_size_used_bytes'), heapTotalMb: gauge('nodejs_heap_size_total_bytes'), externalMb: gauge('nodejs_external_memory_bytes') };
}

async function main(): Promise<void> {
  if (!args['no-build']) {
    log('building profiles and metrics');
    const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--projects=profiles,metrics', '--output-style=static'], { cwd: WORKSPACE_ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NX_DAEMON: 'false' } });
    if (build.status !== 0) throw new Error('build failed');
  }
  const namespace = `bench-memory-${randomBytes(4).toString('hex')}.`;
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-memory-'));
  const dirs: Record<Service, string> = { profiles: join(stateDir, 'profiles'), metrics: join(stateDir, 'kpi') };
  const kafka = new Kafka({ clientId: 'bench-memory', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const feeder = new Feeder(namespace);
  const groups: Partial<Record<Service, MemoryCgroup>> = {};
  let cgroupUnavailable: string | undefined;
  const running: Partial<Record<Service, RunningService>> = {};
  try {
    await feeder.connect();
    const env = { ...SERVICE_ENV, KAFKA_BROKERS: BROKERS, TOPIC_NAMESPACE: namespace, LOG_LEVEL: 'warn' };
    running.profiles = await startServiceProcess('profiles', { ...env, PROFILES_API_KEYS: API_KEYS }, 120_000, { stateDir: dirs.profiles });
    running.metrics = await startServiceProcess('metrics', { ...env, KPI_STATE_DIR: dirs.metrics }, 120_000, { stateDir: dirs.metrics });
    if (LIMIT_MB !== undefined) {
      for (const s of SERVICES) {
        const made = MemoryCgroup.create(`${namespace.slice(0, -1)}-${s}`, LIMIT_MB);
        if (!made.group) {
          cgroupUnavailable = made.why;
          break;
        }
        groups[s] = made.group;
        made.group.add(running[s]!.process.pid!);
      }
      log(cgroupUnavailable ? `--limit-mb ignored: ${cgroupUnavailable}` : `both services in memory cgroups limited to ${LIMIT_MB} MB`);
    }
    const offsets = new Offsets(admin, namespace);
    const population = new Population();
    const rungs = [];
    for (const target of RUNGS) {
      const t0 = performance.now();
      const eventsBefore = population.events;
      const peak: Record<Service, number> = { profiles: 0, metrics: 0 };
      const watch = setInterval(() => {
        for (const s of SERVICES) peak[s] = Math.max(peak[s], processMemory(running[s]!.process.pid!)?.rssMb ?? 0);
      }, 500);
      let sent = 0;
      for (const { events, changes } of population.upTo(target, 2000)) {
        await feeder.events(events);
        if (changes.length) await feeder.changes(changes);
        sent += events.length;
        if (sent % 100_000 < 2000) log(`rung ${target}: ${population.created} profiles, ${population.events} events sent`);
      }
      const sentS = (performance.now() - t0) / 1000;
      let lastLag: Record<string, number> = {};
      const drained = await offsets.waitDrained(['profiles', 'metrics'], {
        quietMs: 3000,
        timeoutMs: Number(args['drain-timeout-s']) * 1000,
        everyMs: 2000,
        onPoll: (lag) => {
          lastLag = lag;
          for (const s of SERVICES) if (running[s]!.process.exitCode !== null || running[s]!.process.signalCode !== null) throw new Error(`${s} exited (${running[s]!.process.signalCode ?? running[s]!.process.exitCode}) during rung ${target}`);
          if (Math.random() < 0.1) log(`rung ${target}: lag ${JSON.stringify(lag)}`);
        },
      }).then(
        () => true,
        // Not drained in time is a result (a limit too small for the store's working set), not an error.
        (err: Error) => {
          if (!err.message.startsWith('not drained within')) throw err;
          return false;
        },
      );
      clearInterval(watch);
      const drainedS = (performance.now() - t0) / 1000;
      const kpis = (await (await fetch(`${running.metrics!.url}/v1/kpis?window=all`)).json()) as KpiSnapshot;
      const samples: Sample[] = [];
      for (const s of SERVICES) {
        const pid = running[s]!.process.pid!;
        const memory = processMemory(pid);
        if (!memory) throw new Error(`${s} is gone after rung ${target}`);
        samples.push({ service: s, memory, ...(await heap(running[s]!.url)), storeMb: Math.round(dirBytes(dirs[s]) / 2 ** 20), peakRssDuringRungMb: Math.max(peak[s], memory.rssMb), largestMappings: residentByMapping(pid), ...(groups[s] ? { cgroup: groups[s].figures() } : {}) });
      }
      const rung = {
        profiles: target,
        livingProfiles: population.created - population.merges,
        events: population.events,
        merges: population.merges,
        kpiEvents: kpis.events,
        kpiProfiles: kpis.profiles,
        drained,
        /** Input records each group still had to read when the bench stopped waiting. */
        remainingLag: drained ? {} : lastLag,
        countsExact: drained ? kpis.events === population.events : null,
        sendSeconds: Number(sentS.toFixed(1)),
        drainedSeconds: drained ? Number(drainedS.toFixed(1)) : null,
        eventsPerSecond: drained ? Math.round((population.events - eventsBefore) / drainedS) : null,
        loadAvg: loadavg().map((x) => Number(x.toFixed(2))),
        samples,
      };
      rungs.push(rung);
      log(
        drained
          ? `rung ${target}: drained in ${rung.drainedSeconds} s (${rung.eventsPerSecond} events/s), KPI events ${kpis.events}/${population.events}, profiles ${kpis.profiles}/${rung.livingProfiles}`
          : `rung ${target}: NOT drained after ${drainedS.toFixed(0)} s; still to read: ${JSON.stringify(lastLag)}`,
      );
      for (const x of samples) {
        const cg = x.cgroup ? `; cgroup ${x.cgroup.usageMb}/${x.cgroup.limitMb} MB, peak ${x.cgroup.peakUsageMb}, limit hit ${x.cgroup.limitHits}x, OOM kills ${x.cgroup.oomKills}` : '';
        log(`  ${x.service}: RSS ${x.memory.rssMb} MB (anon ${x.memory.anonMb}, file ${x.memory.fileMb}, file pages once ${x.memory.filePssMb}; peak in rung ${x.peakRssDuringRungMb}), heap ${x.heapUsedMb}/${x.heapTotalMb} MB, external ${x.externalMb} MB, store on disk ${x.storeMb} MB${cg}`);
        log(`    largest: ${x.largestMappings.map((m) => `${m.mapping.replace(stateDir, '<state>')} ${m.mb} MB (${m.maps} maps)`).join(', ')}`);
      }
      if (!drained) break;
    }
    const result = {
      benchmark: 'memory',
      command: `npm run bench:memory -- ${process.argv.slice(2).join(' ')}`.trim(),
      at: new Date().toISOString(),
      machine: machine(),
      serviceEnv: SERVICE_ENV,
      limitMb: LIMIT_MB ?? null,
      ...(cgroupUnavailable ? { cgroupUnavailable } : {}),
      rungs,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`written to ${writeResult(args.label ? `memory-${args.label}` : 'memory', result)}\n`);
    if (rungs.some((r) => r.countsExact === false)) throw new Error('metrics did not count every event exactly once');
  } finally {
    for (const s of SERVICES) if (running[s]) await stopServiceProcess(running[s]);
    for (const g of Object.values(groups)) g.remove();
    await feeder.close();
    await deleteNamespace(kafka, namespace).catch(() => undefined);
    await admin.disconnect();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
