/**
 * `npm run bench:chaos`: exactly-once under faults (issue 11). Builds the four services, starts a
 * Kafka + Neo4j of its own (it kills them; never the shared ones), then per run: a realistic mixed
 * load over HTTP and the raw topics while faults fire at seeded random moments (SIGKILL of each
 * service then restart, SIGKILL + restart of Kafka and of Neo4j, SIGSTOP/SIGCONT of a service for
 * longer than the session timeout), drain, and the checks of libs/testing/src/chaos/checks.ts (the
 * machinery lives in the testing lib because the short schedule in `./cdp test` reuses it). Prints a table
 * per fault kind and every violation, writes bench-results/chaos.json, stops its servers.
 *
 * Flags: --seed N (default: random, printed; run i uses seed + i), --runs N (1), --events N (20000),
 * --rate N events/s (200), --instances N of each service (1; a kill or pause hits one seeded
 * instance), --faults kind,... (all: kill-ingestion,kill-identity,kill-profiles,
 * kill-metrics,kill-kafka,kill-neo4j,pause-service,replace-instance,rolling-restart; "none" for runs without faults), --per-run
 * one|all (one: each run has one fault, N runs of each kind, so violations are attributed exactly,
 * as in the reproduction; all: every kind in each of N runs, one after the other),
 * --pause-ms (10000, longer than the 6 s session timeout), --restart-delay-ms (2000), --keep-infra (leave the servers running), --no-build,
 * --label L (writes bench-results/chaos-L.json instead of chaos.json, which holds the reference schedule).
 * Env: CHAOS_INFRA_HOME (.local/infra-chaos), CHAOS_KAFKA_PORT (19092), CHAOS_KAFKA_CONTROLLER_PORT
 * (19093), CHAOS_NEO4J_BOLT_PORT (17687), CHAOS_JARS_FROM (a filled provider jars folder).
 * Exit code 0 with no violations, 1 with violations, 2 on a bench error.
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, chaosRun, formatTable, formatViolations, tableByKind, type FaultKind, type OwnInfra, type RunResult } from '@cdp/testing/chaos';
import { benchServers, buildServices } from './lib/platform-setup';
import { machine, writeResult } from '@cdp/testing';


function parseFaults(v: string): FaultKind[] {
  if (v === 'none') return [];
  if (v === 'all') return [...FAULT_KINDS];
  const kinds = v.split(',').map((k) => k.trim());
  const bad = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (bad.length) throw new Error(`unknown fault kind(s) ${bad.join(', ')}; known: ${FAULT_KINDS.join(', ')}, all, none`);
  return kinds as FaultKind[];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      runs: { type: 'string', default: '1' },
      events: { type: 'string', default: '20000' },
      rate: { type: 'string', default: '200' },
      instances: { type: 'string', default: '1' },
      faults: { type: 'string', default: 'all' },
      'per-run': { type: 'string', default: 'one' },
      'pause-ms': { type: 'string', default: '10000' },
      'restart-delay-ms': { type: 'string', default: '2000' },
      'keep-infra': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      label: { type: 'string', default: '' },
    },
  });
  const seed0 = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const runs = Number(values.runs);
  const faults = parseFaults(values.faults!);
  const perRun = values['per-run'];
  if (perRun !== 'one' && perRun !== 'all') throw new Error('--per-run is one or all');
  // Which faults each run injects.
  const schedule: FaultKind[][] = perRun === 'all' || faults.length === 0 ? Array.from({ length: runs }, () => faults) : Array.from({ length: runs }, () => faults.map((f) => [f])).flat();
  const log = (line: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  log(`seed ${seed0} (repeat with --seed ${seed0}), ${schedule.length} run(s), faults ${faults.join(',') || 'none'} (${perRun} per run)`);

  if (!values['no-build']) buildServices(log);
  const { infra } = (await benchServers(false, log)) as { infra: OwnInfra };
  const results: RunResult[] = [];
  try {
    for (let i = 0; i < schedule.length; i++) {
      results.push(
        await chaosRun(infra, {
          seed: seed0 + i,
          events: Number(values.events),
          rate: Number(values.rate),
          faults: schedule[i]!,
          instances: Number(values.instances),
          fault: { restartDelayMs: Number(values['restart-delay-ms']), pauseMs: Number(values['pause-ms']), recoverTimeoutMs: 120_000 },
          quietMs: 5000,
          drainTimeoutMs: 300_000,
          log,
        }),
      );
      log(`run ${i + 1}/${schedule.length}: ${results[i]!.violations.length} violation(s)`);
      for (const v of results[i]!.violations) log(`  [${v.check}] ${v.kind}: ${JSON.stringify(v.detail).slice(0, 300)}`);
    }
  } finally {
    if (!values['keep-infra']) await infra.stop();
  }
  const rows = tableByKind(results);
  const table = formatTable(rows);
  const detail = formatViolations(results);
  process.stdout.write(`\n${table}\n\n${detail || 'no violations'}\n`);
  const file = writeResult(values.label ? `chaos-${values.label}` : 'chaos', {
    benchmark: 'chaos',
    command: `npm run bench:chaos -- ${process.argv.slice(2).join(' ')}`.trim(),
    measuredAt: new Date().toISOString(),
    machine: machine(),
    seed: seed0,
    settings: { runs: schedule.length, perRun, instances: Number(values.instances), events: Number(values.events), rate: Number(values.rate), faults, pauseMs: Number(values['pause-ms']), restartDelayMs: Number(values['restart-delay-ms']) },
    table: rows,
    totalViolations: results.reduce((s, r) => s + r.violations.length, 0),
    runs: results,
  });
  process.stdout.write(`written to ${file}\n`);
  return results.some((r) => r.violations.length > 0) ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}
