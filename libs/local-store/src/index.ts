/** How every service keeps its local LMDB stores: one map size, and stores written without fsync trusted only when it is safe. */
export * from './map-size';
export * from './unsynced-store';
