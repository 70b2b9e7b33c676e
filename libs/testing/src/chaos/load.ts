/**
 * Offers a planned load at a fixed rate through the collector's HTTP batch API and the raw Kafka
 * channel topics, and keeps the books: which events were accepted (HTTP 2xx per event; a raw
 * record once the broker acknowledged it). A batch that fails (service or broker down, 5xx, no
 * answer) is offered again with the same event ids until it gets an answer, as a well-behaved
 * channel system would; an event answered `duplicate` after such a retry was accepted earlier.
 */
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { PlannedEvent } from './population';

export interface LoadTarget {
  readonly ingestionUrl: () => string;
  readonly apiKey: string;
  readonly kafkaBrokers: string;
  readonly topicNamespace: string;
}

export interface LoadBooks {
  readonly accepted: Set<string>;
  /** Accepted events that carry a linking identity (they land on a profile). */
  readonly acceptedIdentified: Set<string>;
  readonly rejected: Set<string>;
  /** Rejections the plan did not ask for (a valid event refused): each one is a finding. */
  readonly unexpectedRejections: { eventId: string; errors: unknown }[];
  readonly badRaw: Set<string>;
  retries: number;
  sent: number;
  /** When each event was first offered (ms since epoch), for latency measurements. */
  readonly offeredAt: Map<string, number>;
}

const HTTP_BATCH = 100;
const KAFKA_BATCH = 200;
const TICK_MS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function newBooks(): LoadBooks {
  return { accepted: new Set(), acceptedIdentified: new Set(), rejected: new Set(), unexpectedRejections: [], badRaw: new Set(), retries: 0, sent: 0, offeredAt: new Map() };
}

interface BatchResult {
  index: number;
  status: 'accepted' | 'duplicate' | 'in_flight' | 'rejected';
  errors?: unknown;
}

export class LoadGenerator {
  readonly books = newBooks();
  private readonly kafka: Kafka;
  private producer: Producer | undefined;
  private stopping = false;
  private inFlight = 0;

  constructor(
    private readonly target: LoadTarget,
    private readonly opts: { rate: number; concurrency?: number; log?: (line: string) => void },
  ) {
    this.kafka = new Kafka({ clientId: 'chaos-load', brokers: target.kafkaBrokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 200 } });
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** Offers `events` at the configured rate; resolves once every one has a definitive answer. */
  async run(events: readonly PlannedEvent[]): Promise<void> {
    const started = Date.now();
    const concurrency = this.opts.concurrency ?? 16;
    const pending: Promise<void>[] = [];
    let next = 0;
    while (next < events.length && !this.stopping) {
      const due = Math.min(events.length, Math.floor(((Date.now() - started) / 1000) * this.opts.rate));
      // Back-pressure: a platform that does not answer slows the offered load instead of piling up
      // requests. What is due goes out grouped by path and channel, a full batch as soon as it
      // is full, while request slots are free; the rest of a tick's groups go out at its end.
      const groups = new Map<string, PlannedEvent[]>();
      const launch = (chunk: PlannedEvent[]) => {
        const now = Date.now();
        for (const e of chunk) this.books.offeredAt.set(e.eventId, now);
        this.inFlight++;
        pending.push((chunk[0]!.via === 'http' ? this.postUntilAnswered(chunk) : this.produceUntilAcked(chunk)).finally(() => this.inFlight--));
      };
      for (; next < due && this.inFlight < concurrency; next++) {
        const e = events[next]!;
        const k = `${e.via}:${e.channel}`;
        const group = groups.get(k) ?? [];
        group.push(e);
        groups.set(k, group);
        if (group.length >= (e.via === 'http' ? HTTP_BATCH : KAFKA_BATCH)) {
          launch(group);
          groups.delete(k);
        }
      }
      for (const group of groups.values()) launch(group);
      await sleep(TICK_MS);
    }
    await Promise.all(pending);
  }

  stop(): void {
    this.stopping = true;
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
  }

  private accept(e: PlannedEvent): void {
    this.books.accepted.add(e.eventId);
    if (e.identified) this.books.acceptedIdentified.add(e.eventId);
  }

  private async postUntilAnswered(chunk: PlannedEvent[]): Promise<void> {
    let todo = chunk;
    for (let attempt = 0; todo.length > 0; attempt++) {
      if (attempt > 0) {
        this.books.retries++;
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
      }
      let res: Response;
      try {
        res = await fetch(`${this.target.ingestionUrl()}/v1/channels/${todo[0]!.channel}/events/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': this.target.apiKey },
          body: JSON.stringify({ events: todo.map((e) => e.body) }),
          signal: AbortSignal.timeout(15_000),
        });
      } catch {
        continue; // no answer: the service is down or paused; offer the same events again
      }
      if (res.status !== 202 && res.status !== 207) {
        await res.body?.cancel();
        continue;
      }
      this.books.sent += attempt === 0 ? todo.length : 0;
      const body = (await res.json()) as { results: BatchResult[] };
      const again: PlannedEvent[] = [];
      for (const r of body.results) {
        const e = todo[r.index]!;
        if (r.status === 'accepted' || r.status === 'duplicate') this.accept(e);
        else if (r.status === 'in_flight') again.push(e);
        else {
          this.books.rejected.add(e.eventId);
          if (!e.bad) this.books.unexpectedRejections.push({ eventId: e.eventId, errors: r.errors });
        }
      }
      todo = again;
    }
  }

  private async connectedProducer(): Promise<Producer> {
    if (!this.producer) {
      this.producer = this.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
    }
    await this.producer.connect();
    return this.producer;
  }

  private async produceUntilAcked(chunk: PlannedEvent[]): Promise<void> {
    const topic = `${this.target.topicNamespace}cdp.raw.${chunk[0]!.channel}.v1`;
    const messages = chunk.map((e) => ({ key: e.key, value: e.raw ?? JSON.stringify(e.body) }));
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        this.books.retries++;
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
      }
      try {
        const producer = await this.connectedProducer();
        await producer.send({ topic, messages, acks: -1, timeout: 10_000 });
        break;
      } catch (err) {
        if (attempt % 10 === 9) this.log(`raw send still failing after ${attempt + 1} attempts: ${(err as Error).message}`);
        // A failed send may have been written anyway: the same records (same event ids) go again.
      }
    }
    this.books.sent += chunk.length;
    for (const e of chunk) {
      if (e.bad) this.books.badRaw.add(e.key);
      else this.accept(e);
    }
  }
}
