// When the embedded client says its access token was refused (auth-error), the host renews the
// session once and posts the new token. A refusal while that renewal runs is about the old token
// and is let be. If the new token is refused too, soon after it was posted, more renewals would
// not help and would hammer the token endpoint: the agent is told instead. A refusal much later
// in the shift (after a network outage, a clock jump) is a new problem and gets a renewal again.

/** A refusal this soon after a renewal finished is reported, not renewed. */
export const AUTH_RENEWAL_INTERVAL_MS = 60_000;

/** What to do about one auth-error. */
export type AuthErrorAction = "renew" | "renewal-running" | "report";

export class AuthRenewalGate {
  private running = false;
  private lastFinishedMs: number | null = null;

  constructor(private readonly intervalMs: number = AUTH_RENEWAL_INTERVAL_MS) {}

  /** Decides about an auth-error at `nowMs`; "renew" counts as a renewal started. */
  onAuthError(nowMs: number): AuthErrorAction {
    if (this.running) {
      return "renewal-running";
    }
    if (this.lastFinishedMs !== null && nowMs - this.lastFinishedMs < this.intervalMs) {
      return "report";
    }
    this.running = true;
    return "renew";
  }

  /** The renewal ended (its token posted, or it failed) at `nowMs`. */
  finished(nowMs: number): void {
    this.running = false;
    this.lastFinishedMs = nowMs;
  }
}
