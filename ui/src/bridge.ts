// The host side of the embedded client's postMessage protocol (see docs/embedded-client.md).
//
// A message is accepted only when it comes from the client iframe's window (event.source) AND
// from one of the client's exact origins (event.origin), fits the size limit, and parses into
// one of the known message types (protocol.ts). Everything else is ignored and counted by
// reason. Replies go to the client's exact origin, never '*'. The access token is posted to
// the client only; the refresh token never reaches this page (Rust owns refresh).
import {
  describeError,
  type EmbedCredentials,
  getEmbedCredentials,
  reportAuthError,
  reportClientEvent,
  reportTokenExpiring,
} from "./ipc";
import { classifyMessage, type ClientMessage, type IgnoredReason } from "./protocol";

export type { ClientMessage, IgnoredReason } from "./protocol";

export interface BridgeCallbacks {
  onMessage(message: ClientMessage): void;
  onIgnored(reason: IgnoredReason, countForReason: number): void;
  onError(message: string): void;
}

export class ClientBridge {
  private clientOrigin: string | null = null;
  private readonly ignored = new Map<IgnoredReason, number>();
  /** The token last posted: a renewal posts only a token the client does not have yet. */
  private postedToken: string | null = null;
  private readonly listener = (event: MessageEvent): void => this.receive(event);
  /** The credentials for the client's init, asked for while its page loads (one IPC round
   * trip less between its ready and its init); dropped when the session changes meanwhile. */
  private prefetched: Promise<EmbedCredentials> | null = null;

  constructor(
    private readonly frame: HTMLIFrameElement,
    private readonly clientOrigins: readonly string[],
    private readonly callbacks: BridgeCallbacks,
  ) {}

  get connected(): boolean {
    return this.clientOrigin !== null;
  }

  start(clientUrl: string): void {
    window.addEventListener("message", this.listener);
    this.frame.src = clientUrl;
    this.prefetched = getEmbedCredentials();
    // A failure is reported by the init that would use it, which then asks again.
    this.prefetched.catch(() => undefined);
  }

  /** The session changed (a renewal): credentials fetched before it are not handed over. */
  sessionChanged(): void {
    this.prefetched = null;
  }

  /** Removes the client: nothing stale stays on screen or keeps a token. The frame element is
   * replaced by a blank copy (same id and attributes): a new browsing context, so the next
   * start really loads the client again. Setting src to about:blank and straight back to the
   * same URL can leave WebKit on the old document, the client never starting again. */
  stop(): void {
    window.removeEventListener("message", this.listener);
    this.clientOrigin = null;
    this.postedToken = null;
    this.prefetched = null;
    const blank = this.frame.cloneNode(false) as HTMLIFrameElement;
    blank.src = "about:blank";
    this.frame.replaceWith(blank);
  }

  /** Posts the current access token (after every renewal). */
  async sendToken(): Promise<void> {
    if (this.clientOrigin === null) {
      return;
    }
    const credentials = await getEmbedCredentials();
    if (credentials.accessToken === this.postedToken) {
      return;
    }
    this.postedToken = credentials.accessToken;
    this.post({ type: "agent-shell:token", accessToken: credentials.accessToken, expiresAt: credentials.expiresAt });
  }

  private receive(event: MessageEvent): void {
    const verdict = classifyMessage(event, this.frame.contentWindow, this.clientOrigins);
    if (!verdict.accepted) {
      const count = (this.ignored.get(verdict.reason) ?? 0) + 1;
      this.ignored.set(verdict.reason, count);
      console.warn(`embedded client: message ignored (${verdict.reason})`);
      this.callbacks.onIgnored(verdict.reason, count);
      return;
    }
    this.handle(verdict.message, event.origin);
  }

  private handle(message: ClientMessage, origin: string): void {
    switch (message.type) {
      case "agent-shell:ready":
        this.clientOrigin = origin;
        this.post({ type: "ack", status: "received" });
        void this.sendInit();
        return;
      case "agent-shell:token-expiring":
        void reportTokenExpiring(message)
          .then(() => this.sendToken())
          .catch((error: unknown) => this.callbacks.onError(describeError(error)));
        break;
      case "agent-shell:auth-error":
        // Rust decides (the session engine's auth-error gate): renew once, let a running
        // renewal answer, or report a repeat refusal.
        void reportAuthError(message)
          .then((outcome) => {
            switch (outcome.action) {
              case "renewed":
                return this.sendToken();
              case "renewal-running":
                return undefined;
              case "report":
                this.callbacks.onError("Genesys Cloud refused the access token again after a renewal.");
                return undefined;
            }
          })
          .catch((error: unknown) => this.callbacks.onError(describeError(error)));
        break;
      default:
        // Only the parsed message (known fields) crosses into Rust, which parses it again.
        void reportClientEvent(message).catch(() => undefined);
    }
    this.callbacks.onMessage(message);
  }

  private async sendInit(): Promise<void> {
    const prefetched = this.prefetched;
    this.prefetched = null;
    try {
      // A prefetch that failed is asked for once more; a fresh request's failure is final.
      const credentials = await (prefetched === null
        ? getEmbedCredentials()
        : prefetched.catch(() => getEmbedCredentials()));
      this.postedToken = credentials.accessToken;
      this.post({
        type: "agent-shell:init",
        accessToken: credentials.accessToken,
        expiresAt: credentials.expiresAt,
        environment: credentials.environment,
        apiBase: credentials.apiBase,
        clientId: credentials.clientId,
        language: navigator.language,
        embeddedClientSettings: credentials.embeddedClientSettings,
        allowedOrigins: [window.location.origin],
      });
    } catch (error) {
      this.callbacks.onError(`Could not hand the sign-in to Genesys Cloud: ${describeError(error)}`);
    }
  }

  private post(message: Record<string, unknown>): void {
    const target = this.frame.contentWindow;
    if (this.clientOrigin === null || target === null) {
      return;
    }
    target.postMessage(message, this.clientOrigin);
  }
}
