/**
 * `npm run bench:accuracy`: feeds a seeded synthetic population (population.ts beside it) through the
 * identity resolution logic (the service's keyer and graph repository) against the real Neo4j, in
 * a graph namespace of its own, then scores the final grouping of events against the truth with
 * pairwise precision, recall and F1. Events with no identity that may link (ads, junk-only,
 * kiosk-only) cannot be placed by any resolver and are reported but not scored.
 * Events go in chunks, as the service's batch consumer hands them over (IdentityGraphRepository.resolveMany),
 * several chunks at once. 10,000 people by default: with 1,000, a handful of households decide
 * the precision, and it moves by ±0.005 from one seed to the next.
 * Env: ACCURACY_SEED (42), ACCURACY_PEOPLE (10000), ACCURACY_CONCURRENCY (4), ACCURACY_CHUNK (100), IDENTITY_RULES_FILE (defaults), NEO4J_*.
 */
import { randomBytes } from 'node:crypto';
import neo4j from 'neo4j-driver';
import { ensureGraphSchema } from '../src/graph/neo4j';
import { defaultRules, loadRules, ruleOf } from '../src/rules/identity-rules';
import { IdentityGraphRepository } from '../src/resolution/identity-graph.repository';
import { IdentityKeyer } from '../src/resolution/identity-keyer';
import { generatePopulation, type TruthEvent } from './population';
import type { CanonicalEvent } from '@cdp/contracts';
import { machine, writeResult } from '@cdp/testing';

const pairs = (n: number) => (n * (n - 1)) / 2;

/** Pairwise scores from the contingency of (truth, predicted) labels. */
export function pairwise(labels: readonly { truth: string; predicted: string }[]): { precision: number; recall: number; f1: number; truePairs: number; predictedPairs: number } {
  const cell = new Map<string, number>();
  const truth = new Map<string, number>();
  const predicted = new Map<string, number>();
  for (const l of labels) {
    cell.set(`${l.truth}\u0000${l.predicted}`, (cell.get(`${l.truth}\u0000${l.predicted}`) ?? 0) + 1);
    truth.set(l.truth, (truth.get(l.truth) ?? 0) + 1);
    predicted.set(l.predicted, (predicted.get(l.predicted) ?? 0) + 1);
  }
  const tp = [...cell.values()].reduce((s, n) => s + pairs(n), 0);
  const truePairs = [...truth.values()].reduce((s, n) => s + pairs(n), 0);
  const predictedPairs = [...predicted.values()].reduce((s, n) => s + pairs(n), 0);
  const precision = predictedPairs === 0 ? 1 : tp / predictedPairs;
  const recall = truePairs === 0 ? 1 : tp / truePairs;
  return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), truePairs, predictedPairs };
}

/**
 * The reachable truth: per person, the groups of their identities that their own events link
 * (identities co-occurring in one event, transitively). A social handle that never appears with
 * anything else is a separate entity here, because no evidence could ever link it; an event whose
 * only identities are used by several people (a family tablet) cannot be attributed by anyone and
 * is left out (undefined), and counted.
 */
export function reachableLabels(events: readonly CanonicalEvent[], labels: readonly { truth: string }[], keyer: IdentityKeyer): (string | undefined)[] {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  const union = (a: string, b: string) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  };
  // Evidence used by several people (a family tablet, a shared email, a recycled number) says nothing
  // about which of them an event came from when it is all the event has.
  const usersOf = new Map<string, Set<string>>();
  events.forEach((e, i) => keyer.linkable(e).forEach((id) => usersOf.set(id.key, (usersOf.get(id.key) ?? new Set()).add(labels[i]!.truth))));
  const sharedOnly = events.map((e) => {
    const ids = keyer.linkable(e);
    return ids.every((id) => usersOf.get(id.key)!.size > 1);
  });
  const nodes = events.map((e, i) => keyer.linkable(e).map((id) => `${labels[i]!.truth}\u0000${id.key}`));
  for (const ids of nodes) {
    for (const n of ids) if (!parent.has(n)) parent.set(n, n);
    for (let j = 1; j < ids.length; j++) union(ids[0]!, ids[j]!);
  }
  return nodes.map((ids, i) => (sharedOnly[i] ? undefined : find(ids[0]!)));
}

