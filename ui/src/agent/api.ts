// A small typed layer over the Genesys Cloud Platform API: only the routes below, each of which
// exists in Genesys's SDK (purecloud-platform-client-v2 262.0.0; ui/test/agent/routes.test.ts
// checks every (method, path template) against its src/purecloud-platform-client-v2/api/*.js).
//
// Errors: 401 -> onUnauthorized (the controller tells the host), then waits for a new token and
// retries once; 403 -> ApiError with Genesys's message (it names the missing permission);
// 429 and 5xx -> bounded retry honouring Retry-After; anything else -> ApiError.
import { TokenBox } from "./token";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Every route the client uses, as (method, path template) in the SDK's spelling. */
export const ROUTES = {
  me: ["GET", "/api/v2/users/me"],
  presenceDefinitions: ["GET", "/api/v2/presencedefinitions"],
  setPresence: ["PATCH", "/api/v2/users/{userId}/presences/purecloud"],
  routingStatus: ["GET", "/api/v2/users/{userId}/routingstatus"],
  userQueues: ["GET", "/api/v2/users/{userId}/queues"],
  joinQueue: ["PATCH", "/api/v2/users/{userId}/queues/{queueId}"],
  routingQueues: ["GET", "/api/v2/routing/queues"],
  users: ["GET", "/api/v2/users"],
  station: ["GET", "/api/v2/stations/{stationId}"],
  calls: ["GET", "/api/v2/conversations/calls"],
  call: ["GET", "/api/v2/conversations/calls/{conversationId}"],
  patchParticipant: ["PATCH", "/api/v2/conversations/calls/{conversationId}/participants/{participantId}"],
  wrapupCodes: ["GET", "/api/v2/conversations/calls/{conversationId}/participants/{participantId}/wrapupcodes"],
  digits: ["POST", "/api/v2/conversations/{conversationId}/participants/{participantId}/digits"],
  replace: ["POST", "/api/v2/conversations/calls/{conversationId}/participants/{participantId}/replace"],
  placeCall: ["POST", "/api/v2/conversations/calls"],
  createChannel: ["POST", "/api/v2/notifications/channels"],
  subscribe: ["PUT", "/api/v2/notifications/channels/{channelId}/subscriptions"],
} as const satisfies Record<string, readonly [Method, string]>;

export type RouteName = keyof typeof ROUTES;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export interface ApiDeps {
  fetch: FetchLike;
  tokens: TokenBox;
  /** Called on a 401 with Genesys's message; the controller tells the host (once per token). */
  onUnauthorized(message: string): void;
  sleep(ms: number): Promise<void>;
  now(): number;
  /** How long to wait for a new token after a 401 (ms). */
  tokenWaitMs?: number;
}

export const MAX_RETRIES = 3;
const MAX_RETRY_AFTER_MS = 30_000;

/** Retry-After in seconds or as an HTTP date; fallback: exponential backoff from 1 s. */
export function retryDelay(header: string | null, attempt: number, now: number): number {
  if (header !== null) {
    const seconds = Number(header.trim());
    if (header.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) {
      return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
    }
    const date = Date.parse(header);
    if (Number.isFinite(date)) {
      return Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS);
    }
  }
  return Math.min(1000 * 2 ** attempt, MAX_RETRY_AFTER_MS);
}

/** Fills a path template; every value is percent-encoded as one segment. */
export function fillPath(template: string, params: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === "") {
      throw new Error(`missing path parameter ${name}`);
    }
    return encodeURIComponent(value);
  });
}

function errorMessage(text: string, status: number): { message: string; code: string | null } {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === "object" && body !== null) {
      const b = body as Record<string, unknown>;
      const message = typeof b["message"] === "string" ? b["message"] : `HTTP ${status}`;
      return { message: message.slice(0, 500), code: typeof b["code"] === "string" ? b["code"] : null };
    }
  } catch {
    // not JSON
  }
  return { message: `HTTP ${status}`, code: null };
}

export class Api {
  constructor(
    private readonly apiBase: string,
    private readonly deps: ApiDeps,
  ) {}

  /** One call of a known route. */
  async call(
    route: RouteName,
    params: Record<string, string> = {},
    query: Record<string, string> = {},
    body?: unknown,
  ): Promise<unknown> {
    const [method, template] = ROUTES[route];
    const search = new URLSearchParams(query).toString();
    const url = `${this.apiBase}${fillPath(template, params)}${search ? `?${search}` : ""}`;
    let retriedAuth = false;
    for (let attempt = 0; ; attempt += 1) {
      const token = this.deps.tokens.current();
      const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "application/json" };
      const init: Parameters<FetchLike>[1] = { method, headers };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      let response: Awaited<ReturnType<FetchLike>>;
      try {
        response = await this.deps.fetch(url, init);
      } catch (error) {
        // Network failure: retried like a 5xx.
        if (attempt < MAX_RETRIES) {
          await this.deps.sleep(retryDelay(null, attempt, this.deps.now()));
          continue;
        }
        throw new ApiError(0, error instanceof Error ? error.message : String(error));
      }
      const text = await response.text();
      if (response.status >= 200 && response.status < 300) {
        return text === "" ? null : (JSON.parse(text) as unknown);
      }
      const { message, code } = errorMessage(text, response.status);
      if (response.status === 401 && !retriedAuth) {
        retriedAuth = true;
        const waiting = this.deps.tokens.waitForNew(token, this.deps.tokenWaitMs ?? 60_000);
        this.deps.onUnauthorized(message);
        try {
          await waiting;
        } catch {
          throw new ApiError(401, message, code); // no new token in time
        }
        attempt -= 1; // the retry with the new token is not a transient retry
        continue;
      }
      if ((response.status === 429 || response.status >= 500) && attempt < MAX_RETRIES) {
        await this.deps.sleep(retryDelay(response.headers.get("Retry-After"), attempt, this.deps.now()));
        continue;
      }
      throw new ApiError(response.status, message, code);
    }
  }
}
