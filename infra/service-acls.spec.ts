/**
 * The per-service Kafka ACL table (infra/local/kafka/service-acls.json) names real topics and the
 * groups and transactional ids the services really use, and docs/security.md lists all of it. (The
 * secure integration test, apps/platform-e2e/src/secure-kafka.int.spec.ts, proves it is enough.)
 * It lives outside the local-infra project because it reads the services' topic contracts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_TOPICS, CONSUMER_GROUPS, isJanitored, type TopicContract } from '@cdp/contracts';
import { seenEventsTopic } from '../apps/identity/src/dedupe/seen-events-contract';
import { kpiChangelogTopic, kpiHandoverTopic } from '../apps/metrics/src/kafka/kpi-topics';
import { profileChangelogTopic } from '../apps/profiles/src/kafka/changelog-contract';
import { profileHandoverTopic } from '../apps/profiles/src/kafka/handover-contract';

interface Acl {
  resource: 'topic' | 'group' | 'transactional_id';
  pattern: 'literal' | 'prefixed';
  name: string;
  operations: string[];
}
const ROOT = join(__dirname, '..');
const table = (JSON.parse(readFileSync(join(__dirname, 'local/kafka/service-acls.json'), 'utf8')) as { services: Record<string, { user: string; acls: Acl[] }> }).services;
const docs = readFileSync(join(ROOT, 'docs/security.md'), 'utf8');
const topics = new Set([...ALL_TOPICS, profileChangelogTopic, profileHandoverTopic, kpiChangelogTopic, kpiHandoverTopic, seenEventsTopic].map((t) => t.name));
const entries = Object.entries(table).flatMap(([service, { acls }]) => acls.map((acl) => [service, acl] as const));

describe('service ACLs', () => {
  it('cover the four services, each with its own user', () => {
    expect(Object.keys(table).sort()).toEqual(['identity', 'ingestion', 'metrics', 'profiles']);
    for (const [service, { user }] of Object.entries(table)) expect(user).toBe(`cdp-${service}`);
  });

  it.each(entries.filter(([, a]) => a.resource === 'topic' && a.pattern === 'literal'))('%s: literal topic %o is a real topic', (_svc, acl) => {
    expect(topics).toContain(acl.name.replace('{ns}', ''));
  });

  it.each(Object.keys(table))('%s: its consumer group and transactional ids (<group>.<topic>.<partition>) are granted', (service) => {
    // The services join CONSUMER_GROUPS[service] (their start.ts); the erasure janitor's consumedBy names the same groups.
    const start = readFileSync(join(ROOT, `apps/${service}/src/start.ts`), 'utf8');
    expect(start).toMatch(service === 'metrics' ? /groupId: METRICS_GROUP/ : new RegExp(`groupId: CONSUMER_GROUPS\\.${service}`));
    const group = CONSUMER_GROUPS[service as keyof typeof CONSUMER_GROUPS];
    const acls = table[service]!.acls;
    expect(acls).toContainEqual({ resource: 'group', pattern: 'literal', name: `{ns}${group}`, operations: ['read'] });
    expect(acls).toContainEqual({ resource: 'transactional_id', pattern: 'prefixed', name: `{ns}${group}.`, operations: ['write'] });
  });

  it.each(Object.keys(table))('%s: may delete and roll the janitored topics it consumes, and read the commits of every group they wait for', (service) => {
    const group = CONSUMER_GROUPS[service as keyof typeof CONSUMER_GROUPS];
    const contracts: TopicContract<unknown>[] = [...ALL_TOPICS, profileHandoverTopic, kpiHandoverTopic];
    const consumed = contracts.filter((c) => isJanitored(c.config) && (c.config.consumedBy ?? []).includes(group));
    const acls = table[service]!.acls;
    const grants = (topic: string, op: string) => acls.some((a) => a.resource === 'topic' && a.operations.includes(op) && (a.pattern === 'literal' ? a.name === `{ns}${topic}` : `{ns}${topic}`.startsWith(a.name)));
    for (const c of consumed) {
      const name = c.name.startsWith('cdp.raw.') ? 'cdp.raw.email.v1' : c.name;
      expect([name, grants(name, 'delete'), grants(name, 'write')]).toEqual([name, true, true]);
      for (const other of (c.config.consumedBy ?? []).filter((g) => g !== group)) {
        expect(acls).toContainEqual(expect.objectContaining({ resource: 'group', pattern: 'literal', name: `{ns}${other}`, operations: expect.arrayContaining(['describe']) as unknown }));
      }
    }
  });

  it.each(entries)('%s: docs/security.md lists %o', (_svc, acl) => {
    expect(docs).toContain(`| ${acl.resource} | ${acl.pattern} | \`${acl.name}\` | ${acl.operations.join(', ')} |`);
  });
});
