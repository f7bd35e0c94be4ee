// The embedded client's messages and the acceptance rule, with no IPC and no DOM access, so
// ui/test/protocol.test.ts can run it under Node. Mirrors `ClientEvent` in
// src-tauri/core/src/embed/messages.rs; both are checked against src-tauri/core/fixtures/client-messages.json.

export const MAX_MESSAGE_BYTES = 16 * 1024;
const MAX_QUEUE = 100_000;
const MAX_NAME_CHARS = 200;
const MAX_ERROR_CHARS = 500;
const MAX_EXPIRES_IN_SECS = 86_400;

export type ClientMessage =
  | { type: "agent-shell:ready"; version?: string }
  | { type: "agent-shell:session-start"; userId: string; name?: string }
  | { type: "agent-shell:queue-position"; position: number; total: number }
  | {
      type: "agent-shell:interaction-start";
      interactionId: string;
      ani?: string;
      queueName?: string;
      attributes?: Record<string, string>;
    }
  | { type: "agent-shell:interaction-end"; interactionId: string }
  | { type: "agent-shell:token-expiring"; expiresIn?: number }
  | { type: "agent-shell:auth-error"; status?: number; message?: string };

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
const MAX_ANI_CHARS = 64;
const MAX_ATTRIBUTES = 50;
const MAX_ATTRIBUTE_CHARS = 1000;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Free text: bounded, no control characters (as Rust's check). */
const isPlainText = (v: unknown, max: number): v is string => isText(v, max) && !CONTROL.test(v);
/** Participant attributes for the CRM template: a few named strings. */
const isAttributes = (v: unknown): boolean =>
  isRecord(v) &&
  Object.keys(v).length <= MAX_ATTRIBUTES &&
  Object.entries(v).every(([k, value]) => ATTRIBUTE_NAME.test(k) && isPlainText(value, MAX_ATTRIBUTE_CHARS));
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
    case "agent-shell:ready": {
      const version = data["version"];
      if (!optional(version, (v) => isText(v, 64))) {
        return null;
      }
      return typeof version === "string" ? { type: data["type"], version } : { type: data["type"] };
    }
    case "agent-shell:session-start": {
      const { userId, name } = data;
      if (!isId(userId) || !optional(name, (v) => isText(v, MAX_NAME_CHARS))) {
        return null;
      }
      return typeof name === "string" ? { type: data["type"], userId, name } : { type: data["type"], userId };
    }
    case "agent-shell:queue-position": {
      const { position, total } = data;
      if (!isCount(position) || !isCount(total) || total > MAX_QUEUE || position > total) {
        return null;
      }
      return { type: data["type"], position, total };
    }
    case "agent-shell:interaction-start": {
      const { interactionId, ani, queueName, attributes } = data;
      if (
        !isId(interactionId) ||
        !optional(ani, (v) => isPlainText(v, MAX_ANI_CHARS)) ||
        !optional(queueName, (v) => isPlainText(v, MAX_NAME_CHARS)) ||
        !optional(attributes, isAttributes)
      ) {
        return null;
      }
      return {
        type: data["type"],
        interactionId,
        ...(typeof ani === "string" ? { ani } : {}),
        ...(typeof queueName === "string" ? { queueName } : {}),
        ...(isRecord(attributes) ? { attributes: attributes as Record<string, string> } : {}),
      };
    }
    case "agent-shell:interaction-end": {
      const interactionId = data["interactionId"];
      return isId(interactionId) ? { type: data["type"], interactionId } : null;
    }
    case "agent-shell:token-expiring": {
      const expiresIn = data["expiresIn"];
      if (!optional(expiresIn, (v) => isCount(v) && v <= MAX_EXPIRES_IN_SECS)) {
        return null;
      }
      return typeof expiresIn === "number" ? { type: data["type"], expiresIn } : { type: data["type"] };
    }
    case "agent-shell:auth-error": {
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
