/** The StateTx contract over plain Maps (the LMDB store implements the same interface), for unit tests. */
import type { ProfileRecord, StateTx } from '../src/domain/profile-transitions';

/** `clone: false` skips copying records on write (transitions never mutate them): for long runs. */
export function memoryTx({ clone = true } = {}): StateTx & { records: Map<string, ProfileRecord>; owners: Map<string, string> } {
  const records = new Map<string, ProfileRecord>();
  const aliases = new Map<string, string>();
  const erased = new Set<string>();
  const owners = new Map<string, string>();
  return {
    records,
    owners,
    getRecord: (id) => records.get(id),
    putRecord: (r) => void records.set(r.profileId, clone ? structuredClone(r) : r),
    deleteRecord: (id) => void records.delete(id),
    aliasOf: (id) => aliases.get(id),
    setAlias: (id, s) => void aliases.set(id, s),
    deleteAlias: (id) => void aliases.delete(id),
    isErased: (id) => erased.has(id),
    markErased: (id) => void erased.add(id),
    eventOwner: (e) => owners.get(e),
    setEventOwner: (e, p) => void owners.set(e, p),
    forgetEventOwner: (e) => void owners.delete(e),
  };
}
