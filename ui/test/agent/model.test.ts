import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCallConversation, parseMe, parsePresenceDefinitions, parseUserQueues, parseWrapupCodes, stationKind } from "../../src/agent/model";
import { AGENT_PART, CONV_ID, eventCall, QUEUE_ID, restCall, USER_ID, usersMe, presenceDefinitions, userQueues } from "./fixtures";

test("users/me reads who, org, station, presence and routing status", () => {
  const parsed = parseMe(usersMe);
  assert.ok(parsed);
  assert.equal(parsed.me.name, "Alex Agent");
  assert.equal(parsed.me.orgName, "Example Org");
  assert.deepEqual(parsed.me.station, { id: "st-1", name: "Alex's desk phone", type: "inin_phone", kind: "desk-phone" });
  assert.equal(parsed.presence?.systemPresence, "Available");
  assert.equal(parsed.routingStatus, "OFF_QUEUE");
  assert.equal(parseMe({ name: "no id" }), null);
});

test("station kinds", () => {
  assert.equal(stationKind("inin_webrtc_softphone"), "webrtc");
  assert.equal(stationKind("inin_remote"), "remote");
  assert.equal(stationKind("inin_phone"), "desk-phone");
  assert.equal(stationKind(""), "none");
});

test("presence definitions: labels in the agent's language, deactivated ones dropped", () => {
  const de = parsePresenceDefinitions(presenceDefinitions, "de");
  assert.deepEqual(de.map((d) => d.label), ["Verfügbar", "In Warteschlange", "Break"]);
  const en = parsePresenceDefinitions(presenceDefinitions, "en");
  assert.equal(en[1]?.label, "On Queue");
  assert.deepEqual(parseUserQueues(userQueues).map((q) => q.joined), [true, false]);
  assert.deepEqual(parseWrapupCodes([{ id: "w1", name: "Resolved" }, { name: "no id" }]), [{ id: "w1", name: "Resolved" }]);
});

test("a call reads the same from REST (user.id) and from an event (userId)", () => {
  for (const body of [restCall("connected"), eventCall("connected")]) {
    const c = parseCallConversation(body, USER_ID);
    assert.ok(c);
    assert.equal(c.id, CONV_ID);
    assert.equal(c.media, "voice");
    assert.equal(c.participantId, AGENT_PART);
    assert.equal(c.state, "connected");
    assert.equal(c.queueId, QUEUE_ID);
    assert.equal(c.queueName, "Support");
    assert.deepEqual(c.remote, { name: "Pat Caller", address: "+353111222333" });
    assert.equal(c.direction, "inbound");
    assert.deepEqual(c.attributes, { account: "42" });
    assert.equal(c.connectedTime, Date.parse("2026-01-05T10:00:00.000Z"));
  }
  assert.equal(parseCallConversation(restCall("connected"), "someone-else"), null);
  assert.equal(parseCallConversation({ participants: [] }, USER_ID), null);
});
