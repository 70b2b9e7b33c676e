/**
 * One chaos run: fresh topic and graph namespaces, the four services started (`instances` of each), the planned load
 * offered while the faults fire at seeded random moments (one after the other, each recovered
 * before the next), then drain (from offsets) and the checks. Cleans up only its own namespaces.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import neo4j from 'neo4j-driver';
import { MetricsUnavailable, readMetrics, sumMetric } from '../prometheus-text';
import { rng } from '../rng';
import { checkAnyInstance } from './any-instance';
import { runChecks, type CheckFigures, type Violation } from './checks';
import { FaultInjector, type FaultKind, type FaultOptions, type FaultRecord } from './faults';
import { LoadGenerator } from './load';
import { Offsets } from './offsets';
import type { OwnInfra } from './own-infra';
import { API_KEY, HMAC_KEY, Platform, SERVICES } from './platform';
import { planLoad } from './population';

export interface RunOptions {
  readonly seed: number;
  readonly events: number;
  readonly rate: number;
  readonly faults: readonly FaultKind[];
  readonly fault: FaultOptions;
  /** Instances of each service (1 unless given). */
  readonly instances?: number;
  /** Drained = no lag and no topic end moving for this long. */
  readonly quietMs: number;
  readonly drainTimeoutMs: number;
  readonly log: (line: string) => void;
}

