/**
 * Counts every request each Kafka client of a service sends, by client kind and API (Fetch,
 * Produce, AddPartitionsToTxn, EndTxn, Heartbeat...), with its bytes: the round trips per event
 * that bound throughput on a small machine, where each request is a socket write and a broker
 * wake-up. Read from kafkajs's instrumentation events, so no call site has to remember it.
 */
import type { Kafka } from 'kafkajs';
import { counter, type Registry } from '@cdp/observability';

type ClientKind = 'producer' | 'consumer' | 'admin';

interface Instrumented {
  readonly events: { readonly REQUEST: string };
  on(event: string, listener: (e: { payload: { apiName: string; size: number } }) => void): unknown;
}

/** Wraps `kafka`'s producer, consumer and admin factories so every client they make is counted. */
export function countKafkaRequests(kafka: Kafka, registry: Registry): void {
  const requests = counter(registry, 'cdp_kafka_requests_total', 'Requests sent to Kafka brokers, by client kind and API', ['client', 'api']);
  const bytes = counter(registry, 'cdp_kafka_request_bytes_total', 'Bytes of the requests sent to Kafka brokers, by client kind and API', ['client', 'api']);
  const watch = <C extends Instrumented>(client: C, kind: ClientKind): C => {
    client.on(client.events.REQUEST, ({ payload }) => {
      requests.inc({ client: kind, api: payload.apiName });
      bytes.inc({ client: kind, api: payload.apiName }, payload.size);
    });
    return client;
  };
  const { producer, consumer, admin } = kafka;
  kafka.producer = (config) => watch(producer.call(kafka, config), 'producer');
  kafka.consumer = (config) => watch(consumer.call(kafka, config), 'consumer');
  kafka.admin = (config) => watch(admin.call(kafka, config), 'admin');
}
