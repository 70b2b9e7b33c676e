import { join } from 'node:path';
import { config, DEFAULTS, REPO_ROOT } from './config';
import { InfraError } from './infra-error';
import { serverProperties } from './kafka-server';
import { isTopicNamespace, serviceAclPlan, type ServiceAclTable } from './secure-kafka';

describe('local provider config', () => {
  it('defaults to the documented ports and home', () => {
    const c = config({ env: {} });
    expect([c.kafka.port, c.kafka.controllerPort, c.neo4j.port]).toEqual([DEFAULTS.kafkaPort, DEFAULTS.kafkaControllerPort, DEFAULTS.neo4jBoltPort]);
    expect(c.home).toBe(join(REPO_ROOT, '.local', 'infra'));
    expect(c.secure).toBeNull();
  });

  it('takes ports and home from the environment (a second instance beside the first, as the chaos bench runs)', () => {
    const c = config({ env: { CDP_INFRA_HOME: '.local/infra-x', KAFKA_PORT: '19092', KAFKA_CONTROLLER_PORT: '19093', NEO4J_BOLT_PORT: '17687' } });
    expect([c.kafka.port, c.kafka.controllerPort, c.neo4j.port]).toEqual([19092, 19093, 17687]);
    expect(c.home).toBe(join(REPO_ROOT, '.local', 'infra-x'));
  });

  it('secure mode has a home and ports of its own, and reuses the plain jars', () => {
    const c = config({ env: {}, secure: true });
    expect(c.home).toBe(join(REPO_ROOT, '.local', 'infra-secure'));
    expect([c.kafka.port, c.kafka.controllerPort]).toEqual([DEFAULTS.secureKafkaPort, DEFAULTS.secureKafkaControllerPort]);
    expect(c.secure?.acls).toMatch(/service-acls\.json$/);
  });

  it.each([
    [{ KAFKA_PORT: '70000' }, /KAFKA_PORT=70000 is not a valid TCP port/],
    [{ KAFKA_PORT: 'abc' }, /KAFKA_PORT=abc/],
    [{ KAFKA_PORT: '9100', KAFKA_CONTROLLER_PORT: '9100' }, /must differ/],
    [{ NEO4J_BOLT_PORT: '9092' }, /NEO4J_BOLT_PORT \(9092\) clashes/],
    [{ NEO4J_PASSWORD: 'short' }, /at least 8 characters/],
    [{ CDP_INFRA_KAFKA_HEAP: 'lots' }, /CDP_INFRA_KAFKA_HEAP=lots must look like 512m/],
    [{ CDP_INFRA_START_TIMEOUT: '-1' }, /CDP_INFRA_START_TIMEOUT=-1 must be a positive number/],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => config({ env })).toThrow(InfraError);
    expect(() => config({ env })).toThrow(message);
  });
});

describe('Kafka server.properties', () => {
  it('plain mode listens on plaintext only, with single-node replication and no rebalance delay', () => {
    const props = serverProperties(config({ env: { KAFKA_PORT: '19092', KAFKA_CONTROLLER_PORT: '19093' } }).kafka, null);
    expect(props).toContain('listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(props).toContain('transaction.state.log.replication.factor=1');
    expect(props).toContain('group.initial.rebalance.delay.ms=0');
    expect(props).not.toMatch(/SASL/);
  });

  it('runs the log cleaner with a short idle backoff, so an erasure bound of seconds can be met in tests', () => {
    const props = serverProperties(config({ env: { KAFKA_PORT: '19092', KAFKA_CONTROLLER_PORT: '19093' } }).kafka, null);
    expect(props).toContain('log.cleaner.enable=true');
    expect(props).toContain('log.cleaner.backoff.ms=2000');
  });
});

describe('service ACL plan', () => {
  const table: ServiceAclTable = {
    profiles: { user: 'cdp-profiles', acls: [{ resource: 'topic', pattern: 'prefixed', name: '{ns}cdp.profiles.', operations: ['write', 'describe'] }] },
  };

  it('puts the namespace into every resource name, one line per operation', () => {
    expect(serviceAclPlan(table, 'ns1.')).toEqual(['acl\tUser:cdp-profiles\ttopic\tprefixed\tns1.cdp.profiles.\twrite', 'acl\tUser:cdp-profiles\ttopic\tprefixed\tns1.cdp.profiles.\tdescribe']);
  });

  it.each([
    ['', true],
    ['chaos-ab12.', true],
    ['Chaos.', false],
    ['no-dot', false],
    ['a.b.', false],
  ])('namespace %j is %s', (ns, ok) => {
    expect(isTopicNamespace(ns)).toBe(ok);
  });
});
