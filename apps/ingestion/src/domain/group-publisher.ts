/**
 * Group commit for canonical events posted over HTTP: publishes requested while a send is in
 * flight are gathered into the next send, so concurrent requests share one acks=all round trip
 * instead of queueing one each behind the idempotent producer (which allows a single request in
 * flight). Every caller learns the outcome of the send that carried its events. Consumed records
 * do not come here: the consumer loop commits them in its transactions.
 */
import type { OutboundMessage } from '@cdp/kafka';

interface Pending {
  readonly outputs: readonly OutboundMessage[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class GroupPublisher {
  private queue: Pending[] = [];
  private sending = false;

  constructor(
    private readonly send: (outputs: readonly OutboundMessage[]) => Promise<void>,
    private readonly maxPerSend = 2000,
  ) {}

  publish(outputs: readonly OutboundMessage[]): Promise<void> {
    if (outputs.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ outputs, resolve, reject });
      if (!this.sending) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length) {
        const group: Pending[] = [];
        let size = 0;
        while (this.queue.length && (group.length === 0 || size + this.queue[0]!.outputs.length <= this.maxPerSend)) {
          const next = this.queue.shift()!;
          group.push(next);
          size += next.outputs.length;
        }
        try {
          await this.send(group.flatMap((p) => p.outputs));
          for (const p of group) p.resolve();
        } catch (err) {
          for (const p of group) p.reject(err);
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
