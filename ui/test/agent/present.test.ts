import assert from "node:assert/strict";
import { test } from "node:test";
import { translator } from "../../src/agent/i18n";
import { en } from "../../src/agent/i18n/en";
import { shortcutFor, stationLine, statusLine } from "../../src/agent/present";
import { phoneMode } from "../../src/agent/softphone";
import { initialState, type State } from "../../src/agent/state";

const t = translator(en);
const key = (code: string, mods: Partial<{ altKey: boolean; ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }> = {}) => ({
  altKey: true,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  code,
  ...mods,
});

test("shortcuts: Alt+A/H/M/O by physical key, nothing with other modifiers", () => {
  assert.equal(shortcutFor(key("KeyA")), "answer");
  assert.equal(shortcutFor(key("KeyH")), "hangup");
  assert.equal(shortcutFor(key("KeyM")), "mute");
  assert.equal(shortcutFor(key("KeyO")), "hold");
  assert.equal(shortcutFor(key("KeyA", { altKey: false })), null);
  assert.equal(shortcutFor(key("KeyA", { ctrlKey: true })), null);
  assert.equal(shortcutFor(key("KeyZ")), null);
});

test("where calls ring, for each kind of station", () => {
  const webrtc = { id: "s", name: "WebRTC Alex", type: "inin_webrtc_softphone", kind: "webrtc" as const };
  const desk = { id: "s", name: "Desk 12", type: "inin_phone", kind: "desk-phone" as const };
  const remote = { id: "s", name: "Home", type: "inin_remote", kind: "remote" as const };
  assert.equal(phoneMode(webrtc, true, "https://api.mypurecloud.ie", "mypurecloud.ie"), "webrtc");
  assert.equal(phoneMode(webrtc, false, "https://api.mypurecloud.ie", "mypurecloud.ie"), "webrtc-no-media");
  assert.equal(phoneMode(webrtc, true, "http://127.0.0.1:4000", "mypurecloud.ie"), "webrtc-elsewhere");
  assert.equal(phoneMode(desk, true, "https://api.mypurecloud.ie", "mypurecloud.ie"), "desk-phone");
  assert.equal(phoneMode(remote, false, "https://api.mypurecloud.ie", "mypurecloud.ie"), "remote");
  assert.equal(phoneMode(null, true, "https://api.mypurecloud.ie", "mypurecloud.ie"), "none");
  const state: State = { ...initialState(), phase: "ready", me: { id: "u", name: "A", orgName: "O", station: desk } };
  assert.equal(stationLine(state, "desk-phone", t), "Calls ring on your desk phone (Desk 12).");
  assert.match(stationLine({ ...state, me: { ...state.me!, station: webrtc } }, "webrtc-no-media", t), /cannot make WebRTC calls/);
  assert.match(stationLine({ ...state, me: { ...state.me!, station: null } }, "none", t), /no phone station/);
});

test("the status line", () => {
  const ready: State = { ...initialState(), phase: "ready" };
  assert.equal(statusLine(initialState(), t), "Waiting for Agent Shell…");
  assert.equal(statusLine({ ...ready, routingStatus: "IDLE" }, t), "On queue, waiting for a call");
  assert.equal(statusLine({ ...ready, presence: { definitionId: "d", systemPresence: "On Queue" } }, t), "On Queue");
  assert.equal(statusLine(ready, t), "Off Queue");
});
