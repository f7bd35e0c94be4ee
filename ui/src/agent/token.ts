// The access token, in memory only (never storage, cookies, IndexedDB or a URL). Requests read
// it at send time, so a renewal applies to the next request; a request refused with 401 waits
// here for the next token.

export class TokenBox {
  private token: string | null = null;
  private waiters: Array<{ resolve(token: string): void }> = [];

  constructor(
    private readonly timers: {
      setTimeout(fn: () => void, ms: number): unknown;
      clearTimeout(handle: unknown): void;
    },
  ) {}

  current(): string {
    if (this.token === null) {
      throw new Error("no access token yet");
    }
    return this.token;
  }

  has(): boolean {
    return this.token !== null;
  }

  set(token: string): void {
    const changed = token !== this.token;
    this.token = token;
    if (changed) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.resolve(token);
    }
  }

  /** Resolves with the next token different from `old` (at once if there is one already);
   * rejects after `timeoutMs`. */
  waitForNew(old: string, timeoutMs: number): Promise<string> {
    if (this.token !== null && this.token !== old) {
      return Promise.resolve(this.token);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (token: string) => {
          this.timers.clearTimeout(handle);
          resolve(token);
        },
      };
      const handle = this.timers.setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error("no new access token arrived"));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}