function debugImpure(labels: readonly { truth: string; predicted: string }[], events: readonly CanonicalEvent[], reachable: readonly (string | undefined)[]): void {
  const byProfile = new Map<string, { persons: Set<string>; types: Set<string>; channels: Set<string> }>();
  labels.forEach((l, i) => {
    if (reachable[i] === undefined) return;
    const entry = byProfile.get(l.predicted) ?? { persons: new Set(), types: new Set(), channels: new Set() };
    entry.persons.add(l.truth);
    for (const id of events[i]!.identities) entry.types.add(id.type);
    entry.channels.add(events[i]!.channel);
    byProfile.set(l.predicted, entry);
  });
  const impureIds = [...byProfile.entries()].filter(([, e]) => e.persons.size > 1).map(([id]) => id);
  for (const id of impureIds.slice(0, 2)) {
    const persons = byProfile.get(id)!.persons;
    labels.forEach((l, i) => {
      if (!persons.has(l.truth)) return;
      const e = events[i]!;
      process.stdout.write(`  ${l.truth} -> ${l.predicted === id ? 'HERE' : l.predicted} t=${e.occurredAt} ${e.channel} ${e.identities.map((x) => `${x.type}=${x.value}`).join(' ')}\n`);
    });
  }
  const byTruth = new Map<string, Set<string>>();
  labels.forEach((l, i) => reachable[i] !== undefined && byTruth.set(reachable[i], (byTruth.get(reachable[i]) ?? new Set()).add(l.predicted)));
  const split = [...byTruth.entries()].filter(([, p]) => p.size > 1);
  process.stdout.write(`truth entities split over several profiles: ${split.length}\n`);
  for (const [truth] of split.slice(0, 6)) {
    process.stdout.write(`split ${truth.split('\u0000')[0]}:\n`);
    labels.forEach((l, i) => {
      if (reachable[i] !== truth) return;
      const e = events[i]!;
      process.stdout.write(`    -> ${l.predicted} t=${e.occurredAt} ${e.channel} ${e.identities.map((x) => `${x.type}=${x.value}`).join(' ')}\n`);
    });
  }
  const impure = [...byProfile.values()].filter((e) => e.persons.size > 1).slice(0, 15);
  for (const e of impure) process.stdout.write(`impure: ${[...e.persons].join(',')} types ${[...e.types].join(',')} channels ${[...e.channels].join(',')}\n`);
}

