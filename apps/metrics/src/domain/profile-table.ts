/**
 * Per-profile KPI state, read through a table instead of held in memory: the service's table is
 * LMDB (read by key, streamed for snapshots), tests use a Map. `PendingProfiles` layers the
 * entries changed by the record being applied over the table until the store has committed them,
 * so reads in between see one consistent state and memory holds only those few entries.
 */
import type { ConsentSignal } from '@cdp/contracts';

export interface ProfileStat {
  identified: boolean;
  /** Earliest occurredAt of its events. */
  firstTouchAt: number | null;
  /** Earliest occurredAt of its identified events. */
  firstIdentifiedTouchAt: number | null;
  /** Stream time at which it was first seen identified (places time-to-identification in a window). */
  identifiedAt: number | null;
  /** Stream time of its latest event, per channel. */
  lastSeen: Record<string, number>;
  /** Identity graph key → identity type. */
  keys: Record<string, string>;
  /** The person's decisive analytics consent so far (absent in entries stored before it was kept). */
  analytics?: ConsentSignal;
}

/** A merged-away id remembers its survivor, so late events for it land on the right profile. */
export type ProfileEntry = ProfileStat | { mergedInto: string };

export const isStat = (e: ProfileEntry | undefined): e is ProfileStat => e !== undefined && !('mergedInto' in e);

/**
 * An empty table of identity keys. Its property names are graph keys, new with almost every
 * profile: on an ordinary object V8 makes a hidden class per name added, which made reading a row
 * three times slower. A null-prototype object is a plain hash table from the start.
 */
export const keyTable = (): Record<string, string> => Object.create(null) as Record<string, string>;

export interface ProfileTable {
  get(id: string): ProfileEntry | undefined;
  /** Every entry, streamed: a caller that keeps none of them holds one at a time. */
  entries(): Iterable<[string, ProfileEntry]>;
}

export class MemoryProfileTable implements ProfileTable {
  constructor(readonly map = new Map<string, ProfileEntry>()) {}

  get(id: string): ProfileEntry | undefined {
    return this.map.get(id);
  }

  entries(): Iterable<[string, ProfileEntry]> {
    return this.map.entries();
  }
}

/** A batch of profile changes handed to the store; `undefined` deletes the entry. */
export type ProfileChanges = ReadonlyMap<string, ProfileEntry | undefined>;

export class PendingProfiles {
  /** Changed since the last take(). */
  private changed = new Map<string, ProfileEntry | undefined>();
  /** Taken but not yet confirmed committed by the store. */
  private readonly unsettled = new Map<string, ProfileEntry | undefined>();

  constructor(private readonly table: ProfileTable) {}

  get(id: string): ProfileEntry | undefined {
    if (this.changed.has(id)) return this.changed.get(id);
    if (this.unsettled.has(id)) return this.unsettled.get(id);
    return this.table.get(id);
  }

  set(id: string, entry: ProfileEntry | undefined): void {
    this.changed.set(id, entry);
  }

  take(): ProfileChanges {
    const batch = this.changed;
    this.changed = new Map();
    for (const [k, v] of batch) this.unsettled.set(k, v);
    return batch;
  }

  /** The store holds `batch` now; a later change to the same id stays layered. */
  settle(batch: ProfileChanges): void {
    for (const [k, v] of batch) if (this.unsettled.get(k) === v) this.unsettled.delete(k);
  }

  /** The table's entries as changed by the layers above it. */
  *entries(): Iterable<[string, ProfileEntry]> {
    const layered = new Map([...this.unsettled, ...this.changed]);
    for (const [id, e] of this.table.entries()) if (!layered.has(id)) yield [id, e];
    for (const [id, e] of layered) if (e !== undefined) yield [id, e];
  }
}
