/**
 * Applies resolved events and identity changes to the store and returns what to publish: the full
 * profile of every changed profile, tombstones for merged-away and erased ids, and the changelog
 * record of every id touched. Records come in chunks of one input partition (the consumer loop's
 * batch mode): a chunk's state changes and its offsets commit in ONE LMDB transaction; the loop
 * then commits the chunk's outputs and its Kafka offset in one Kafka transaction.
 *
 * Within the LMDB transaction each record is still checked on its own: a record at an offset the
 * store already holds (redelivered after a crash between the store commit and the Kafka commit)
 * changes nothing and republishes the current state of what it touched; an event id or change id
 * already applied changes nothing either, whatever its offset. Outputs are de-duplicated per topic
 * and key, the last one winning: exactly what the compacted topics would keep had every record
 * published on its own, without the intermediate snapshots (live readers over SSE still see every
 * change). Chunks are applied one at a time (see start.ts), so the order of the Kafka commits is
 * the order of the store commits and a compacted topic always ends on a profile's latest state.
 * The purpose feeds (`purpose-feeds.ts`) get their outputs from the same snapshot, and the feeds
 * a profile is on change in the same store transaction.
 */
import { Inject, Injectable } from '@nestjs/common';
import { PURPOSE_FEEDS, profileUpdatesTopic, purposeFeedTopics, type ConsentPolicy, type IdentityChange, type Profile, type ResolvedEvent } from '@cdp/contracts';
import { ok, output, retry, type HandlerResult, type InboundMessage, type OutboundMessage } from '@cdp/kafka';
import { counter, type Logger, type Registry } from '@cdp/observability';
import { LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import { aliasState, erasedState, profileChangelogTopic, stateOfRecord, type ProfileState } from '../kafka/changelog-contract';
import { profileHandoverTopic } from '../kafka/handover-contract';
import type { FeedExit, StoreTx } from '../store/lmdb-profile-store';
import { logLimitsOf, type ProfilesConfig } from '../config';
import { ProfileStore } from '../store/profile-store';
import { PROFILES_CONFIG } from '../tokens';
import type { LogLimits } from './event-log';
import type { Handover, Locality } from './handover';
import { applyChange, applyHandover, applyResolved, canonicalId, linkHolders, type Touched } from './profile-transitions';
import { ProfileUpdatesHub, type ProfileChange } from './profile-updates-hub';
import { purposeFeedOutputs } from './purpose-feeds';

/** How to apply one input record inside the chunk's transaction. */
interface Step {
  readonly cause: string;
  readonly apply: (tx: StoreTx, now: number, local: Locality) => Touched;
  /** The ids a record already applied touched (the replay path republishes their current state). */
  readonly namedIds: (tx: StoreTx, local: Locality) => string[];
}

/** One output after de-duplication; `cause` is set on profile updates of records applied now. */
interface Pending {
  readonly output: OutboundMessage;
  readonly cause?: string;
  /** Set on purpose feed outputs of records applied now. */
  readonly feed?: string;
}

interface Applied {
  readonly outputs: Pending[];
  /** Every change of every record applied now, in order: live readers (SSE) see each one. */
  readonly changes: ProfileChange[];
  readonly replays: number;
}

@Injectable()
export class MaterialiserService {
  private readonly metrics;
  private readonly limits: LogLimits;
  private readonly policy: ConsentPolicy;

  constructor(
    private readonly store: ProfileStore,
    private readonly hub: ProfileUpdatesHub,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(PROFILES_CONFIG) config: ProfilesConfig,
  ) {
    this.limits = logLimitsOf(config);
    this.policy = config.CONSENT_POLICY;
    this.metrics = {
      updates: counter(registry, 'cdp_profile_updates_total', 'Profile updates published', ['cause']),
      replays: counter(registry, 'cdp_profile_replayed_records_total', 'Records already in the store (redelivered); republished, not re-applied', ['topic']),
      feeds: counter(registry, 'cdp_profile_purpose_feed_outputs_total', 'Purpose feed outputs of records applied now (not replays)', ['feed', 'kind']),
      storeErrors: counter(registry, 'cdp_profile_store_errors_total', 'Failed store transactions (the record is retried)', ['topic']),
    };
  }

  onResolved(messages: readonly InboundMessage<ResolvedEvent>[]): Promise<HandlerResult[]> {
    return this.handle(messages, (message) => ({
      cause: 'event',
      apply: (tx, now, local) => applyResolved(tx, message.value, now, this.limits, local),
      namedIds: (tx) => {
        const owner = tx.eventOwner(message.value.event.eventId);
        return owner ? [owner] : [];
      },
    }));
  }

  onChange(messages: readonly InboundMessage<IdentityChange>[]): Promise<HandlerResult[]> {
    return this.handle(messages, ({ value: change, partition }) => {
      const named = [change.survivorProfileId, ...change.otherProfileIds, ...change.parts.map((p) => p.profileId)];
      // An erasure also rewrote the profiles that linked the person here: a replay republishes them.
      const linked = change.kind === 'ERASE' ? (change.linkedProfileIds ?? []) : [];
      const namedIds = (tx: StoreTx, local: Locality) => (linked.length > 0 ? [...named, ...linkHolders(tx, linked, named, local).local] : named);
      return {
        cause: change.kind.toLowerCase(),
        apply: (tx, now, local) => {
          if (tx.isChangeApplied(change.changeId)) return replayTouched(tx, namedIds(tx, local));
          tx.markChangeApplied(change.changeId, partition);
          const touched = applyChange(tx, change, now, this.limits, local);
          const removed = named.filter((id) => local.isLocal(id) && (tx.aliasOf(id) !== undefined || tx.isErased(id)));
          return { ...touched, removed: [...new Set([...touched.removed, ...removed])] };
        },
        namedIds,
      };
    });
  }

  /** Handovers from other tasks (handover.ts): applied like the records that caused them. */
  onHandover(messages: readonly InboundMessage<Handover>[]): Promise<HandlerResult[]> {
    return this.handle(messages, ({ value: h }) => ({
      cause: `handover-${h.kind.toLowerCase()}`,
      apply: (tx, now, local) => applyHandover(tx, h, now, this.limits, local),
      namedIds: (tx, local) => (h.erasedLinks ? linkHolders(tx, [h.to], h.erasedLinks.visited, local).local : [h.to]),
    }));
  }

  /** One chunk of one input partition, in offset order: one store transaction; the outputs go back to the loop. */
  private async handle<V>(messages: readonly InboundMessage<V>[], stepOf: (message: InboundMessage<V>) => Step): Promise<HandlerResult[]> {
    const first = messages[0];
    if (!first) return [];
    const { topic, partition } = first;
    const steps = messages.map(stepOf);
    // The chunk's task holds only its own ids; the rest leaves as handovers.
    const local: Locality = { isLocal: (id) => this.store.taskOf(id) === partition };
    let applied: Applied;
    try {
      applied = await this.store.db.transact((tx) => {
        // Every handover of a record below this chunk was committed with that record's chunk.
        tx.pruneCommitted(topic, partition, BigInt(first.offset));
        /** In the order they were made: several may go to one id, and all must arrive. */
        const handovers: OutboundMessage[] = [];
        const outputs = new Map<string, Pending>();
        // The last output per topic and key wins, placed where it was last written.
        const put = (pending: Pending): void => {
          const key = `${pending.output.contract.name}\u0000${pending.output.key}`;
          outputs.delete(key);
          outputs.set(key, pending);
        };
        const changes: ProfileChange[] = [];
        let replays = 0;
        messages.forEach((message, i) => {
          const step = steps[i]!;
          const offset = BigInt(message.offset);
          const replay = offset < tx.nextOffset(topic, partition);
          const applied = replay ? replayTouched(tx, step.namedIds(tx, local).filter((id) => local.isLocal(id))) : step.apply(tx, Date.now(), local);
          if (replay) replays++;
          else tx.setNextOffset(topic, partition, offset + 1n);
          // A record applied before a crash that kept its Kafka transaction from committing sends
          // its handovers again: they were made once, from state that has moved on since.
          const sends = replay ? tx.handoversAt(topic, partition, offset) : (applied.send ?? []);
          if (!replay && sends.length > 0) tx.keepHandovers(topic, partition, offset, sends);
          for (const h of sends) handovers.push(output(profileHandoverTopic, h.to, h));
          const touched = { changed: applied.changed.filter((id) => local.isLocal(id)), removed: applied.removed.filter((id) => local.isLocal(id)) };
          const snap = snapshot(tx, touched);
          // A replay sends again the tombstones its first attempt sent (kept with its offset), on
          // the feeds the profile has not rejoined since; a later record that rejoined one
          // republishes the profile there when it is replayed in turn.
          const exitsKnown = replay && offset >= tx.feedExitsKeptFrom(topic, partition);
          const sentBefore = replay ? tx.feedExitsAt(topic, partition, offset) : [];
          if (exitsKnown) {
            for (const e of sentBefore) {
              const contract = feedContracts.get(e.feed);
              if (contract && !tx.isOnFeed(e.feed, e.profileId)) put({ output: output<Profile>(contract, e.profileId, null) });
            }
          }
          const exits: FeedExit[] = [];
          const toFeeds = (id: string, profile: Profile | null): void => {
            const { outputs: sends, left } = purposeFeedOutputs(tx, id, profile, this.policy, replay && !exitsKnown);
            for (const f of sends) put({ output: output(f.topic.contract, id, f.value), ...(replay ? {} : { feed: f.topic.feed.id }) });
            for (const feed of left) exits.push({ profileId: id, feed });
          };
          for (const profile of snap.profiles) {
            put({ output: output(profileUpdatesTopic, profile.profileId, profile), ...(replay ? {} : { cause: step.cause }) });
            toFeeds(profile.profileId, profile);
            if (!replay) changes.push({ kind: 'update', profile });
          }
          for (const id of touched.removed) {
            put({ output: output<Profile>(profileUpdatesTopic, id, null), ...(replay ? {} : { cause: `${step.cause}-tombstone` }) });
            toFeeds(id, null);
            if (!replay) changes.push({ kind: 'removed', profileId: id, survivorId: snap.survivors.get(id) ?? null });
          }
          if (exits.length > 0) tx.keepFeedExits(topic, partition, offset, [...sentBefore, ...exits]);
          // After the feeds: each state records the feeds its id is on now.
          for (const { id, state } of changelogStates(tx, touched)) put({ output: output(profileChangelogTopic, id, state) });
        });
        return { outputs: [...outputs.values(), ...handovers.map((o) => ({ output: o }))], changes, replays };
      });
    } catch (err) {
      this.metrics.storeErrors.inc({ topic });
      this.logger.error({ topic, partition, offset: first.offset, records: messages.length, err: (err as Error).message }, 'profile store transaction failed');
      return messages.map(() => retry(`profile store: ${(err as Error).message}`));
    }
    if (applied.replays) this.metrics.replays.inc({ topic }, applied.replays);
    for (const { cause, feed, output: o } of applied.outputs) {
      if (cause) this.metrics.updates.inc({ cause });
      if (feed) this.metrics.feeds.inc({ feed, kind: o.value === null ? 'tombstone' : 'profile' });
    }
    // Live readers follow the store, which the read API serves: it has committed.
    for (const change of applied.changes) this.hub.emit(change);
    // The chunk commits as one: its de-duplicated outputs ride on its last record's result.
    const outputs = applied.outputs.map((p) => p.output);
    return messages.map((_, i) => ok(i === messages.length - 1 ? outputs : []));
  }
}

const feedContracts = new Map(purposeFeedTopics.map((t) => [t.feed.id, t.contract]));

/** What a record already applied touched: the current state of the ids it names. */
function replayTouched(tx: StoreTx, ids: readonly string[]): Touched {
  const changed = new Set<string>();
  const removed = new Set<string>();
  for (const id of ids) {
    const current = canonicalId(tx, id);
    if (current !== id || tx.isErased(id)) removed.add(id);
    if (tx.getRecord(current)?.profile) changed.add(current);
  }
  return { changed: [...changed], removed: [...removed] };
}

/** Reads, inside the transaction, the profiles to publish and where each removed id went. */
function snapshot(tx: StoreTx, touched: Touched): { profiles: Profile[]; survivors: Map<string, string | null> } {
  const profiles: Profile[] = [];
  for (const id of touched.changed) {
    const record = tx.getRecord(id);
    // A survivor waiting for a merged profile from another task is published once it has arrived.
    if (record?.profile && !(record.awaiting ?? []).length) profiles.push(record.profile);
  }
  const survivors = new Map<string, string | null>();
  for (const id of touched.removed) survivors.set(id, tx.aliasOf(id) !== undefined ? canonicalId(tx, id) : null);
  return { profiles, survivors };
}

/** The changelog state of every id touched, with the purpose feeds it is on (so a restore knows them). */
function changelogStates(tx: StoreTx, touched: Touched): { id: string; state: ProfileState | null }[] {
  const states: { id: string; state: ProfileState | null }[] = [];
  for (const id of new Set([...touched.changed, ...touched.removed])) {
    const record = tx.getRecord(id);
    const alias = tx.aliasOf(id);
    if (tx.isErased(id)) states.push({ id, state: erasedState(id) });
    else if (alias !== undefined) states.push({ id, state: aliasState(id, alias) });
    else if (record) states.push({ id, state: stateOfRecord(record, PURPOSE_FEEDS.filter((f) => tx.isOnFeed(f.id, id)).map((f) => f.id)) });
    else states.push({ id, state: null });
  }
  return states;
}
