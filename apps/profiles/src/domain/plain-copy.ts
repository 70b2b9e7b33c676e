/**
 * Deep copies of profile data (plain objects and arrays, as Avro and msgpack decode them): the
 * fold copies a profile before it applies an event, and structuredClone, which copies any
 * structured value through V8's serializer, was 6-7% of the service's CPU under load (rfdc is
 * about ten times faster on a profile; docs/benchmarks.md).
 */
import rfdc from 'rfdc';

export const copy: <T>(value: T) => T = rfdc();
