/** How a service reaches other hosts by name without the lookups ever holding the process. */
export * from './host-resolver';
