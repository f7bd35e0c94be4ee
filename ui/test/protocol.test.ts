// The host's message gate, checked under Node against the fixtures the Rust parser
// (src-tauri/core/src/embed/messages.rs) is checked against too.
import assert from "node:assert/strict";
import { test } from "node:test";
import fixtures from "../../src-tauri/core/fixtures/client-messages.json";
import { formatElapsed } from "../src/format";
import { classifyMessage, MAX_MESSAGE_BYTES, parseClientMessage } from "../src/protocol";

const CLIENT = "https://api.mypurecloud.ie";
const ORIGINS = [CLIENT, "https://media.mypurecloud.ie"];
const clientWindow = { name: "client iframe" };
const otherWindow = { name: "another frame" };
const queue = { type: "agent-shell:queue-position", position: 3, total: 12 };

test("every valid fixture parses, keeping only the known fields", () => {
  assert.ok(fixtures.valid.length >= 10, "fixtures not loaded");
  for (const data of fixtures.valid) {
    const parsed = parseClientMessage(data);
    assert.ok(parsed !== null && parsed !== "unknown", `rejected: ${JSON.stringify(data)}`);
    assert.equal(parsed.type, (data as { type: string }).type);
    for (const [key, value] of Object.entries(parsed)) {
      assert.ok(key in (data as object), `invented field ${key}`);
      assert.notEqual(value, null, `null kept in ${key}`);
    }
  }
  assert.deepEqual(
    parseClientMessage({ type: "agent-shell:queue-position", position: 1, total: 2, queueName: "Support" }),
    { type: "agent-shell:queue-position", position: 1, total: 2 },
  );
});

test("every invalid fixture is malformed, every unknown one is unknown", () => {
  assert.ok(fixtures.invalid.length >= 10 && fixtures.unknown.length >= 3, "fixtures not loaded");
  for (const data of fixtures.invalid) {
    assert.equal(parseClientMessage(data), null, `accepted: ${JSON.stringify(data)}`);
  }
  for (const data of fixtures.unknown) {
    assert.equal(parseClientMessage(data), "unknown", JSON.stringify(data));
  }
});

test("only the client window, from an exact client origin, is heard", () => {
  const from = (source: unknown, origin: string, data: unknown = queue) => ({ source, origin, data });
  assert.deepEqual(classifyMessage(from(clientWindow, CLIENT), clientWindow, ORIGINS), {
    accepted: true,
    message: queue,
  });
  // A right-looking message from any other window, even on the client's origin.
  assert.deepEqual(classifyMessage(from(otherWindow, CLIENT), clientWindow, ORIGINS), {
    accepted: false,
    reason: "foreign-source",
  });
  // Before the iframe exists nothing is accepted.
  assert.equal(classifyMessage(from(null, CLIENT), null, ORIGINS).accepted, false);
  for (const origin of [
    "https://api.mypurecloud.ie/",
    "https://api.mypurecloud.ie:8443",
    "http://api.mypurecloud.ie",
    "https://API.mypurecloud.ie",
    "https://api.mypurecloud.ie.evil.net",
    "https://evil-api.mypurecloud.ie",
    "null",
    "",
  ]) {
    assert.deepEqual(
      classifyMessage(from(clientWindow, origin), clientWindow, ORIGINS),
      { accepted: false, reason: "foreign-origin" },
      origin,
    );
  }
});

test("oversize, unserialisable, malformed and unknown payloads are ignored with their reason", () => {
  const verdict = (data: unknown) => classifyMessage({ source: clientWindow, origin: CLIENT, data }, clientWindow, ORIGINS);
  const big = { ...queue, padding: "x".repeat(MAX_MESSAGE_BYTES) };
  assert.deepEqual(verdict(big), { accepted: false, reason: "oversize" });
  // Multi-byte characters count as bytes, not as UTF-16 units.
  const wide = { type: "agent-shell:session-start", userId: "u1", name: "é".repeat(MAX_MESSAGE_BYTES / 2) };
  assert.deepEqual(verdict(wide), { accepted: false, reason: "oversize" });
  const circular: Record<string, unknown> = { type: "agent-shell:ready" };
  circular["self"] = circular;
  assert.deepEqual(verdict(circular), { accepted: false, reason: "malformed" });
  assert.deepEqual(verdict({ ...queue, position: 99 }), { accepted: false, reason: "malformed" });
  assert.deepEqual(verdict({ type: "agent-shell:teleport" }), { accepted: false, reason: "unknown-type" });
  assert.equal(verdict(queue).accepted, true);
});

test("interaction time reads like a clock", () => {
  assert.equal(formatElapsed(0), "0:00");
  assert.equal(formatElapsed(42_900), "0:42");
  assert.equal(formatElapsed(12 * 60_000 + 5_000), "12:05");
  assert.equal(formatElapsed(3_729_000), "1:02:09");
  assert.equal(formatElapsed(-5), "0:00");
});
