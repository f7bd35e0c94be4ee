// The host side of the embedded client's postMessage protocol (see docs/embedded-client.md).
//
// A message is accepted only when it comes from the client iframe's window (event.source) AND
// from one of the client's exact origins (event.origin), fits the size limit, and parses into
// one of the known message types. Everything else is ignored and counted. Replies go to the
// client's exact origin, never '*'. The access token is posted to the client only; the
// refresh token never reaches this page (Rust owns refresh).
import { getEmbedCredentials, reportClientEvent, reportTokenExpiring, refreshSession } from "./ipc";

export const MAX_MESSAGE_BYTES = 16 * 1024;

export type ClientMessage =
  | { type: "genesys-cloud-embed:ready" }
  | { type: "genesys-cloud-embed:session-start"; userId: string; name?: string }
  | { type: "genesys-cloud-embed:queue-position"; position: number; total: number }
  | { type: "genesys-cloud-embed:interaction-end"; interactionId: string }
  | { type: "genesys-cloud-embed:token-expiring"; expiresIn?: number }
  | { type: "genesys-cloud-embed:auth-error"; status?: number; message?: string };

export type IgnoredReason = "foreign-source" | "foreign-origin" | "oversize" | "malformed" | "unknown-type";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isId = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 128;

/** Parses a message into the typed union; null when malformed, "unknown" for other types. */
export function parseClientMessage(data: unknown): ClientMessage | "unknown" | null {
  if (!isRecord(data) || typeof data["type"] !== "string") {
    return null;
  }
  switch (data["type"]) {
    case "genesys-cloud-embed:ready":
      return { type: "genesys-cloud-embed:ready" };
    case "genesys-cloud-embed:session-start": {
      const name = data["name"];
      if (!isId(data["userId"]) || (name !== undefined && typeof name !== "string")) {
        return null;
      }
      return name === undefined
        ? { type: data["type"], userId: data["userId"] }
        : { type: data["type"], userId: data["userId"], name };
    }
    case "genesys-cloud-embed:queue-position": {
      const { position, total } = data;
      if (!isCount(position) || !isCount(total) || position > total) {
        return null;
      }
      return { type: data["type"], position, total };
    }
    case "genesys-cloud-embed:interaction-end":
      return isId(data["interactionId"]) ? { type: data["type"], interactionId: data["interactionId"] } : null;
    case "genesys-cloud-embed:token-expiring": {
      const expiresIn = data["expiresIn"];
      if (expiresIn !== undefined && !isCount(expiresIn)) {
        return null;
      }
      return expiresIn === undefined ? { type: data["type"] } : { type: data["type"], expiresIn };
    }
    case "genesys-cloud-embed:auth-error":
      return { type: "genesys-cloud-embed:auth-error" };
    default:
      return "unknown";
  }
}

export interface BridgeCallbacks {
  onMessage(message: ClientMessage): void;
  onIgnored(reason: IgnoredReason, total: number): void;
  onError(message: string): void;
}

export class ClientBridge {
  private clientOrigin: string | null = null;
  private ignored = 0;
    private authRetried = false;
  /** The token last posted: a renewal posts only a token the client does not have yet. */
  private postedToken: string | null = null;
  private readonly listener = (event: MessageEvent): void => this.receive(event);

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
  }

  /** Removes the client: nothing stale stays on screen or keeps a token. */
  stop(): void {
    window.removeEventListener("message", this.listener);
        this.clientOrigin = null;
    this.postedToken = null;
    this.frame.src = "about:blank";
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
    this.post({ type: "genesys-cloud-embed:token", accessToken: credentials.accessToken });
  }

  private ignore(reason: IgnoredReason): void {
    this.ignored += 1;
    this.callbacks.onIgnored(reason, this.ignored);
  }

  private receive(event: MessageEvent): void {
    if (event.source !== this.frame.contentWindow) {
      this.ignore("foreign-source");
      return;
    }
    if (!this.clientOrigins.includes(event.origin)) {
      this.ignore("foreign-origin");
      return;
    }
    let size: number;
    try {
      size = JSON.stringify(event.data)?.length ?? 0;
    } catch {
      this.ignore("malformed");
      return;
    }
    if (size > MAX_MESSAGE_BYTES) {
      this.ignore("oversize");
      return;
    }
    const message = parseClientMessage(event.data);
    if (message === null) {
      this.ignore("malformed");
      return;
    }
    if (message === "unknown") {
      this.ignore("unknown-type");
      return;
    }
    this.handle(message, event.origin, event.data);
  }

  private handle(message: ClientMessage, origin: string, raw: unknown): void {
    switch (message.type) {
      case "genesys-cloud-embed:ready":
        this.clientOrigin = origin;
        this.authRetried = false;
        this.post({ type: "ack", status: "received" });
        void this.sendInit();
        return;
      case "genesys-cloud-embed:token-expiring":
        void reportTokenExpiring()
          .then(() => this.sendToken())
          .catch((error: unknown) => this.callbacks.onError(String(error)));
        break;
      case "genesys-cloud-embed:auth-error":
        // One renewal per handshake: a client that keeps rejecting tokens must not loop.
        if (!this.authRetried) {
          this.authRetried = true;
          void refreshSession()
            .then(() => this.sendToken())
            .catch((error: unknown) => this.callbacks.onError(String(error)));
        }
        break;
      default:
        void reportClientEvent(raw).catch(() => undefined);
    }
    this.callbacks.onMessage(message);
  }

  private async sendInit(): Promise<void> {
    try {
            const credentials = await getEmbedCredentials();
      this.postedToken = credentials.accessToken;
      this.post({
        type: "genesys-cloud-embed:init",
        accessToken: credentials.accessToken,
        environment: credentials.environment,
        clientId: credentials.clientId,
        embeddedClientSettings: credentials.embeddedClientSettings,
        allowedOrigins: [window.location.origin],
      });
    } catch (error) {
      this.callbacks.onError(String(error));
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