async function main(): Promise<void> {
  const seed = Number(process.env.ACCURACY_SEED ?? 42);
  const people = Number(process.env.ACCURACY_PEOPLE ?? 10_000);
  const chunkSize = Number(process.env.ACCURACY_CHUNK ?? 100);
  const concurrency = Number(process.env.ACCURACY_CONCURRENCY ?? 4);
  const rules = process.env.IDENTITY_RULES_FILE ? loadRules(process.env.IDENTITY_RULES_FILE) : defaultRules();
  const keyer = new IdentityKeyer('accuracy-benchmark-hmac-key-0123456789', rules);
  const population = generatePopulation({ seed, people });
  const driver = neo4j.driver(process.env.NEO4J_URI ?? 'bolt://127.0.0.1:7687', neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD ?? 'cdp-local-password'), {
    disableLosslessIntegers: true,
  });
  const graph = new IdentityGraphRepository(driver, process.env.NEO4J_DATABASE ?? 'neo4j', `accuracy-${randomBytes(4).toString('hex')}`, rules);
  const started = Date.now();
  try {
    await ensureGraphSchema(driver, process.env.NEO4J_DATABASE ?? 'neo4j');
    // Several events at once: arrival order is already shuffled, and the result must not depend on it.
    let next = 0;
    let reported = 0;
    const worker = async () => {
      while (next < population.events.length) {
        const chunk = population.events.slice(next, (next += chunkSize));
        const requests = chunk.flatMap(({ event }) => {
          const { linkable, names } = keyer.prepare(event);
          return linkable.length > 0 ? [{ identities: linkable, names, evidence: { eventId: event.eventId, channel: event.channel, occurredAt: event.occurredAt } }] : [];
        });
        await graph.resolveMany(requests);
        const done = Math.min(next, population.events.length);
        if (done >= reported + population.events.length / 10) {
          reported = done;
          process.stdout.write(`resolved ${done} of ${population.events.length} events (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const resolveSeconds = (Date.now() - started) / 1000;

    const profileOfKey = new Map<string, number>();
    (await graph.grouping()).forEach((keys, i) => keys.forEach((k) => profileOfKey.set(k, i)));
    const unique = new Map<string, TruthEvent>(population.events.map((e) => [e.event.eventId, e]));
    const labels: { truth: string; predicted: string }[] = [];
    let unplaceable = 0;
    const scoredEvents: CanonicalEvent[] = [];
    for (const { event, personId } of unique.values()) {
      const strongest = keyer.linkable(event).sort((a, b) => ruleOf(rules, b.type).priority - ruleOf(rules, a.type).priority)[0];
      const profile = strongest ? profileOfKey.get(strongest.key) : undefined;
      if (profile === undefined) {
        unplaceable++;
        continue;
      }
      labels.push({ truth: personId, predicted: String(profile) });
      scoredEvents.push(event);
    }
    const reachableTruth = reachableLabels(scoredEvents, labels, keyer);
    const scores = pairwise(labels);
    const attributable = labels.flatMap((l, i) => (reachableTruth[i] === undefined ? [] : [{ truth: reachableTruth[i], predicted: l.predicted }]));
    const reachable = pairwise(attributable);
    if (process.env.ACCURACY_DEBUG) debugImpure(labels, scoredEvents, reachableTruth);
    const result = {
      benchmark: 'identity accuracy (pairwise over events, default rules)',
      command: 'npm run bench:accuracy',
      seed,
      rules: process.env.IDENTITY_RULES_FILE ?? 'built-in defaults',
      rulesVersion: rules.version,
      people: population.people,
      eventsDelivered: population.events.length,
      uniqueEvents: unique.size,
      scoredEvents: attributable.length,
      unattributableEvents: labels.length - attributable.length,
      unplaceableEvents: unplaceable,
      hardCases: population.hardCases,
      truth: 'reachable: a person\'s events that their own identities link by co-occurring in their own events (what any resolver can know); raw: all events of a person',
      precision: Number(reachable.precision.toFixed(5)),
      recall: Number(reachable.recall.toFixed(5)),
      f1: Number(reachable.f1.toFixed(5)),
      raw: { precision: Number(scores.precision.toFixed(5)), recall: Number(scores.recall.toFixed(5)), f1: Number(scores.f1.toFixed(5)) },
      truePairs: reachable.truePairs,
      predictedPairs: reachable.predictedPairs,
      targets: { precision: 0.995, recall: 0.98 },
      met: { precision: reachable.precision >= 0.995, recall: reachable.recall >= 0.98 },
      profiles: new Set(profileOfKey.values()).size,
      resolveSeconds,
      concurrency,
      chunkSize,
      machine: machine(),
      measuredAt: new Date().toISOString(),
    };
    process.stdout.write(
      `people ${result.people}, events ${result.uniqueEvents} (+${result.eventsDelivered - result.uniqueEvents} duplicates), scored ${result.scoredEvents}, unattributable ${result.unattributableEvents}, unplaceable ${unplaceable}\n` +
        `reachable truth: precision ${result.precision}  recall ${result.recall}  F1 ${result.f1}  (targets 0.995 / 0.98)\n` +
        `raw person truth: precision ${result.raw.precision}  recall ${result.raw.recall}  F1 ${result.raw.f1}\n` +
        `resolved in ${resolveSeconds.toFixed(1)} s, ${concurrency} chunks of ${chunkSize} events at once\n`,
    );
    process.stdout.write(`wrote ${writeResult('accuracy', result)}\n`);
  } finally {
    await graph.deleteNamespace();
    await driver.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
