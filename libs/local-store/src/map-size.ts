/**
 * How every service opens its local LMDB stores. One rule lives here because it decides what an
 * SRE sees as the pods' memory.
 *
 * The map is reserved once, large (address space only: no memory, no disk). Left to grow, lmdb-js
 * maps the file again at each resize and keeps the old maps, so the same page cache is counted in
 * the process's resident size once per map: 11 to 14 maps and a resident size 2.5 times the store
 * with 10^5 to 10^6 profiles (bench:memory). It is also the largest a store can grow to.
 */
export const LOCAL_STORE_MAP_BYTES = 2 ** 40;
