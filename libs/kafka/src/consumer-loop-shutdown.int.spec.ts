import { connect, Socket } from 'node:net';
import type { ISocketFactory } from 'kafkajs';
import pino from 'pino';
import { canonicalEventsTopic, deadLettersTopic, resolvedEventsTopic, schemasTopic, topicName, type TopicContract } from '@cdp/contracts';
import { createRegistry } from '@cdp/observability';
import { deleteNamespace, eventually, testKafka, uniqueNamespace } from '@cdp/testing';
import { KafkaPlatform } from './platform';
import { ok } from './results';

/** kafkajs's own sockets, until the test cuts the network: then every socket closes and new ones fail. */
function cuttableNetwork(): { socketFactory: ISocketFactory; cut: () => void } {
  const open = new Set<Socket>();
  let down = false;
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    if (down) {
      const refused = new Socket();
      process.nextTick(() => refused.destroy(Object.assign(new Error(`connect ECONNREFUSED ${host}:${port} (network cut by the test)`), { code: 'ECONNREFUSED' })));
      return refused;
    }
    const socket = connect({ host, port }, onConnect);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    return socket;
  };
  return {
    socketFactory,
    cut: () => {
      down = true;
      for (const socket of open) socket.destroy();
    },
  };
}

describe('consumer loop shutdown against a real Kafka', () => {
  const namespace = uniqueNamespace('stop');
  const registry = createRegistry('test', false);
  const network = cuttableNetwork();
  const platform = new KafkaPlatform({ brokers: process.env.KAFKA_BROKERS!.split(','), clientId: 'stop-test', namespace, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), registry, socketFactory: network.socketFactory });

  afterAll(() => deleteNamespace(testKafka(), namespace));

  it('stops within its bound, without throwing, when the broker cannot be reached to leave the group, and the rest of the close still runs', async () => {
    await platform.connect([canonicalEventsTopic, resolvedEventsTopic, deadLettersTopic, schemasTopic] as TopicContract<unknown>[]);
    const loop = platform.consumerLoop('stop-test', [{ topic: topicName(canonicalEventsTopic, namespace), decode: platform.avroDecoder(canonicalEventsTopic), handle: () => Promise.resolve(ok([])) }]);
    await loop.start();
    await eventually(
      () => Promise.resolve(loop.hasJoined),
      (joined) => joined,
      60_000,
    );
    network.cut();
    // Nest stops the loop first (the transport's close) and exits 1 if it throws, skipping the
    // platform's and the stores' own shutdown hooks.
    const t0 = Date.now();
    await expect(loop.stop()).resolves.toBeUndefined();
    // Well inside a service's shutdown grace (15 s): kafkajs alone retried the leave for a minute.
    expect(Date.now() - t0).toBeLessThan(12_000);
    const failures = await registry.getSingleMetricAsString('cdp_consumer_shutdown_failures_total');
    expect(failures).toMatch(/cdp_consumer_shutdown_failures_total\{[^}]*step="leave group"[^}]*\} 1/);
    await expect(platform.close()).resolves.toBeUndefined();
  });
});
