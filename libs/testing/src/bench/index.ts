/** What every benchmark shares: where results go, the machine they were measured on, a process's memory. */
export * from './bench-output';
export * from './process-memory';
