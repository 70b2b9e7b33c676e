/**
 * The short chaos schedule of issue 11, inside `./cdp test`: the bench:chaos machinery (same load,
 * same fault injector, same checks) on a few thousand events with a few faults. It kills Kafka, so
 * it runs on a Kafka + Neo4j of its own (own ports and state folder, started and stopped here),
 * never on the servers the other integration tests share. Asserts zero violations. A second run
 * has two instances of each service: instances of profiles and metrics are killed and their tasks
 * restored elsewhere, and every read (list, by id, by identity, stream, KPIs) answers the same
 * from either instance (check e).
 */
import { join } from 'node:path';
import { chaos } from '@cdp/testing';

const { OwnInfra, chaosRun, formatViolations } = chaos;

const ROOT = join(__dirname, '../../..');
const env = process.env;
const FAULTS: chaos.FaultKind[] = ['kill-identity', 'kill-metrics', 'kill-kafka'];
const INSTANCE_FAULTS: chaos.FaultKind[] = ['kill-profiles', 'kill-metrics'];
const SEED = Number(env.CHAOS_TEST_SEED ?? 20_260_411);

describe('chaos: a few faults under load lose nothing and count nothing twice', () => {
  let infra: chaos.OwnInfra | undefined;
  const log = (line: string) => env.CHAOS_TEST_VERBOSE === '1' && process.stderr.write(`[chaos] ${line}\n`);

  beforeAll(async () => {
    infra = await OwnInfra.start(
      {
        home: join(ROOT, env.CHAOS_TEST_INFRA_HOME ?? '.local/infra-chaos-test'),
        kafkaPort: Number(env.CHAOS_TEST_KAFKA_PORT ?? 29092),
        kafkaControllerPort: Number(env.CHAOS_TEST_KAFKA_CONTROLLER_PORT ?? 29093),
        neo4jBoltPort: Number(env.CHAOS_TEST_NEO4J_BOLT_PORT ?? 27687),
      },
      log,
    );
  }, 600_000);

  afterAll(async () => {
    await infra?.stop();
  }, 120_000);

  it(`survives ${FAULTS.join(', ')} with 0 violations (seed ${SEED})`, async () => {
    const result: chaos.RunResult = await chaosRun(infra!, {
      seed: SEED,
      events: 3000,
      rate: 200,
      faults: FAULTS,
      fault: { restartDelayMs: 1000, pauseMs: 10_000, recoverTimeoutMs: 90_000 },
      quietMs: 3000,
      drainTimeoutMs: 120_000,
      log,
    });
    // Every accepted event was offered and answered (the load really ran), then the checks.
    expect(result.figures?.acceptedEvents).toBeGreaterThan(2900);
    expect(result.faults.map((f) => f.kind).sort()).toEqual([...FAULTS].sort());
    if (result.violations.length > 0) process.stderr.write(`${formatViolations([result])}\n`);
    expect(result.violations).toEqual([]);
  }, 600_000);

  it(`with two instances of each service survives ${INSTANCE_FAULTS.join(', ')} and answers the same from either (seed ${SEED + 1})`, async () => {
    const result: chaos.RunResult = await chaosRun(infra!, {
      seed: SEED + 1,
      instances: 2,
      events: 3000,
      rate: 150,
      faults: INSTANCE_FAULTS,
      fault: { restartDelayMs: 1000, pauseMs: 10_000, recoverTimeoutMs: 90_000 },
      quietMs: 3000,
      drainTimeoutMs: 120_000,
      log,
    });
    expect(result.instances).toBe(2);
    expect(result.figures?.acceptedEvents).toBeGreaterThan(2900);
    expect(result.faults.map((f) => f.target).every((t) => /^(profiles|metrics)#[01]$/.test(t))).toBe(true);
    if (result.violations.length > 0) process.stderr.write(`${formatViolations([result])}\n`);
    expect(result.violations).toEqual([]);
  }, 900_000);
});
