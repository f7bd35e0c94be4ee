import assert from "node:assert/strict";
import { test } from "node:test";
import { acceptHostEvent, checkApiBase, HOST_ORIGINS, hostTargets, parseHostMessage } from "../../src/agent/messages";
import { TOKEN_1 } from "./fixtures";

const parent = { name: "the shell" };
const init = {
  type: "agent-shell:init",
  accessToken: TOKEN_1,
  expiresAt: Date.UTC(2026, 0, 5, 12),
  environment: "mypurecloud.ie",
  apiBase: "https://api.mypurecloud.ie",
  clientId: "0a1b2c3d-client",
  language: "de",
  embeddedClientSettings: { showCallControls: true, allowTransfer: false, allowPark: false },
};

test("init is read with every field checked", () => {
  const parsed = parseHostMessage(init);
  assert.ok(parsed && parsed.type === "agent-shell:init");
  assert.equal(parsed.apiBase, "https://api.mypurecloud.ie");
  assert.deepEqual(parsed.embeddedClientSettings, { showCallControls: true, allowTransfer: false });
  // Unknown expiry (the shell may not know it), any BCP 47 language (odd ones -> English).
  assert.equal((parseHostMessage({ ...init, expiresAt: null }) as { expiresAt: unknown }).expiresAt, null);
  assert.equal((parseHostMessage({ ...init, language: "zh-Hans-CN" }) as { language: string }).language, "zh-Hans-CN");
  assert.equal((parseHostMessage({ ...init, language: "<b>" }) as { language: string }).language, "en");
  // The emulator on loopback.
  assert.ok(parseHostMessage({ ...init, apiBase: "http://127.0.0.1:47700" }));
  for (const bad of [
    { accessToken: "" },
    { accessToken: "has spaces in the token value" },
    { accessToken: 42 },
    { expiresAt: 1_700_000_000 }, // seconds, not ms
    { expiresAt: "soon" },
    { environment: "mypurecloud.ie/evil" },
    { apiBase: "http://api.mypurecloud.ie" },
    { apiBase: "http://api.mypurecloud.ie" },
    { apiBase: "https://api.mypurecloud.ie/api/v2" },
    { apiBase: "https://user:pw@api.mypurecloud.ie" },
    { clientId: "<script>" },
    { embeddedClientSettings: { showCallControls: "yes" } },
  ]) {
    assert.equal(parseHostMessage({ ...init, ...bad }), null, JSON.stringify(bad));
  }
});

test("token and ack", () => {
  assert.deepEqual(parseHostMessage({ type: "agent-shell:token", accessToken: TOKEN_1, expiresAt: init.expiresAt, extra: 1 }), {
    type: "agent-shell:token",
    accessToken: TOKEN_1,
    expiresAt: init.expiresAt,
  });
  assert.equal(parseHostMessage({ type: "agent-shell:token", accessToken: TOKEN_1, expiresAt: 1_700_000_000 }), null);
  assert.equal(parseHostMessage({ type: "agent-shell:token", accessToken: "short" }), null);
  assert.deepEqual(parseHostMessage({ type: "ack", status: "received" }), { type: "ack", status: "received" });
  assert.equal(parseHostMessage({ type: "agent-shell:teleport" }), null);
  assert.equal(parseHostMessage("agent-shell:init"), null);
});

test("only the parent window on an exact shell origin is heard", () => {
  for (const origin of HOST_ORIGINS) {
    assert.ok(acceptHostEvent({ source: parent, origin, data: init }, parent), origin);
  }
  assert.equal(acceptHostEvent({ source: { other: true }, origin: "tauri://localhost", data: init }, parent), null);
  assert.equal(acceptHostEvent({ source: null, origin: "tauri://localhost", data: init }, null), null);
  for (const origin of ["tauri://localhost/", "http://tauri.localhost:8080", "https://evil.localhost", "null", "TAURI://localhost"]) {
    assert.equal(acceptHostEvent({ source: parent, origin, data: init }, parent), null, origin);
  }
});

test("replies go to an exact origin, never '*'", () => {
  assert.deepEqual(hostTargets(["tauri://localhost"]), ["tauri://localhost"]);
  assert.deepEqual(hostTargets(["https://evil.example"]), []);
  assert.deepEqual(hostTargets(undefined), [...HOST_ORIGINS]);
  assert.ok(!hostTargets(undefined).includes("*"));
  assert.equal(checkApiBase("https://api.mypurecloud.ie/", "mypurecloud.ie"), "https://api.mypurecloud.ie");
});

test("the API base is an https origin or loopback http, nothing else", () => {
  // IT may route the API through a reverse proxy (policy `endpoints.api`).
  assert.equal(checkApiBase("https://genesys-proxy.example.com", "mypurecloud.ie"), "https://genesys-proxy.example.com");
  assert.equal(checkApiBase("http://127.0.0.1:40123", "127.0.0.1"), "http://127.0.0.1:40123");
  for (const bad of ["http://api.mypurecloud.ie", "https://api.mypurecloud.ie/v2", "https://u:p@api.mypurecloud.ie", "javascript:alert(1)", "https://api.mypurecloud.ie/?x=1", 42]) {
    assert.equal(checkApiBase(bad, "mypurecloud.ie"), null, String(bad));
  }
});
