// When the embedded client says its access token was refused (auth-error), the host renews the
// session once and posts the new token. If the renewed token is refused too, more renewals would
// not help and would hammer the token endpoint: the agent is told instead. A refusal much later
// in the shift (after a network outage, a clock jump) is a new problem and gets a renewal again.

/** At most one auth-error renewal per this interval. */
export const AUTH_RENEWAL_INTERVAL_MS = 60_000;

export class AuthRenewalGate {
  private lastRenewalMs: number | null = null;

  constructor(private readonly intervalMs: number = AUTH_RENEWAL_INTERVAL_MS) {}

  /** True when a renewal may start at `nowMs`; it is then counted as started. */
  tryStart(nowMs: number): boolean {
    if (this.lastRenewalMs !== null && nowMs - this.lastRenewalMs < this.intervalMs) {
      return false;
    }
    this.lastRenewalMs = nowMs;
    return true;
  }

  /** A new handshake (the client started again): the next refusal gets a renewal. */
  reset(): void {
    this.lastRenewalMs = null;
  }
}
