/** The chaos machinery shared by `npm run bench:chaos` and the short schedule in `./cdp test`. */
export * from './any-instance';
export * from './checks';
export * from './faults';
export * from './load';
export * from './offsets';
export * from './own-infra';
export * from './platform';
export * from './population';
export * from './report';
export * from './run';
