/**
 * Handovers between tasks. A profile's state lives with the task (partition) of its id, and only
 * that task's owner writes it. When a record concerns an id of another task (a merge naming a
 * profile held elsewhere, a late event for an id merged into another task's profile, a split part
 * or an erasure there), the transition returns a handover keyed by that id; it travels through the
 * private, co-partitioned `cdp.profiles.handover.v1` topic in the same Kafka transaction as the
 * rest of the chunk's outputs and is applied by the owner of that task, as Kafka Streams moves
 * state through repartition topics. No instance ever reads another's disk.
 *
 * - EVENT: an event for `to` (forwarded along an alias or a split route).
 * - CHANGE: an identity change whose survivor is `to` now (it was merged into `to` meanwhile).
 * - RELEASE: `to` is merged into `survivorId`: hand its profile over and leave an alias.
 * - TRANSFER: a profile (`record`) for `to`, answering the RELEASE of `awaitedAs` (the survivor
 *   is not published until every id it awaits has arrived), or a split part (`detach`).
 * - ERASE: erase `to` (an id of this task named by an erasure handled elsewhere).
 * - CHANGE without a change, with `erasedLinks`: `to` linked a person who has been erased (as a
 *   household member or avatar): drop the link and the related group naming them from its events
 *   (erased-links.ts). Sent as a CHANGE so that a build that predates the field, reading one,
 *   finds no change and does nothing (a new enum symbol would make it refuse every handover).
 */
import type { IdentityChange } from '@cdp/contracts';
import type { FoldedBase, StoredEvent } from './event-log';

export const HANDOVER_KINDS = ['EVENT', 'CHANGE', 'RELEASE', 'TRANSFER', 'ERASE'] as const;
export type HandoverKind = (typeof HANDOVER_KINDS)[number];

/** What of a record travels with a TRANSFER. */
export interface Carried {
  readonly events: readonly StoredEvent[];
  readonly base: FoldedBase | null;
  readonly mergedProfileIds: readonly string[];
  readonly awaiting: readonly string[];
}

/** An erased person's profile ids, for the profiles that linked them; `visited`: ids already scrubbed on the way (split parts). */
export interface ErasedLinks {
  readonly erasedProfileIds: readonly string[];
  readonly visited: readonly string[];
}

export interface Handover {
  readonly kind: HandoverKind;
  /** The id it is for: its key, and so its task. */
  readonly to: string;
  /** The identity change behind it ('' for a forwarded event). */
  readonly changeId: string;
  readonly survivorId: string;
  readonly awaitedAs: string;
  readonly detach: boolean;
  readonly event: StoredEvent | null;
  readonly change: IdentityChange | null;
  readonly record: Carried | null;
  /** Set on a CHANGE without a change: drop the links to an erased person (absent in handovers kept by older builds). */
  readonly erasedLinks?: ErasedLinks | null;
}

export function handover(kind: HandoverKind, to: string, fields: Partial<Omit<Handover, 'kind' | 'to'>> = {}): Handover {
  return { kind, to, changeId: '', survivorId: '', awaitedAs: '', detach: false, event: null, change: null, record: null, erasedLinks: null, ...fields };
}

/** Which ids this transaction's task holds. */
export interface Locality {
  isLocal(profileId: string): boolean;
}

/** One task holding every id: the whole state in one place (unit tests, and the meaning of a single store). */
export const ALL_LOCAL: Locality = { isLocal: () => true };
