// The embedded client's messages and the acceptance rule, with no IPC and no DOM access, so
// ui/test/protocol.test.ts can run it under Node. Mirrors `ClientEvent` in
// src-tauri/core/src/embed.rs; both are checked against src-tauri/core/fixtures/client-messages.json.

export const MAX_MESSAGE_BYTES = 16 * 1024;
const MAX_QUEUE = 100_000;
const MAX_NAME_CHARS = 200;
const MAX_ERROR_CHARS = 500;
const MAX_EXPIRES_IN_SECS = 86_400;

export type ClientMessage =
  | { type: "genesys-cloud-embed:ready"; version?: string }
  | { type: "genesys-cloud-embed:session-start"; userId: string; name?: string }
  | { type: "genesys-cloud-embed:queue-position"; position: number; total: number }
  | { type: "genesys-cloud-embed:interaction-start"; interactionId: string }
  | { type: "genesys-cloud-embed:interaction-end"; interactionId: string }
  | { type: "genesys-cloud-embed:token-expiring"; expiresIn?: number }
  | { type: "genesys-cloud-embed:auth-error"; status?: number; message?: string };

export type IgnoredReason = "foreign-source" | "foreign-origin" | "oversize" | "malformed" | "unknown-type";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isU16 = (v: unknown): v is number => isCount(v) && v <= 0xffff;
/** Interaction and user ids: what Genesys uses (UUIDs, emails), nothing that could be markup,
 * starting with a letter or digit (so never "." or "..", path segments in a CRM URL). */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9\-_.:@]{0,127}$/;
const isId = (v: unknown): v is string => typeof v === "string" && ID_PATTERN.test(v);
const charCount = (s: string): number => Array.from(s).length;
const isText = (v: unknown, max: number): v is string => typeof v === "string" && charCount(v) <= max;
/** An optional field: absent, or null (as serde reads an Option), or valid. */
const optional = (v: unknown, check: (v: unknown) => boolean): boolean =>
  v === undefined || v === null || check(v);

/** Parses a message into the typed union (known fields only); null when malformed, "unknown"
 * for other types. */
export function parseClientMessage(data: unknown): ClientMessage | "unknown" | null {
  if (!isRecord(data) || typeof data["type"] !== "string") {
    return null;
  }
  switch (data["type"]) {
    case "genesys-cloud-embed:ready": {
      const version = data["version"];
      if (!optional(version, (v) => isText(v, 64))) {
        return null;
      }
      return typeof version === "string" ? { type: data["type"], version } : { type: data["type"] };
    }
    case "genesys-cloud-embed:session-start": {
      const { userId, name } = data;
      if (!isId(userId) || !optional(name, (v) => isText(v, MAX_NAME_CHARS))) {
        return null;
      }
      return typeof name === "string" ? { type: data["type"], userId, name } : { type: data["type"], userId };
    }
    case "genesys-cloud-embed:queue-position": {
      const { position, total } = data;
      if (!isCount(position) || !isCount(total) || total > MAX_QUEUE || position > total) {
        return null;
      }
      return { type: data["type"], position, total };
    }
    case "genesys-cloud-embed:interaction-start":
    case "genesys-cloud-embed:interaction-end": {
      const interactionId = data["interactionId"];
      return isId(interactionId) ? { type: data["type"], interactionId } : null;
    }
    case "genesys-cloud-embed:token-expiring": {
      const expiresIn = data["expiresIn"];
      if (!optional(expiresIn, (v) => isCount(v) && v <= MAX_EXPIRES_IN_SECS)) {
        return null;
      }
      return typeof expiresIn === "number" ? { type: data["type"], expiresIn } : { type: data["type"] };
    }
    case "genesys-cloud-embed:auth-error": {
      const { status, message } = data;
      if (!optional(status, isU16) || !optional(message, (v) => isText(v, MAX_ERROR_CHARS))) {
        return null;
      }
      return {
        type: data["type"],
        ...(typeof status === "number" ? { status } : {}),
        ...(typeof message === "string" ? { message } : {}),
      };
    }
    default:
      return "unknown";
  }
}

export type Verdict = { accepted: true; message: ClientMessage } | { accepted: false; reason: IgnoredReason };

/** What the host does with one `message` event: accept it only from the client iframe's window,
 * from one of the client's exact origins, within the size limit, and parsed. */
export function classifyMessage(
  event: { source: unknown; origin: string; data: unknown },
  clientWindow: unknown,
  clientOrigins: readonly string[],
): Verdict {
  if (clientWindow === null || event.source !== clientWindow) {
    return { accepted: false, reason: "foreign-source" };
  }
  if (!clientOrigins.includes(event.origin)) {
    return { accepted: false, reason: "foreign-origin" };
  }
  let size: number;
  try {
    size = new TextEncoder().encode(JSON.stringify(event.data) ?? "").length;
  } catch {
    return { accepted: false, reason: "malformed" };
  }
  if (size > MAX_MESSAGE_BYTES) {
    return { accepted: false, reason: "oversize" };
  }
  const message = parseClientMessage(event.data);
  if (message === null) {
    return { accepted: false, reason: "malformed" };
  }
  if (message === "unknown") {
    return { accepted: false, reason: "unknown-type" };
  }
  return { accepted: true, message };
}
