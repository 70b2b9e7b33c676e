/** The dedupe store as a Nest provider, opened from config and closed on shutdown. */
import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { IngestionConfig } from '../config';
import { DEDUPE_STORE, INGESTION_CONFIG } from '../tokens';
import { DedupeStore } from './dedupe-store';

export const dedupeStoreProvider: Provider = {
  provide: DEDUPE_STORE,
  inject: [INGESTION_CONFIG],
  useFactory: (config: IngestionConfig) =>
    new DedupeStore({
      dir: config.INGEST_DEDUPE_DIR,
      ttlMs: config.INGEST_DEDUPE_TTL_HOURS * 3_600_000,
      maxEntries: config.INGEST_DEDUPE_MAX_ENTRIES,
      namespace: config.TOPIC_NAMESPACE,
    }),
};

@Injectable()
export class DedupeLifecycle implements OnApplicationShutdown {
  constructor(@Inject(DEDUPE_STORE) private readonly store: DedupeStore) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
