/** Profiles service config for in-process tests (CDP_ENV=test): the test Kafka, an isolated namespace and data folder, the fixtures' reader key. */
import { profilesConfigSchema, type ProfilesConfig } from '../src/config';
import { API_KEYS } from './profiles-fixtures';

export function profilesTestConfig(topicNamespace: string, dataDir: string, extra: Record<string, string> = {}): ProfilesConfig {
  return profilesConfigSchema.parse({
    // Test mode: /metrics and readiness details stay on the service port (production moves them).
    CDP_ENV: 'test',
    KAFKA_BROKERS: process.env.KAFKA_BROKERS,
    TOPIC_NAMESPACE: topicNamespace,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    PROFILES_DATA_DIR: dataDir,
    PROFILES_API_KEYS: API_KEYS,
    ...extra,
  });
}
