// The client side of the shell's postMessage protocol (host side: ui/src/bridge.ts). Pure
// functions: which events to hear, how to read init/token, where to post. No DOM globals are
// touched here (main.ts passes them in), so ui/test/agent/messages.test.ts runs it under Node.

/** The shell's page: tauri://localhost (Linux, macOS), http(s)://tauri.localhost (Windows). */
export const HOST_ORIGINS = ["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"] as const;

export const CLIENT_VERSION = "1.0.0";

export interface EmbeddedClientSettings {
  showCallControls: boolean;
  allowTransfer: boolean;
}

export interface InitMessage {
  type: "agent-shell:init";
  accessToken: string;
  /** ms since the epoch; null when the shell does not know (then only a 401 renews). */
  expiresAt: number | null;
  environment: string;
  apiBase: string;
  clientId: string;
  language: string;
  embeddedClientSettings: EmbeddedClientSettings;
}

export interface TokenMessage {
  type: "agent-shell:token";
  accessToken: string;
  expiresAt: number | null;
}

export type HostMessage = { type: "ack"; status: "received" } | InitMessage | TokenMessage;

export type ClientOut =
  | { type: "agent-shell:ready"; version: string }
  | { type: "agent-shell:session-start"; userId: string; name: string }
  | {
      type: "agent-shell:interaction-start";
      interactionId: string;
      ani?: string;
      queueName?: string;
      attributes?: Record<string, string>;
    }
  | { type: "agent-shell:interaction-end"; interactionId: string }
  | { type: "agent-shell:token-expiring"; expiresIn: number }
  | { type: "agent-shell:auth-error"; status: 401; message: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An OAuth access token: visible ASCII, no spaces, bounded. */
const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/=]{16,8192}$/;
const ENVIRONMENT_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9\-_.]{0,127}$/;
/** A BCP 47 tag as navigator.language gives it ("en", "de-DE", "zh-Hans-CN"). */
const LANGUAGE_PATTERN = /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8}){0,4}$/;
/** Expiry in ms since the epoch: after 2001 and before 2100 (a seconds value is refused). */
const isExpiry = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 1e12 && v < 4.1e12;
/** Expiry, or null/absent when the shell does not know it; undefined when malformed. */
const readExpiry = (v: unknown): number | null | undefined => (v === null || v === undefined ? null : isExpiry(v) ? v : undefined);

/** The API base: an https origin (https://api.{environment}, or the reverse proxy IT names in
 * policy as `endpoints.api`; the page's CSP allows connections to exactly that origin) or, for
 * the emulator, http on loopback. */
export function checkApiBase(value: unknown, _environment: string): string | null {
  if (typeof value !== "string" || value.length > 200) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.username || url.password || url.search || url.hash || (url.pathname !== "/" && url.pathname !== "")) {
    return null;
  }
  if (url.protocol === "https:") {
    return url.origin;
  }
  if (url.protocol === "http:" && (url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]")) {
    return url.origin;
  }
  return null;
}

function readSettings(value: unknown): EmbeddedClientSettings | null {
  if (value === undefined || value === null) {
    return { showCallControls: true, allowTransfer: true };
  }
  if (!isRecord(value)) return null;
  const flag = (name: string): boolean | null => {
    const v = value[name];
    if (v === undefined || v === null) return true;
    return typeof v === "boolean" ? v : null;
  };
  const showCallControls = flag("showCallControls");
  const allowTransfer = flag("allowTransfer");
  if (showCallControls === null || allowTransfer === null) return null;
  return { showCallControls, allowTransfer };
}

/** Reads one host message; null when it is not one of ours or any field is wrong. */
export function parseHostMessage(data: unknown): HostMessage | null {
  if (!isRecord(data)) return null;
  switch (data["type"]) {
    case "ack":
      return data["status"] === "received" ? { type: "ack", status: "received" } : null;
    case "agent-shell:token": {
      const { accessToken } = data;
      const expiresAt = readExpiry(data["expiresAt"]);
      if (typeof accessToken !== "string" || !TOKEN_PATTERN.test(accessToken) || expiresAt === undefined) return null;
      return { type: "agent-shell:token", accessToken, expiresAt };
    }
    case "agent-shell:init": {
      const { accessToken, environment, clientId, language } = data;
      const expiresAt = readExpiry(data["expiresAt"]);
      if (typeof accessToken !== "string" || !TOKEN_PATTERN.test(accessToken) || expiresAt === undefined) return null;
      if (typeof environment !== "string" || environment.length > 100 || !ENVIRONMENT_PATTERN.test(environment)) return null;
      if (typeof clientId !== "string" || !CLIENT_ID_PATTERN.test(clientId)) return null;
      // The language only picks a catalogue: anything odd falls back to English.
      const lang = typeof language === "string" && LANGUAGE_PATTERN.test(language) ? language : "en";
      const apiBase = checkApiBase(data["apiBase"], environment);
      const settings = readSettings(data["embeddedClientSettings"]);
      if (apiBase === null || settings === null) return null;
      return {
        type: "agent-shell:init",
        accessToken,
        expiresAt,
        environment,
        apiBase,
        clientId,
        language: lang,
        embeddedClientSettings: settings,
      };
    }
    default:
      return null;
  }
}

/** A message from the host is heard only from the parent window AND an exact host origin. */
export function acceptHostEvent(
  event: { source: unknown; origin: string; data: unknown },
  parent: unknown,
): HostMessage | null {
  if (parent === null || parent === undefined || event.source !== parent) return null;
  if (!(HOST_ORIGINS as readonly string[]).includes(event.origin)) return null;
  return parseHostMessage(event.data);
}

/** Where to post: the parent's exact origin when the browser tells us (ancestorOrigins, and
 * only if it is a host origin), else every host origin (only the matching one is delivered).
 * Never "*". After the host has spoken, main.ts posts to the origin it heard from only. */
export function hostTargets(ancestorOrigins: ArrayLike<string> | undefined): string[] {
  const first = ancestorOrigins !== undefined && ancestorOrigins.length > 0 ? ancestorOrigins[0] : undefined;
  if (first !== undefined) {
    return (HOST_ORIGINS as readonly string[]).includes(first) ? [first] : [];
  }
  return [...HOST_ORIGINS];
}
