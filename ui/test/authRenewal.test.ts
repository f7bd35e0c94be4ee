// The auth-error renewal gate: one renewal answers a refused token, refusals while it runs are
// let be, a refusal soon after it finished is reported, and one later in the shift is renewed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AUTH_RENEWAL_INTERVAL_MS, AuthRenewalGate } from "../src/authRenewal";

test("the first refusal is renewed; refusals while that runs are about the old token", () => {
  const gate = new AuthRenewalGate();
  assert.equal(gate.onAuthError(1_000), "renew");
  assert.equal(gate.onAuthError(1_100), "renewal-running");
  assert.equal(gate.onAuthError(1_200), "renewal-running");
});

test("a refusal soon after the renewal finished is reported, not renewed", () => {
  const gate = new AuthRenewalGate();
  assert.equal(gate.onAuthError(1_000), "renew");
  gate.finished(2_000);
  assert.equal(gate.onAuthError(2_500), "report");
  assert.equal(gate.onAuthError(2_000 + AUTH_RENEWAL_INTERVAL_MS - 1), "report");
});

test("a refusal later in the shift gets a renewal again", () => {
  const gate = new AuthRenewalGate();
  assert.equal(gate.onAuthError(0), "renew");
  gate.finished(1_000);
  assert.equal(gate.onAuthError(1_000 + AUTH_RENEWAL_INTERVAL_MS), "renew");
});

test("a failed renewal counts as finished: the next refusal soon after is reported", () => {
  const gate = new AuthRenewalGate(100);
  assert.equal(gate.onAuthError(0), "renew");
  gate.finished(10);
  assert.equal(gate.onAuthError(50), "report");
  assert.equal(gate.onAuthError(110), "renew");
});
