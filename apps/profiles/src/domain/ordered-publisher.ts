/**
 * Publishes profile updates in the order their store transactions committed, across partitions
 * handled concurrently. Without it, two records touching the same profile on different input
 * partitions could publish their snapshots out of order, and the compacted topic would end on the
 * older one. A sequence number is reserved inside each transaction (so sequence = commit order);
 * outputs are sent strictly in sequence, and whatever queued up while a send was in flight goes
 * out as one batch (group commit), which keeps throughput up with acks=all.
 *
 * This is why the profiles handlers publish themselves and return ok() without outputs: the
 * consumer loop's own publish cannot know the commit order. The offset still moves only after
 * the publish is acknowledged, because the handler awaits it.
 */
import type { OutboundMessage } from '@cdp/kafka';

interface Pending {
  readonly outputs: readonly OutboundMessage[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class OrderedPublisher {
  private nextSeq = 0;
  private sendFrom = 0;
  private readonly ready = new Map<number, Pending | null>();
  private sending = false;
  private scheduled = false;

  constructor(
    private readonly send: (outputs: readonly OutboundMessage[]) => Promise<void>,
    private readonly maxBatch = 2000,
  ) {}

  /** Call inside the transaction, as its last step. */
  reserve(): number {
    return this.nextSeq++;
  }

  /** Resolves once this sequence's outputs (and every earlier one's) are acknowledged. */
  publish(seq: number, outputs: readonly OutboundMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ready.set(seq, { outputs, resolve, reject });
      this.schedulePump();
    });
  }

  /** A reserved sequence whose transaction did not commit: nothing to send, don't wait for it. */
  skip(seq: number): void {
    this.ready.set(seq, null);
    this.schedulePump();
  }

  /**
   * Partitions fetched together commit in the same LMDB batch and ask to publish within the same
   * turn of the event loop; waiting for the end of that turn sends them in one request instead of
   * one now and the rest one round trip later.
   */
  private schedulePump(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.sending) return;
    const batch: Pending[] = [];
    let size = 0;
    while (this.ready.has(this.sendFrom) && size < this.maxBatch) {
      const entry = this.ready.get(this.sendFrom)!;
      this.ready.delete(this.sendFrom);
      this.sendFrom++;
      if (entry) {
        batch.push(entry);
        size += entry.outputs.length;
      }
    }
    if (batch.length === 0) return;
    this.sending = true;
    this.send(batch.flatMap((b) => b.outputs))
      .then(
        () => batch.forEach((b) => b.resolve()),
        (err: unknown) => batch.forEach((b) => b.reject(err)),
      )
      .finally(() => {
        this.sending = false;
        this.pump();
      });
  }
}
