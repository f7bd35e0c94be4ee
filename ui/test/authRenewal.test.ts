// The auth-error renewal gate: one renewal answers a refused token, a second refusal soon after
// is reported instead of renewed, and a refusal later in the shift is renewed again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AUTH_RENEWAL_INTERVAL_MS, AuthRenewalGate } from "../src/authRenewal";

test("a refusal right after a renewal is not renewed again", () => {
  const gate = new AuthRenewalGate();
  assert.equal(gate.tryStart(1_000), true);
  assert.equal(gate.tryStart(2_000), false);
  assert.equal(gate.tryStart(1_000 + AUTH_RENEWAL_INTERVAL_MS - 1), false);
});

test("a refusal later in the shift gets a renewal again", () => {
  const gate = new AuthRenewalGate();
  assert.equal(gate.tryStart(1_000), true);
  assert.equal(gate.tryStart(1_000 + AUTH_RENEWAL_INTERVAL_MS), true);
  assert.equal(gate.tryStart(1_500 + AUTH_RENEWAL_INTERVAL_MS), false);
});

test("a refused attempt does not push the next allowed renewal back", () => {
  const gate = new AuthRenewalGate(100);
  assert.equal(gate.tryStart(0), true);
  assert.equal(gate.tryStart(50), false);
  assert.equal(gate.tryStart(100), true);
});

test("a new handshake allows a renewal at once", () => {
  const gate = new AuthRenewalGate();
  assert.equal(gate.tryStart(0), true);
  gate.reset();
  assert.equal(gate.tryStart(10), true);
});
