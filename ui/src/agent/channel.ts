// The notification channel: POST /api/v2/notifications/channels, PUT its subscriptions, then a
// WebSocket to its connectUri delivering {topicName, eventBody, metadata}.
//
// Liveness: Genesys sends a heartbeat ("channel.metadata") every 30 s and answers our
// {"message":"ping"} with a "channel.metadata" pong. We ping every PING_INTERVAL_MS; if nothing
// at all is heard for SILENCE_LIMIT_MS, or the socket closes, or Genesys announces
// v2.system.socket_closing, we make a new channel, subscribe again and open a new socket
// (backoff on failure); once it is open the controller refetches state to fill the gap.
// The socket does not carry the token: a token renewal leaves it alone.
import type { Api } from "./api";
import type { ChannelStatus } from "./state";

export const PING_INTERVAL_MS = 30_000;
export const SILENCE_LIMIT_MS = 75_000;
const MAX_BACKOFF_MS = 60_000;

export interface SocketLike {
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: (() => void) | null;
  onerror: (() => void) | null;
  send(data: string): void;
  close(): void;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface ChannelDeps {
  api: Pick<Api, "call">;
  openSocket(url: string): SocketLike;
  timers: Timers;
  now(): number;
  onEvent(topicName: string, eventBody: unknown): void;
  onStatus(status: ChannelStatus): void;
  /** The socket is open and subscribed; `reconnect` when it replaces a lost one. */
  onSubscribed(reconnect: boolean): void;
  onError(error: unknown): void;
}

export function topicsFor(userId: string): Array<{ id: string }> {
  return [
    { id: `v2.users.${userId}.conversations.calls` },
    { id: `v2.users.${userId}.presence` },
    { id: `v2.users.${userId}.routingStatus` },
  ];
}

/** The connectUri must be a WebSocket URL (wss, or ws on loopback for the emulator). */
export function checkConnectUri(value: unknown): string | null {
  if (typeof value !== "string") return null;
  try {
    const url = new URL(value);
    if (url.protocol === "wss:") return url.href;
    if (url.protocol === "ws:" && (url.hostname === "127.0.0.1" || url.hostname === "localhost")) return url.href;
  } catch {
    // fall through
  }
  return null;
}

export class NotificationChannel {
  private socket: SocketLike | null = null;
  private generation = 0;
  private failures = 0;
  private lastHeard = 0;
  private watchdog: unknown = null;
  private retry: unknown = null;
  private stopped = false;
  private everUp = false;
  /** How many channels were created (for tests and diagnostics). */
  channelsCreated = 0;

  constructor(
    private readonly userId: string,
    private readonly deps: ChannelDeps,
  ) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.generation += 1;
    this.teardown();
    if (this.retry !== null) this.deps.timers.clearTimeout(this.retry);
    this.retry = null;
  }

  /** Drop the current socket and build a new channel (after silence, close, or on request). */
  reconnect(): void {
    if (this.stopped) return;
    this.generation += 1;
    this.teardown();
    this.deps.onStatus("down");
    const delay = this.failures === 0 ? 0 : Math.min(1000 * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
    this.failures += 1;
    if (this.retry !== null) this.deps.timers.clearTimeout(this.retry);
    this.retry = this.deps.timers.setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, delay);
  }

  private teardown(): void {
    if (this.watchdog !== null) this.deps.timers.clearInterval(this.watchdog);
    this.watchdog = null;
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      socket.onopen = null;
      socket.onmessage = null;
      socket.onclose = null;
      socket.onerror = null;
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.deps.onStatus("connecting");
    let connectUri: string;
    try {
      const channel = (await this.deps.api.call("createChannel")) as Record<string, unknown> | null;
      const id = channel?.["id"];
      const uri = checkConnectUri(channel?.["connectUri"]);
      if (typeof id !== "string" || id === "" || uri === null) {
        throw new Error("the notification channel came without an id or a WebSocket address");
      }
      this.channelsCreated += 1;
      await this.deps.api.call("subscribe", { channelId: id }, {}, topicsFor(this.userId));
      connectUri = uri;
    } catch (error) {
      if (generation !== this.generation || this.stopped) return;
      this.deps.onError(error);
      this.reconnect();
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    const socket = this.deps.openSocket(connectUri);
    this.socket = socket;
    this.lastHeard = this.deps.now();
    socket.onopen = () => {
      this.lastHeard = this.deps.now();
      this.failures = 0;
      this.deps.onStatus("up");
      const reconnect = this.everUp;
      this.everUp = true;
      this.deps.onSubscribed(reconnect);
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = () => this.reconnect();
    socket.onerror = () => undefined; // onclose follows
    this.watchdog = this.deps.timers.setInterval(() => this.check(), PING_INTERVAL_MS);
  }

  private check(): void {
    if (this.deps.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      this.reconnect();
      return;
    }
    try {
      this.socket?.send(JSON.stringify({ message: "ping" }));
    } catch {
      this.reconnect();
    }
  }

  private receive(data: unknown): void {
    this.lastHeard = this.deps.now();
    if (typeof data !== "string") return;
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof message !== "object" || message === null) return;
    const { topicName, eventBody } = message as Record<string, unknown>;
    if (typeof topicName !== "string") return;
    if (topicName === "channel.metadata") return; // heartbeat or pong
    if (topicName === "v2.system.socket_closing") {
      this.failures = 0;
      this.reconnect();
      return;
    }
    this.deps.onEvent(topicName, eventBody);
  }
}
