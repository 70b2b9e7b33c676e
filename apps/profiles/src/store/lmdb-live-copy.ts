/**
 * Writes a fresh LMDB environment holding exactly the live records of another: every key and value
 * of the named databases, copied as raw bytes in key order (MDB_APPEND). Nothing else of the source
 * file is carried over, so no byte of a deleted record, nor of an older version of a live one.
 *
 * Why not LMDB's own compacting copy (mdb_env_copy2 with MDB_CP_COMPACT, lmdb-js `backup(path,
 * true)`): it drops free pages and the unused middle of branch and leaf pages, but copies overflow
 * pages (values larger than about half a page: most profile records) whole, and LMDB overwrites a
 * value's overflow pages in place when the value is written again in the same write transaction
 * (lmdb-js batches concurrent transactions into one), leaving the older, longer version's tail
 * behind the new one. A profile split or an identity removal followed by an erasure could then
 * leave the erased person's values in a live record's overflow tail. Writing each value once into a
 * new environment leaves no such tail: its pages are allocated fresh and zero-filled past the data.
 *
 * The copy runs in chunks of transactions with a turn of the event loop between them, so reads and
 * heartbeats are served while it runs; the caller holds writes to the source until it is done.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { open, type RootDatabase } from 'lmdb';
import { LOCAL_STORE_MAP_BYTES } from '@cdp/local-store';

/** The smallest key: LMDB keys are at least one byte, and lmdb-js skips keys below 0x05 unless asked. */
const FIRST_KEY = Buffer.from([0]);
const ENTRIES_PER_TURN = 5_000;

/** Copies databases `names` of `source` into a new environment at `path` (an empty directory); resolves once it is closed. */
export async function copyLiveRecords(source: RootDatabase, names: readonly string[], path: string, maxDbs: number): Promise<{ entries: number }> {
  // Not flushed per transaction: the caller flushes the file once it is complete (sealGeneration).
  const target = open({ path, maxDbs, compression: false, noSubdir: false, noSync: true, mapSize: LOCAL_STORE_MAP_BYTES });
  let entries = 0;
  try {
    for (const name of names) {
      const from = source.openDB({ name, encoding: 'binary', keyEncoding: 'binary' });
      const to = target.openDB({ name, encoding: 'binary', keyEncoding: 'binary' });
      const it = from.getRange({ start: FIRST_KEY })[Symbol.iterator]();
      for (let done = false; !done; ) {
        target.transactionSync(() => {
          for (let n = 0; n < ENTRIES_PER_TURN; n++) {
            const next = it.next();
            if (next.done) {
              done = true;
              return;
            }
            to.putSync(next.value.key, next.value.value, { append: true });
            entries++;
          }
        });
        if (!done) await nextTurn();
      }
    }
  } finally {
    await target.close();
  }
  return { entries };
}
