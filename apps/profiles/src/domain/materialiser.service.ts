/**
 * Applies resolved events and identity changes to the store and publishes the result: the full
 * profile of every changed profile, tombstones for merged-away and erased ids, and the changelog
 * record of every id touched. State and the record's offset commit in one LMDB transaction; a
 * record at an offset the store already holds (redelivered after a crash between commit and
 * publish) changes nothing and republishes the current state of what it touched. Publishing goes
 * through the OrderedPublisher (commit order across partitions); the handler returns once the
 * broker acknowledged, so the consumer offset never moves ahead of what was published.
 */
import { Inject, Injectable } from '@nestjs/common';
import { KAFKA_PLATFORM } from '@cdp/nest-platform';
import { profileUpdatesTopic, type IdentityChange, type Profile, type ResolvedEvent } from '@cdp/contracts';
import { ok, output, retry, type HandlerResult, type InboundMessage, type KafkaPlatform, type OutboundMessage } from '@cdp/kafka';
import { counter, type Logger, type Registry } from '@cdp/observability';
import { LOGGER, METRICS_REGISTRY } from '@cdp/nest-platform';
import { aliasState, erasedState, profileChangelogTopic, stateOfRecord, type ProfileState } from '../kafka/changelog-contract';
import type { StoreTx } from '../store/lmdb-profile-store';
import { ProfileStore } from '../store/profile-store';
import { OrderedPublisher } from './ordered-publisher';
import { applyChange, applyResolved, canonicalId, type Touched } from './profile-transitions';
import { ProfileUpdatesHub } from './profile-updates-hub';

interface Applied {
  readonly touched: Touched;
  readonly replay: boolean;
  readonly profiles: Profile[];
  readonly states: { id: string; state: ProfileState | null }[];
  readonly survivors: Map<string, string | null>;
  readonly seq: number;
}

@Injectable()
export class MaterialiserService {
  private readonly metrics;
  private readonly publisher: OrderedPublisher;

  constructor(
    @Inject(KAFKA_PLATFORM) kafka: KafkaPlatform,
    private readonly store: ProfileStore,
    private readonly hub: ProfileUpdatesHub,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.metrics = {
      updates: counter(registry, 'cdp_profile_updates_total', 'Profile updates published', ['cause']),
      replays: counter(registry, 'cdp_profile_replayed_records_total', 'Records already in the store (redelivered); republished, not re-applied', ['topic']),
      storeErrors: counter(registry, 'cdp_profile_store_errors_total', 'Failed store transactions (the record is retried)', ['topic']),
      publishErrors: counter(registry, 'cdp_profile_publish_errors_total', 'Failed publishes of profile updates (the record is retried and republishes)', ['topic']),
    };
    this.publisher = new OrderedPublisher((outputs) => kafka.producer.publish(outputs));
  }

  onResolved(message: InboundMessage<ResolvedEvent>): Promise<HandlerResult> {
    return this.handle(message, 'event', (tx, now) => applyResolved(tx, message.value, now), (tx) => {
      const owner = tx.eventOwner(message.value.event.eventId);
      return owner ? [owner] : [];
    });
  }

  onChange(message: InboundMessage<IdentityChange>): Promise<HandlerResult> {
    const change = message.value;
    const named = [change.survivorProfileId, ...change.otherProfileIds, ...change.parts.map((p) => p.profileId)];
    return this.handle(
      message,
      change.kind.toLowerCase(),
      (tx, now) => {
        if (tx.isChangeApplied(change.changeId)) return replayTouched(tx, named);
        tx.markChangeApplied(change.changeId);
        const touched = applyChange(tx, change, now);
        return { changed: touched.changed, removed: [...new Set([...touched.removed, ...named.filter((id) => tx.aliasOf(id) !== undefined || tx.isErased(id))])] };
      },
      () => named,
    );
  }

  private async handle(
    message: InboundMessage<unknown>,
    cause: string,
    apply: (tx: StoreTx, now: number) => Touched,
    namedIds: (tx: StoreTx) => string[],
  ): Promise<HandlerResult> {
    const { topic, partition } = message;
    const offset = BigInt(message.offset);
    let applied: Applied;
    let reserved: number | undefined;
    try {
      applied = await this.store.db.transact((tx) => {
        const replay = offset < tx.nextOffset(topic, partition);
        const touched = replay ? replayTouched(tx, namedIds(tx)) : apply(tx, Date.now());
        if (!replay) tx.setNextOffset(topic, partition, offset + 1n);
        const snap = snapshot(tx, touched);
        reserved = this.publisher.reserve();
        return { touched, replay, ...snap, seq: reserved };
      });
    } catch (err) {
      if (reserved !== undefined) this.publisher.skip(reserved);
      this.metrics.storeErrors.inc({ topic });
      this.logger.error({ topic, partition, offset: message.offset, err: (err as Error).message }, 'profile store transaction failed');
      return retry(`profile store: ${(err as Error).message}`);
    }
    if (applied.replay) this.metrics.replays.inc({ topic });
    const outputs: OutboundMessage[] = [];
    for (const p of applied.profiles) outputs.push(output(profileUpdatesTopic, p.profileId, p));
    for (const id of applied.touched.removed) outputs.push(output<Profile>(profileUpdatesTopic, id, null));
    for (const { id, state } of applied.states) outputs.push(output(profileChangelogTopic, id, state));
    try {
      await this.publisher.publish(applied.seq, outputs);
    } catch (err) {
      // The store already holds this record: the retry takes the replay path and republishes.
      this.metrics.publishErrors.inc({ topic });
      return retry(`publishing profile updates failed: ${(err as Error).message}`);
    }
    if (!applied.replay) {
      if (applied.profiles.length) this.metrics.updates.inc({ cause }, applied.profiles.length);
      if (applied.touched.removed.length) this.metrics.updates.inc({ cause: `${cause}-tombstone` }, applied.touched.removed.length);
      for (const profile of applied.profiles) this.hub.emit({ kind: 'update', profile });
      for (const id of applied.touched.removed) this.hub.emit({ kind: 'removed', profileId: id, survivorId: applied.survivors.get(id) ?? null });
    }
    return ok();
  }
}

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

/** Reads, inside the transaction, the profiles and changelog states to publish. */
function snapshot(tx: StoreTx, touched: Touched): Pick<Applied, 'profiles' | 'states' | 'survivors'> {
  const profiles: Profile[] = [];
  for (const id of touched.changed) {
    const profile = tx.getRecord(id)?.profile;
    if (profile) profiles.push(profile);
  }
  const states: { id: string; state: ProfileState | null }[] = [];
  const survivors = new Map<string, string | null>();
  for (const id of new Set([...touched.changed, ...touched.removed])) {
    const record = tx.getRecord(id);
    const alias = tx.aliasOf(id);
    if (tx.isErased(id)) states.push({ id, state: erasedState(id) });
    else if (alias !== undefined) states.push({ id, state: aliasState(id, alias) });
    else if (record) states.push({ id, state: stateOfRecord(record) });
    else states.push({ id, state: null });
    survivors.set(id, alias !== undefined ? canonicalId(tx, id) : null);
  }
  return { profiles, states, survivors };
}
