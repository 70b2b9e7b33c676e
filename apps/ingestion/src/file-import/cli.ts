/**
 * `npm run import -- --channel <channel> --file <path> [options]`: bulk import of a CSV or NDJSON
 * file into a channel's raw topic (the running ingestion service takes it from there). Reads the
 * same environment as the service (KAFKA_BROKERS, TOPIC_NAMESPACE, DEFAULT_PHONE_REGION).
 */
import { parseArgs } from 'node:util';
import { CHANNELS, isChannel, rawChannelTopic, topicName } from '@cdp/contracts';
import { kafkaSecurityOf, loadConfig } from '@cdp/config';
import { KafkaPlatform } from '@cdp/kafka';
import { createLogger, createRegistry } from '@cdp/observability';
import { ingestionConfigSchema } from '../config';
import { formatOf, type FileFormat } from './file-rows';
import { runImport, type ImportProgress } from './importer';

const HELP = `Usage: npm run import -- --channel <channel> --file <path> [options]

  --channel <name>      one of: ${CHANNELS.join(', ')}
  --file <path>         .csv, .ndjson or .jsonl (or give --format)
  --format csv|ndjson   file format when the extension does not say
  --type <name>         event type for CSV rows without a "type" column (default: import)
  --errors <path>       per-row error report, NDJSON (default: <file>.errors.ndjson)
  --checkpoint <path>   resume point (default: <file>.checkpoint.json)
  --restart             ignore the checkpoint and start from the first row
  --batch <n>           rows per Kafka batch and checkpoint (default: 500)
  --help

Environment: KAFKA_BROKERS, TOPIC_NAMESPACE, DEFAULT_PHONE_REGION (as for the service).
Column mapping: apps/ingestion/CHANNELS.md, "File import".
Exit code: 0 all rows sent, 2 some rows rejected (see the error report), 1 failure.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${HELP}\n`);
  process.exit(1);
}

function describe(p: ImportProgress): string {
  const pct = p.bytesTotal ? ((100 * p.bytesRead) / p.bytesTotal).toFixed(1) : '100.0';
  const rate = p.elapsedMs ? Math.round((1000 * p.rows) / p.elapsedMs) : 0;
  return `${p.done ? 'done' : 'progress'}: ${p.rows} rows (${p.sent} sent, ${p.rejected} rejected, ${p.skippedByCheckpoint} done before), ${pct}% of ${p.bytesTotal} bytes, ${rate} rows/s`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      channel: { type: 'string' },
      file: { type: 'string' },
      format: { type: 'string' },
      type: { type: 'string', default: 'import' },
      errors: { type: 'string' },
      checkpoint: { type: 'string' },
      restart: { type: 'boolean', default: false },
      batch: { type: 'string', default: '500' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (!values.channel || !isChannel(values.channel)) fail(`--channel must be one of the channels`);
  if (!values.file) fail('--file is required');
  const format = (values.format ?? formatOf(values.file)) as FileFormat | undefined;
  if (format !== 'csv' && format !== 'ndjson') fail('--format must be csv or ndjson');
  const batchSize = Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) fail('--batch must be 1 to 10000');
  const loaded = loadConfig(ingestionConfigSchema);
  if (!loaded.ok) fail(`bad environment: ${loaded.errors.join('; ')}`);
  const config = loaded.config;

  const logger = createLogger('ingestion-import', 'warn');
  const platform = new KafkaPlatform({
    brokers: config.KAFKA_BROKERS,
    clientId: 'cdp-import',
    namespace: config.TOPIC_NAMESPACE,
    logger,
    registry: createRegistry('ingestion-import', false),
    security: kafkaSecurityOf(config),
  });
  const contract = rawChannelTopic(values.channel);
  await platform.connect([contract]);
  const topic = topicName(contract, config.TOPIC_NAMESPACE);
  try {
    const result = await runImport({
      channel: values.channel,
      file: values.file,
      format,
      errorsFile: values.errors ?? `${values.file}.errors.ndjson`,
      checkpointFile: values.checkpoint ?? `${values.file}.checkpoint.json`,
      restart: values.restart,
      defaultType: values.type,
      defaultPhoneRegion: config.DEFAULT_PHONE_REGION,
      batchSize,
      send: (batch) => platform.producer.sendRaw(topic, batch.map((m) => ({ key: m.key, value: m.value }))),
      onProgress: (p) => process.stderr.write(`${describe(p)}\n`),
    });
    process.exitCode = result.rejected > 0 ? 2 : 0;
  } finally {
    await platform.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`import failed: ${err instanceof Error ? err.message : String(err)}; run again to resume from the checkpoint\n`);
  process.exit(1);
});
