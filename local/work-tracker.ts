// Background work of a local server (downloads, delayed callbacks): cancellable sleeps, idle(), and a halt that cancels every timer.

export class WorkTracker {
  private halted = false;
  private readonly pending = new Set<Promise<void>>();
  private readonly sleepers = new Set<() => void>();
  private idleWaiters: (() => void)[] = [];

  get stopping(): boolean {
    return this.halted;
  }

  /** Resolves true after ms, or false at once if halted first. */
  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.halted) return resolve(false);
      const cancel = () => {
        clearTimeout(timer);
        this.sleepers.delete(cancel);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.sleepers.delete(cancel);
        resolve(!this.halted);
      }, ms);
      this.sleepers.add(cancel);
    });
  }

  /** Runs work in the background; its errors are swallowed (the work records its own). */
  track(work: () => Promise<void>): void {
    const p = work()
      .catch(() => {})
      .finally(() => {
        this.pending.delete(p);
        if (this.pending.size === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    this.pending.add(p);
  }

  /** Resolves once no tracked work is left. */
  idle(): Promise<void> {
    return this.pending.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels every sleep (they resolve false) and refuses new ones. */
  halt(): void {
    this.halted = true;
    for (const cancel of [...this.sleepers]) cancel();
  }

  /** Waits for tracked work, including work tracked while waiting. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
