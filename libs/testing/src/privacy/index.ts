/** Test helpers for the privacy guarantees (erasure proven on disk). */
export * from './disk-scan';
export * from './server-dirs';
