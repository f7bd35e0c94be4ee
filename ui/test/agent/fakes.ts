// Fakes for the controller tests: a Genesys Cloud that answers our routes from a table, sockets
// we can drive, a manual clock, and a WebRTC SDK stand-in.
import type { FetchLike } from "../../src/agent/api";
import type { SocketLike, Timers } from "../../src/agent/channel";
import type { PendingSession, WebrtcSdk, WebrtcSdkConfig } from "../../src/agent/softphone";

export interface Sent {
  method: string;
  path: string;
  query: string;
  auth: string;
  body: unknown;
}

export type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

export class FakeGenesys {
  sent: Sent[] = [];
  /** Replies queued per "METHOD /path" (first match wins; the last one repeats). */
  private queued = new Map<string, Reply[]>();
  constructor(private readonly base: string) {}

  on(key: string, ...replies: Reply[]): void {
    this.queued.set(key, replies);
  }

  readonly fetch: FetchLike = async (url, init) => {
    const u = new URL(url);
    assertStartsWith(url, this.base);
    const body = init.body === undefined ? undefined : (JSON.parse(init.body) as unknown);
    this.sent.push({ method: init.method, path: u.pathname, query: u.search, auth: init.headers["Authorization"] ?? "", body });
    const key = `${init.method} ${u.pathname}`;
    const replies = this.queued.get(key);
    const reply = replies === undefined ? { status: 404, body: { message: `no fake for ${key}` } } : replies.length > 1 ? replies.shift()! : replies[0]!;
    const text = reply.body === undefined ? "" : JSON.stringify(reply.body);
    return {
      status: reply.status,
      headers: { get: (name: string) => reply.headers?.[name] ?? null },
      text: async () => text,
    };
  };

  calls(key: string): Sent[] {
    return this.sent.filter((s) => `${s.method} ${s.path}` === key);
  }
}

function assertStartsWith(url: string, base: string): void {
  if (!url.startsWith(base)) throw new Error(`request off the API base: ${url}`);
}

export class FakeSocket implements SocketLike {
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  sent: string[] = [];
  closed = false;
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.closed = true;
  }
  open(): void {
    this.onopen?.();
  }
  deliver(topicName: string, eventBody: unknown): void {
    this.onmessage?.({ data: JSON.stringify({ topicName, eventBody, metadata: { CorrelationId: "x" } }) });
  }
  drop(): void {
    this.closed = true;
    this.onclose?.();
  }
}

/** A manual clock: timers run when advance() passes them. */
export class Clock implements Timers {
  now = Date.UTC(2026, 0, 5, 10, 0, 0);
  private next = 1;
  private timers = new Map<number, { at: number; fn: () => void; every: number | null }>();
  setTimeout = (fn: () => void, ms: number): unknown => this.add(fn, ms, null);
  setInterval = (fn: () => void, ms: number): unknown => this.add(fn, ms, ms);
  clearTimeout = (handle: unknown): void => void this.timers.delete(handle as number);
  clearInterval = (handle: unknown): void => void this.timers.delete(handle as number);
  private add(fn: () => void, ms: number, every: number | null): number {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, fn, every });
    return id;
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void; every: number | null }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry;
      }
      if (due === undefined) break;
      const [id, timer] = due;
      this.now = Math.max(this.now, timer.at);
      if (timer.every === null) this.timers.delete(id);
      else timer.at += timer.every;
      timer.fn();
    }
    this.now = end;
  }
}

export class FakeSdk implements WebrtcSdk {
  static last: FakeSdk | null = null;
  handlers = new Map<string, Array<(...args: never[]) => void>>();
  tokens: string[] = [];
  accepted: string[] = [];
  initialized = false;
  constructor(readonly config: WebrtcSdkConfig) {
    FakeSdk.last = this;
    this.tokens.push(config.accessToken);
  }
  async initialize(): Promise<void> {
    this.initialized = true;
  }
  setAccessToken(token: string): void {
    this.tokens.push(token);
  }
  async acceptPendingSession(params: { conversationId: string }): Promise<void> {
    this.accepted.push(params.conversationId);
  }
  on(event: string, handler: (...args: never[]) => void): unknown {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
    return this;
  }
  emit(event: string, payload: PendingSession | { conversationId: string }): void {
    for (const h of this.handlers.get(event) ?? []) (h as (p: unknown) => void)(payload);
  }
  async destroy(): Promise<unknown> {
    return undefined;
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
