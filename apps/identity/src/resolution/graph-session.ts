/**
 * How the graph modules talk to Neo4j: a managed write transaction (retried by the driver on
 * transient errors and deadlocks), and one read statement as an auto-commit query.
 */
import { isRetriableError, type Driver, type ManagedTransaction, type Record as Neo4jRecord } from 'neo4j-driver';

export async function withWrite<T>(driver: Driver, database: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
  const session = driver.session({ database });
  try {
    return await session.executeWrite(work, { metadata: { app: 'cdp-identity' } });
  } finally {
    await session.close();
  }
}

/**
 * One read statement as an auto-commit query: one round trip, where a managed read transaction
 * takes two (BEGIN with RUN, then COMMIT), on the path most events take. Transient failures are
 * tried again here, as executeRead would.
 */
export async function readAutoCommit(driver: Driver, database: string, query: string, params: Record<string, unknown>): Promise<Neo4jRecord[]> {
  for (let attempt = 1; ; attempt++) {
    const session = driver.session({ database, defaultAccessMode: 'READ' });
    try {
      return (await session.run(query, params)).records;
    } catch (err) {
      if (attempt >= 3 || !isRetriableError(err)) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    } finally {
      await session.close();
    }
  }
}
