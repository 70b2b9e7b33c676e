/**
 * The types the identity graph's modules share with the rest of the service: what an event brings
 * to the graph (identities as pseudonymised keys, evidence, where it was read), what the graph
 * answers (a Resolution), and the outcome the outbox records for an event so that a redelivery
 * repeats it. Nothing here holds a raw identity value.
 */
import type { AccountRef, IdentityChange, RelatedProfileRef } from '@cdp/contracts';

export interface GraphIdentity {
  readonly key: string;
  readonly type: string;
  readonly designation: 'PRIMARY' | 'SECONDARY';
}

export interface Evidence {
  readonly eventId: string;
  readonly channel: string;
  readonly occurredAt: number;
}

export interface QuarantineNotice {
  readonly key: string;
  readonly type: string;
  readonly profilesJoined: number;
  readonly reason: string;
}

/** Where an event was read: the outbox entry of its outcome carries it, for pruning. */
export interface EventSource {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset as kafkajs gives it (a decimal string). */
  readonly offset: string;
}

/** An identity the events-per-minute guard stopped for an event, asked of the chunk writer. */
export interface RateTrip {
  readonly key: string;
  readonly type: string;
  readonly eventsPerMinute: number;
  /** Stored on the identity (the release sweep looks for it). */
  readonly reason: string;
}

/** What a rate trip did: the notice to publish and the changes its recomputation caused. */
export interface RateQuarantine {
  readonly notice: QuarantineNotice;
  readonly eventsPerMinute: number;
  readonly changes: readonly IdentityChange[];
}

/** B2B accounts and related profiles an event placed its profile in (RelationsService.place). */
export interface PlacementOutcome {
  readonly accounts: readonly AccountRef[];
  readonly related: readonly RelatedProfileRef[];
  readonly changes: readonly IdentityChange[];
  readonly quarantined: readonly QuarantineNotice[];
}

/**
 * An event's outcome as the outbox records it (JSON on the outbox node): profile ids, HMAC keys,
 * identity types, reasons, account names and domains (company data), never raw identity values.
 */
export interface RecordedOutcome {
  readonly profileId: string;
  readonly identified: boolean;
  readonly newIdentities: number;
  readonly changes: readonly IdentityChange[];
  readonly quarantined: readonly QuarantineNotice[];
  readonly rateQuarantines: readonly RateQuarantine[];
}

export interface Resolution extends RecordedOutcome {
  /** Profile of the event's strongest identity; "" when none of them may link (all quarantined). */
  readonly profileId: string;
  /** Answered from a read transaction: the event added nothing to the graph (no outbox entry). */
  readonly readOnly: boolean;
  /** Repeated from the outbox: an earlier attempt (or another instance) decided it. */
  readonly replayed: boolean;
  /** The placement recorded with a replayed outcome, when there was one. */
  readonly placement?: PlacementOutcome;
}

export interface ResolveRequest {
  readonly identities: readonly GraphIdentity[];
  readonly evidence: Evidence;
  /** Keys of the names the event carries: each of its identities was seen with them. */
  readonly names?: readonly string[];
  /** Where the event was read. Without it the event gets no outbox entry (replays, benches, tests). */
  readonly source?: EventSource;
  /**
   * The outbox entry's key: the event id, unless one event asks for a second resolution of its
   * own (a related group's), which is recorded under a key derived from the event id.
   */
  readonly outboxKey?: string;
}

export interface ResolveOptions {
  /**
   * Asked once per event that is not a redelivery, after the outbox was read: the identities the
   * events-per-minute guard stops for it. They are quarantined in the event's write transaction
   * and recorded with its outcome.
   */
  readonly rateTrips?: (request: number) => readonly RateTrip[];
  /**
   * The first offset of the chunk per input partition: outbox entries below it belong to a Kafka
   * transaction that committed, and are deleted in the chunk's write transaction.
   */
  readonly committedBelow?: readonly EventSource[];
}

export interface GraphChangeResult {
  readonly changes: readonly IdentityChange[];
  readonly found: boolean;
}

/** An event as the graph handles it: its linkable identities once each, sorted by key. */
export interface GraphEvent {
  readonly ids: readonly GraphIdentity[];
  readonly ev: Evidence;
  readonly names: readonly string[];
  /** The key of its outbox entry (ResolveRequest.outboxKey, else the event id). */
  readonly outboxKey: string;
}
