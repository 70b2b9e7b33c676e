/** Stops only the servers that global setup started. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__CDP_TEST_SERVERS__?.stop();
}
