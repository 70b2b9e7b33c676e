/**
 * Runs a periodic sweep one at a time (a slow run delays the next, never overlaps it) and lets
 * shutdown wait for the run in flight. Shared by the identity service's background sweeps.
 */
export class SerialInterval {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  start(everyMs: number, run: () => Promise<unknown>): void {
    this.timer = setInterval(() => {
      this.running = this.running.then(run).then(() => undefined);
    }, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
