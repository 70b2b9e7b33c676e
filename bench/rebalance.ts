/**
 * `npm run bench:rebalance`: what a membership change costs (issue 12). N instances of each
 * service (--instances, 3) on a Kafka + Neo4j of the bench's own (or --shared), filled with
 * --prefill events (30,000) so the changelogs have a size, then a steady load (--rate, 200
 * events/s) while, for each service of --services in turn, its last instance:
 *  - baseline: nothing changes (the time the platform needs anyway);
 *  - leaves (SIGTERM), then joins on an empty disk (a new pod: its tasks restored from the
 *    changelogs), crashes (SIGKILL: the others wait for the session timeout), and rejoins on its
 *    own disk (a restarted pod).
 * Catch-up = from the change until the group's commit on every partition of its inputs has
 * reached where that partition ended at the moment of the change (every record that was waiting
 * is processed). Restores: per task restored because of the change, on whichever instance took it
 * (the cdp_task_last_restore gauges that moved), the changelog records read and the seconds it
 * took: the points for restore time against partition size. Prints the tables, writes bench-results/rebalance.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { API_KEY, LoadGenerator, Offsets, Platform, SERVICES, planLoad, type ServiceName } from '@cdp/testing/chaos';
import { benchServers, buildServices } from './lib/platform-setup';
import { readMetrics, machine, writeResult } from '@cdp/testing';

const log = (line: string) => process.stderr.write(`[rebalance ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Change = 'baseline' | 'leave' | 'join-empty-disk' | 'crash' | 'rejoin-own-disk';

interface Row {
  readonly service: ServiceName;
  readonly change: Change;
  readonly readyMs: number | null;
  readonly catchUpMs: number;
  readonly restoredTasks?: number;
  readonly restoredRecords?: number;
  readonly slowestRestoreMs?: number;
}

interface RestorePoint {
  readonly service: ServiceName;
  readonly change: Change;
  readonly task: number;
  readonly records: number;
  readonly ms: number;
}

/** Each task's last restore on one instance, from its cdp_task_last_restore gauges. */
async function restores(url: string): Promise<{ task: number; records: number; ms: number }[]> {
  const byTask = new Map<number, { records: number; ms: number }>();
  for (const { name, labels, value } of await readMetrics(url)) {
    if (name !== 'cdp_task_last_restore') continue;
    const task = Number(labels.task);
    const t = byTask.get(task) ?? { records: 0, ms: 0 };
    if (labels.what === 'records') t.records = value;
    else if (labels.what === 'seconds') t.ms = Math.round(value * 1000);
    byTask.set(task, t);
  }
  return [...byTask].map(([task, t]) => ({ task, ...t })).sort((a, b) => a.task - b.task);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      instances: { type: 'string', default: '3' },
      rate: { type: 'string', default: '200' },
      prefill: { type: 'string', default: '30000' },
      services: { type: 'string', default: 'profiles,metrics,identity,ingestion' },
      seed: { type: 'string', default: '42' },
      shared: { type: 'boolean', default: false },
      'keep-infra': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
    },
  });
  const instances = Number(values.instances);
  if (!Number.isInteger(instances) || instances < 2) throw new Error('--instances takes 2 or more (one of them leaves and joins)');
  const services = values.services!.split(',').map((s) => {
    if (!(SERVICES as readonly string[]).includes(s)) throw new Error(`unknown service ${s}; known: ${SERVICES.join(', ')}`);
    return s as ServiceName;
  });
  const rate = Number(values.rate);
  const seed = Number(values.seed);
  if (!values['no-build']) buildServices(log);
  const { servers, infra } = await benchServers(values.shared!, log);
  const tag = randomBytes(3).toString('hex');
  const topicNamespace = `rebal-${tag}.`;
  const platform = new Platform({ ...servers, topicNamespace, graphNamespace: `rebal-${tag}` }, mkdtempSync(join(tmpdir(), `rebal-${tag}-`)), {}, instances);
  const admin = new Kafka({ clientId: 'bench-rebalance', brokers: servers.kafkaBrokers.split(','), logLevel: logLevel.NOTHING }).admin();
  const rows: Row[] = [];
  let failure: string | undefined;
  const points: RestorePoint[] = [];
  let steady: LoadGenerator | undefined;
  let steadyRun: Promise<void> | undefined;
  try {
    await admin.connect();
    log(`starting ${instances} instances of each service (namespace ${topicNamespace})`);
    await platform.start();
    const offsets = new Offsets(admin, topicNamespace);
    const drained = () => offsets.waitDrained(SERVICES, { quietMs: 3000, timeoutMs: 900_000 });

    log(`prefill: ${values.prefill} events as fast as the platform takes them`);
    const fill = new LoadGenerator({ ingestionUrl: () => platform.url('ingestion'), apiKey: API_KEY, kafkaBrokers: servers.kafkaBrokers, topicNamespace }, { rate: 1e9, concurrency: 8, log });
    await fill.run(planLoad({ seed, events: Number(values.prefill), runTag: `f${tag}` }).events);
    await fill.close();
    await drained();

    log(`steady load at ${rate} events/s`);
    steady = new LoadGenerator({ ingestionUrl: () => platform.url('ingestion'), apiKey: API_KEY, kafkaBrokers: servers.kafkaBrokers, topicNamespace }, { rate, log });
    // More than the schedule needs; stopped at the end.
    steadyRun = steady.run(planLoad({ seed: seed + 1, events: rate * 3600, runTag: `s${tag}` }).events);
    await sleep(5000);

    /** From `t0` until every partition of the service's inputs has been processed up to where it ended at t0. */
    const catchUp = async (service: ServiceName, t0: number, ends: Map<string, number>): Promise<number> => {
      for (;;) {
        const behind = await offsets.behind(service, ends).catch(() => ['(offsets unreadable)']);
        if (behind.length === 0) return Date.now() - t0;
        if (Date.now() - t0 > 300_000) throw new Error(`${service} did not catch up within 300 s: ${behind.slice(0, 5).join(', ')} behind`);
        await sleep(100);
      }
    };
    const last = instances - 1;
    for (const service of services) {
      const stateful = service === 'profiles' || service === 'metrics';
      /** Every running instance's last restore per task, to tell which restores a step caused. */
      const restoreGauges = async () => {
        const out = new Map<string, { task: number; records: number; ms: number }>();
        for (const i of platform.indexes()) {
          if (!platform.isRunning(service, i)) continue;
          for (const r of await restores(platform.url(service, i)).catch(() => [])) out.set(`${i}:${r.task}`, r);
        }
        return out;
      };
      const step = async (change: Change, act: () => Promise<number | null>) => {
        const before = stateful ? await restoreGauges() : new Map();
        const ends = await offsets.inputEnds(service);
        const t0 = Date.now();
        const readyMs = await act();
        const catchUpMs = await catchUp(service, t0, ends);
        let extra: Partial<Row> = {};
        if (stateful) {
          // A restart resets an instance's gauges: anything it reports after its start is new.
          const restarted = change === 'join-empty-disk' || change === 'rejoin-own-disk' ? `${last}:` : undefined;
          const r = [...(await restoreGauges())].filter(([k, x]) => (restarted !== undefined && k.startsWith(restarted)) || before.get(k)?.ms !== x.ms || before.get(k)?.records !== x.records).map(([, x]) => x);
          for (const x of r) points.push({ service, change, ...x });
          // Tasks kept through a rebalance are prepared again too, from their current copy (0 records).
          const read = r.filter((x) => x.records > 0);
          extra = { restoredTasks: read.length, restoredRecords: read.reduce((sum, x) => sum + x.records, 0), slowestRestoreMs: Math.max(0, ...read.map((x) => x.ms)) };
        }
        rows.push({ service, change, readyMs, catchUpMs, ...extra });
        log(`${service} ${change}: ready ${readyMs ?? '-'} ms, caught up after ${catchUpMs} ms${extra.restoredTasks !== undefined ? `, restored ${extra.restoredTasks} task(s), ${extra.restoredRecords} records, slowest ${extra.slowestRestoreMs} ms` : ''}`);
        await sleep(3000);
      };
      await step('baseline', () => Promise.resolve(null));
      await step('leave', async () => {
        await platform.terminate(service, last);
        return null;
      });
      await step('join-empty-disk', async () => {
        platform.wipe(service, last);
        return platform.restart(service, last);
      });
      await step('crash', async () => {
        await platform.kill(service, last);
        return null;
      });
      await step('rejoin-own-disk', () => platform.restart(service, last));
    }
  } catch (err) {
    // What the services said is what explains a stall: kept before they are stopped; the rows
    // measured so far are written with the error.
    log(`failed; the services' output is in ${platform.saveAllOutputs()[0]?.replace(/[^/]*$/, '') ?? '(none)'}`);
    failure = (err as Error).message;
  } finally {
    steady?.stop();
    await steadyRun?.catch(() => undefined);
    await steady?.close();
    await platform.stop().catch((err: unknown) => log(`stopping services: ${String(err)}`));
    const topics = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(topicNamespace));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
    if (infra && !values['keep-infra']) await infra.stop();
  }
  const fmt = (r: Row) =>
    `${r.service.padEnd(10)} ${r.change.padEnd(16)} ready ${String(r.readyMs ?? '-').padStart(6)} ms  caught up ${String(r.catchUpMs).padStart(6)} ms${r.restoredTasks !== undefined ? `  restored ${r.restoredTasks} task(s), ${r.restoredRecords} records, slowest ${r.slowestRestoreMs} ms` : ''}`;
  const restoreLines = points.filter((p) => p.records > 0).map((p) => `${p.service.padEnd(10)} task ${String(p.task).padStart(2)}  ${String(p.records).padStart(7)} records  ${String(p.ms).padStart(6)} ms  ${p.ms > 0 ? Math.round((p.records / p.ms) * 1000) : '-'} records/s`);
  const file = writeResult('rebalance', {
    benchmark: 'rebalance',
    command: `npm run bench:rebalance -- ${process.argv.slice(2).join(' ')}`.trim(),
    measuredAt: new Date().toISOString(),
    machine: machine(),
    loadAvg: loadavg().map((x) => Number(x.toFixed(2))),
    settings: { instances, rate, prefill: Number(values.prefill), services, infra: values.shared ? 'shared' : 'own instance' },
    definition: { catchUpMs: 'change → every partition of the group inputs committed up to its end offset at the change', restore: 'per task taken over by the joining instance: changelog records read and seconds (cdp_task_last_restore)' },
    rows,
    restores: points,
    ...(failure ? { failure } : {}),
  });
  process.stdout.write(`\n${rows.map(fmt).join('\n')}\n\nrestore time against partition size:\n${restoreLines.join('\n') || '(none)'}\n${failure ? `FAILED: ${failure}\n` : ''}written to ${file}\n`);
  if (failure) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