export interface RunResult {
  readonly seed: number;
  readonly instances: number;
  readonly events: number;
  readonly mix: Readonly<Record<string, number>>;
  readonly loadSeconds: number;
  readonly drainSeconds: number | null;
  readonly retries: number;
  readonly faults: FaultRecord[];
  readonly violations: Violation[];
  readonly figures: CheckFigures | null;
  readonly notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** cdp_identity_duplicate_events_total summed over the identity instances (a killed instance's count is gone with it). */
async function identityDuplicatesDropped(urls: readonly string[]): Promise<number> {
  let total = 0;
  // An instance the faults stopped has nothing to say: the others' counts stand.
  for (const url of urls) {
    const samples = await readMetrics(url).catch((err: unknown) => {
      if (err instanceof MetricsUnavailable) return []; // stopped or stopping under the faults
      throw err;
    });
    total += sumMetric(samples, 'cdp_identity_duplicate_events_total');
  }
  return total;
}

export async function chaosRun(infra: OwnInfra, o: RunOptions): Promise<RunResult> {
  const tag = randomBytes(3).toString('hex');
  const topicNamespace = `chaos-${tag}.`;
  const graphNamespace = `chaos-${tag}`;
  const s = infra.servers;
  const plan = planLoad({ seed: o.seed, events: o.events, runTag: tag });
  const random = rng(o.seed ^ 0x5eed);
  const instances = o.instances ?? 1;
  const platform = new Platform({ ...s, topicNamespace, graphNamespace }, mkdtempSync(join(tmpdir(), `chaos-${tag}-`)), {}, instances);
  const kafka = new Kafka({ clientId: 'chaos-bench', brokers: s.kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const violations: Violation[] = [];
  const notes: string[] = [];
  const faults: FaultRecord[] = [];
  let figures: CheckFigures | null = null;
  let drainSeconds: number | null = null;
  let loadSeconds = 0;
  let load: LoadGenerator | undefined;
  o.log(`run seed ${o.seed}: ${instances} instance(s) of each service, ${o.events} events at ${o.rate}/s, faults ${o.faults.join(',') || 'none'} (namespace ${topicNamespace})`);
  try {
    await admin.connect();
    await platform.start();
    const offsets = new Offsets(admin, topicNamespace);
    const injector = new FaultInjector(platform, infra, offsets, o.fault, o.log);
    load = new LoadGenerator({ ingestionUrl: () => platform.url('ingestion'), apiKey: API_KEY, kafkaBrokers: s.kafkaBrokers, topicNamespace }, { rate: o.rate, log: o.log });

    // Fault moments: seeded, in the middle 5-85 % of the nominal load time, in a seeded order.
    const nominalMs = (o.events / o.rate) * 1000;
    const order = [...o.faults].sort(() => random() - 0.5);
    const moments = order.map(() => (0.05 + 0.8 * random()) * nominalMs).sort((a, b) => a - b);
    const t0 = Date.now();
    let loadDone = false;
    const loading = load.run(plan.events).then(() => {
      loadDone = true;
      loadSeconds = (Date.now() - t0) / 1000;
      o.log(`load offered in ${loadSeconds.toFixed(1)} s (${load!.books.accepted.size} accepted, ${load!.books.retries} retries)`);
    });
    for (let i = 0; i < order.length; i++) {
      const wait = t0 + moments[i]! - Date.now();
      if (wait > 0) await Promise.race([sleep(wait), loading]);
      if (loadDone) notes.push(`fault ${order[i]} fired after the load had been offered (the faults before it took long to recover)`);
      faults.push(await injector.inject(order[i]!, Date.now() - t0, random));
    }
    await loading;

    for (const e of platform.unexpectedExits) {
      violations.push({ check: 'platform', kind: 'service-exited-by-itself', detail: { instance: e.instance, code: e.code, signal: e.signal, lastOutput: e.lastOutput.slice(-600) } });
    }
    for (const f of faults) if (f.error) violations.push({ check: 'platform', kind: 'not-recovered', detail: { fault: f.kind, target: f.target, error: f.error } });
    // An instance that died on its own is restarted, so that the checks can still read the stores.
    for (const name of SERVICES) for (const i of platform.indexes()) if (!platform.isRunning(name, i)) await platform.restart(name, i);

    try {
      const ms = await offsets.waitDrained(SERVICES, { quietMs: o.quietMs, timeoutMs: o.drainTimeoutMs });
      drainSeconds = ms / 1000;
      o.log(`drained ${drainSeconds.toFixed(1)} s after the load`);
    } catch (err) {
      violations.push({ check: 'platform', kind: 'not-drained', detail: { error: (err as Error).message } });
    }
    const checked = await runChecks({
      books: load.books,
      metricsUrls: platform.urls('metrics'),
      profilesUrls: platform.urls('profiles'),
      apiKey: API_KEY,
      kafkaBrokers: s.kafkaBrokers,
      topicNamespace,
      neo4j: { uri: s.neo4jUri, user: s.neo4jUser, password: s.neo4jPassword },
      graphNamespace,
      hmacKey: HMAC_KEY,
    });
    violations.push(...checked.violations);
    notes.push(...checked.notes);
    figures = checked.figures;
    const anyInstance = await checkAnyInstance({ profilesUrls: platform.urls('profiles'), metricsUrls: platform.urls('metrics'), apiKey: API_KEY, served: checked.served, sample: instances > 1 ? 100 : 20 });
    violations.push(...anyInstance.violations);
    const dropped = await identityDuplicatesDropped(platform.urls('identity'));
    if (dropped > 0) notes.push(`identity dropped ${dropped} copy(ies) of events already resolved (resends that reached another ingestion instance), counted by the identity instances still running`);
    o.log(`read ${anyInstance.figures.profilesCompared} profiles by id, by identity and ${anyInstance.figures.streamsOpened} streams across ${anyInstance.figures.instances} profiles instance(s)`);
  } finally {
    load?.stop();
    await load?.close();
    await platform.stop().catch((err: unknown) => o.log(`stopping services: ${String(err)}`));
    const topics = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(topicNamespace));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
    const driver = neo4j.driver(s.neo4jUri, neo4j.auth.basic(s.neo4jUser, s.neo4jPassword));
    const session = driver.session();
    // Auto-commit, in slices: a large namespace is deleted without one huge transaction.
    await session.run('MATCH (n {ns: $ns}) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS', { ns: graphNamespace }).catch((err: unknown) => o.log(`graph cleanup: ${String(err)}`));
    await session.close();
    await driver.close();
  }
  return { seed: o.seed, instances, events: o.events, mix: plan.mix, loadSeconds, drainSeconds, retries: load?.books.retries ?? 0, faults, violations, figures, notes };
}
