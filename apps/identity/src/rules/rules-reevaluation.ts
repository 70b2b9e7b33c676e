/**
 * Bulk re-evaluation after a rule change. The graph remembers the fingerprint of the rules it was
 * last fully evaluated with (a `RulesState` node per graph namespace). When a service starts with
 * different rules, it walks every live profile in id order, applies the current rules to its
 * component (which may split it, merge it or change nothing) and publishes what changed, exactly as
 * an operator change would. Progress (a cursor) is kept in the graph, so a restart resumes; a lease
 * makes one instance of the group do the walk while the others keep resolving events. It runs in
 * the background: readiness and event resolution do not wait for it.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Driver } from 'neo4j-driver';
import { counter, gauge, type Logger, type Registry } from '@cdp/observability';
import type { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import type { ChangePublisher } from '../resolution/resolution.service';
import type { IdentityRules } from './identity-rules';

export const RULES_STATE_SCHEMA = ['CREATE CONSTRAINT rules_state IF NOT EXISTS FOR (r:RulesState) REQUIRE r.ns IS UNIQUE'];

/** Key-order independent, so the same rules in another file layout have the same fingerprint. */
export function rulesFingerprint(rules: IdentityRules): string {
  const stable = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(stable) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, stable(x)])) : v;
  return createHash('sha256').update(JSON.stringify(stable(rules))).digest('hex').slice(0, 32);
}

export interface ReevaluationOptions {
  readonly pageSize?: number;
  readonly leaseMs?: number;
}

export type ReevaluationOutcome = { readonly ran: false; readonly reason: 'up-to-date' | 'another-instance' | 'stopped' } | { readonly ran: true; readonly profiles: number; readonly changes: number };

export class RulesReevaluation {
  private readonly owner = randomUUID();
  private stopping = false;
  private readonly metrics;
  private readonly pageSize: number;
  private readonly leaseMs: number;

  constructor(
    private readonly driver: Driver,
    private readonly database: string,
    private readonly ns: string,
    private readonly rules: IdentityRules,
    private readonly graph: IdentityGraphRepository,
    private readonly changes: ChangePublisher,
    private readonly logger: Logger,
    registry: Registry,
    options: ReevaluationOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 200;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.metrics = {
      profiles: counter(registry, 'cdp_identity_reevaluated_profiles_total', 'Profiles re-evaluated after a rule change, by result', ['result']),
      errors: counter(registry, 'cdp_identity_reevaluation_errors_total', 'Failed re-evaluation pages (retried on the next start or lease)'),
      progress: gauge(registry, 'cdp_identity_reevaluation_running', '1 while this instance re-evaluates the graph after a rule change'),
    };
  }

  get fingerprint(): string {
    return rulesFingerprint(this.rules);
  }

  stop(): void {
    this.stopping = true;
  }

  /** Runs the walk if the graph was evaluated with other rules and no other instance holds the lease. */
  async run(): Promise<ReevaluationOutcome> {
    const claim = await this.claim();
    if (claim.status !== 'claimed') return { ran: false, reason: claim.status };
    this.metrics.progress.set(1);
    const started = Date.now();
    let cursor = claim.cursor;
    let profiles = 0;
    let changes = 0;
    this.logger.info({ rulesVersion: this.rules.version, fingerprint: this.fingerprint, resumeFrom: cursor === '' ? null : 'cursor' }, 'rules changed: re-evaluating the identity graph');
    try {
      for (;;) {
        if (this.stopping) return { ran: false, reason: 'stopped' };
        const ids = await this.graph.liveProfileIds(cursor, this.pageSize);
        if (ids.length === 0) break;
        for (const id of ids) {
          if (this.stopping) break;
          const result = await this.graph.reevaluateProfile(id, `rules-v${this.rules.version}`);
          // Published before the cursor moves past it: a crash in between re-evaluates this
          // profile again (idempotent), the changes themselves reach Kafka first.
          await this.changes.publishChanges(result.changes);
          changes += result.changes.length;
          profiles++;
          cursor = id;
          this.metrics.profiles.inc({ result: result.changes.length ? 'changed' : 'unchanged' });
        }
        if (!(await this.renew(cursor))) return { ran: false, reason: 'another-instance' };
        this.logger.info({ profiles, changes, elapsedMs: Date.now() - started }, 're-evaluation progress');
      }
      await this.finish();
      this.logger.info({ profiles, changes, elapsedMs: Date.now() - started }, 're-evaluation done');
      return { ran: true, profiles, changes };
    } catch (err) {
      this.metrics.errors.inc();
      this.logger.error({ err: (err as Error).message, profiles }, 're-evaluation failed; it resumes from its cursor on the next start');
      throw err;
    } finally {
      this.metrics.progress.set(0);
    }
  }

  private async claim(): Promise<{ status: 'claimed'; cursor: string } | { status: 'up-to-date' | 'another-instance' }> {
    const res = await this.driver.executeQuery(
      `MERGE (s:RulesState {ns: $ns})
       WITH s, s.fingerprint = $fp AS upToDate,
            (s.runner IS NOT NULL AND s.runner <> $owner AND s.leaseUntil > $now) AS leased,
            CASE WHEN s.target = $fp THEN coalesce(s.cursor, '') ELSE '' END AS cursor
       FOREACH (_ IN CASE WHEN upToDate OR leased THEN [] ELSE [1] END |
         SET s.runner = $owner, s.leaseUntil = $now + $leaseMs, s.target = $fp, s.cursor = cursor)
       RETURN upToDate, leased, cursor`,
      { ns: this.ns, fp: this.fingerprint, owner: this.owner, now: Date.now(), leaseMs: this.leaseMs },
      { database: this.database },
    );
    const row = res.records[0]!;
    if (row.get('upToDate') as boolean) return { status: 'up-to-date' };
    if (row.get('leased') as boolean) return { status: 'another-instance' };
    return { status: 'claimed', cursor: row.get('cursor') as string };
  }

  /** Saves progress and extends the lease; false if another instance took over. */
  private async renew(cursor: string): Promise<boolean> {
    const res = await this.driver.executeQuery(
      `MATCH (s:RulesState {ns: $ns}) WHERE s.runner = $owner
       SET s.cursor = $cursor, s.leaseUntil = $now + $leaseMs
       RETURN count(s) AS n`,
      { ns: this.ns, owner: this.owner, cursor, now: Date.now(), leaseMs: this.leaseMs },
      { database: this.database },
    );
    return (res.records[0]!.get('n') as number) > 0;
  }

  private async finish(): Promise<void> {
    await this.driver.executeQuery(
      `MATCH (s:RulesState {ns: $ns}) WHERE s.runner = $owner
       SET s.fingerprint = $fp, s.version = $version, s.evaluatedAt = $now
       REMOVE s.runner, s.leaseUntil, s.cursor, s.target`,
      { ns: this.ns, owner: this.owner, fp: this.fingerprint, version: this.rules.version, now: Date.now() },
      { database: this.database },
    );
  }
}
