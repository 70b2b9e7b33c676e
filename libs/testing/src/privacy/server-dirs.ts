/**
 * Where the servers keep their bytes, asked of the servers themselves, for the disk scan: the
 * partition directories of topics in the brokers' log directories (`log.dirs`), and the Neo4j
 * server's data and transaction log directories (`server.directories.*`). The scan needs paths on
 * this machine: a server in a container answers paths that are not here, and the scan then fails
 * (a scan of nothing proves nothing), as does a partition found in no log directory.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import type { Driver } from 'neo4j-driver';

/** Every log directory of every broker of the cluster. */
export async function kafkaLogDirs(admin: Admin): Promise<string[]> {
  const { brokers } = await admin.describeCluster();
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: brokers.map((b) => ({ type: ConfigResourceTypes.BROKER, name: String(b.nodeId), configNames: ['log.dirs'] })),
  });
  const dirs = resources.flatMap((r) => r.configEntries.find((e) => e.configName === 'log.dirs')?.configValue.split(',') ?? []);
  if (dirs.length === 0) throw new Error('the brokers report no log.dirs');
  return [...new Set(dirs.map((d) => d.trim()))];
}

/**
 * The directory of every partition of the topics (`<log dir>/<topic>-<partition>`), in whichever
 * log directory holds it. A partition found in none is an error.
 */
export async function partitionDirs(admin: Admin, topics: readonly string[]): Promise<string[]> {
  if (topics.length === 0) return [];
  const logDirs = await kafkaLogDirs(admin);
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
  return metadata.flatMap((t) =>
    t.partitions.map((p) => {
      const found = logDirs.map((d) => join(d, `${t.name}-${p.partitionId}`)).filter((d) => existsSync(d));
      if (found.length !== 1) throw new Error(`partition ${t.name}-${p.partitionId} is in ${found.length} of the log dirs ${logDirs.join(', ')} (expected 1)`);
      return found[0]!;
    }),
  );
}

/**
 * The Neo4j server's data directory (stores of every database) and its transaction log root when
 * that is not inside it. `SHOW SETTINGS` needs an administrator (the neo4j user of the test servers).
 */
export async function neo4jStoreDirs(driver: Driver): Promise<string[]> {
  const { records } = await driver.executeQuery(
    "SHOW SETTINGS YIELD name, value WHERE name IN ['server.directories.data', 'server.directories.transaction.logs.root'] RETURN name, value",
    {},
    { database: 'system' },
  );
  const setting = new Map(records.map((r) => [r.get('name') as string, r.get('value') as string]));
  const data = setting.get('server.directories.data');
  if (!data) throw new Error('Neo4j did not report server.directories.data');
  const txLogs = setting.get('server.directories.transaction.logs.root');
  const inside = txLogs === undefined || !relative(data, txLogs).startsWith('..');
  return inside ? [data] : [data, txLogs];
}
