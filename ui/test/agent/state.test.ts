// The state machine, driven through an agent's call: init -> users/me -> On Queue -> alerting ->
// answer -> hold -> resume -> mute -> disconnect -> wrap-up -> recent list; plus the token,
// 401 and 403 rules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCallConversation, parseMe, parsePresenceDefinitions, parseUserQueues } from "../../src/agent/model";
import {
  currentInteraction,
  initialState,
  isOnQueue,
  onQueueDefinition,
  reduce,
  type AgentEvent,
  type Effect,
  type State,
} from "../../src/agent/state";
import { AGENT_PART, CONV_ID, eventCall, ON_QUEUE_ID, presenceDefinitions, restCall, USER_ID, userQueues, usersMe } from "./fixtures";

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const config = {
  environment: "mypurecloud.ie",
  apiBase: "https://api.mypurecloud.ie",
  clientId: "client-1",
  language: "en",
  settings: { showCallControls: true, allowTransfer: true },
};

function run(state: State, ...events: AgentEvent[]): { state: State; effects: Effect[] } {
  const effects: Effect[] = [];
  for (const event of events) {
    const step = reduce(state, event);
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}
const hostTypes = (effects: Effect[]) => effects.flatMap((e) => (e.kind === "host" ? [e.message.type] : []));
const snap = (body: unknown) => {
  const s = parseCallConversation(body, USER_ID);
  assert.ok(s);
  return s;
};

function signedIn(): State {
  const me = parseMe(usersMe);
  assert.ok(me);
  return run(
    initialState(),
    { type: "init", config, expiresAt: T0 + 3_600_000 },
    { type: "me-loaded", me: me.me, presence: me.presence, routingStatus: me.routingStatus },
    { type: "definitions-loaded", definitions: parsePresenceDefinitions(presenceDefinitions, "en") },
    { type: "queues-loaded", queues: parseUserQueues(userQueues) },
  ).state;
}

test("a whole call, from sign-in to the recent list", () => {
  // init -> users/me: session-start, once.
  let step = run(initialState(), { type: "init", config, expiresAt: T0 + 3_600_000 });
  assert.equal(step.state.phase, "starting");
  const me = parseMe(usersMe);
  assert.ok(me);
  step = run(step.state, { type: "me-loaded", me: me.me, presence: me.presence, routingStatus: me.routingStatus });
  assert.deepEqual(step.effects, [
    { kind: "host", message: { type: "agent-shell:session-start", userId: USER_ID, name: "Alex Agent" } },
  ]);
  assert.equal(step.state.phase, "ready");
  step = run(step.state, { type: "me-loaded", me: me.me, presence: null, routingStatus: null });
  assert.deepEqual(step.effects, [], "session-start is sent once");
  let state = run(
    step.state,
    { type: "definitions-loaded", definitions: parsePresenceDefinitions(presenceDefinitions, "en") },
    { type: "queues-loaded", queues: parseUserQueues(userQueues) },
  ).state;
  assert.equal(isOnQueue(state), false);

  // On Queue: the presence answer and the routing status event.
  assert.equal(onQueueDefinition(state)?.id, ON_QUEUE_ID);
  state = run(
    state,
    { type: "presence", presence: { definitionId: ON_QUEUE_ID, systemPresence: "On Queue" } },
    { type: "routing-status", status: "IDLE" },
  ).state;
  assert.equal(isOnQueue(state), true);

  // Alerting: announced once (a repeat event is not announced again).
  step = run(state, { type: "conversation", snapshot: snap(eventCall("alerting")), now: T0 });
  assert.deepEqual(step.effects, [{ kind: "announce", key: "incomingCall", caller: "Pat Caller (+353111222333)", queue: "Support" }]);
  step = run(step.state, { type: "conversation", snapshot: snap(eventCall("alerting")), now: T0 + 1000 });
  assert.deepEqual(step.effects, []);
  assert.equal(currentInteraction(step.state)?.phase, "alerting");

  // Answer: connected -> interaction-start with ani, queue and attributes, once.
  step = run(step.state, { type: "conversation", snapshot: snap(restCall("connected")), now: T0 + 5000 });
  assert.deepEqual(step.effects, [
    {
      kind: "host",
      message: {
        type: "agent-shell:interaction-start",
        interactionId: CONV_ID,
        ani: "+353111222333",
        queueName: "Support",
        attributes: { account: "42" },
      },
    },
  ]);
  const connected = currentInteraction(step.state);
  assert.equal(connected?.phase, "connected");
  assert.equal(connected?.connectedAt, T0 + 5000, "the timer starts on our clock when we see it connect");

  // Hold, resume, mute: no more host messages.
  step = run(step.state, { type: "conversation", snapshot: snap(eventCall("connected", { held: true })), now: T0 + 6000 });
  assert.equal(currentInteraction(step.state)?.held, true);
  assert.deepEqual(step.effects, []);
  step = run(step.state, { type: "conversation", snapshot: snap(eventCall("connected", { held: false })), now: T0 + 7000 });
  assert.equal(currentInteraction(step.state)?.held, false);
  step = run(step.state, { type: "conversation", snapshot: snap(eventCall("connected", { muted: true })), now: T0 + 8000 });
  assert.equal(currentInteraction(step.state)?.muted, true);
  assert.deepEqual(step.effects, []);

  // Disconnect with wrap-up required: not ended for the host yet.
  step = run(step.state, { type: "conversation", snapshot: snap(eventCall("disconnected", { wrapupRequired: true })), now: T0 + 65_000 });
  assert.deepEqual(step.effects, []);
  assert.equal(currentInteraction(step.state)?.phase, "wrapup");
  step = run(step.state, { type: "wrapup-codes", conversationId: CONV_ID, codes: [{ id: "w-res", name: "Resolved" }] });

  // Wrap-up done: interaction-end, and the recent list has it.
  step = run(step.state, { type: "wrapup-submitted", conversationId: CONV_ID, codeId: "w-res", now: T0 + 90_000 });
  assert.deepEqual(hostTypes(step.effects), ["agent-shell:interaction-end"]);
  assert.equal(step.state.interactions.length, 0);
  assert.equal(step.state.recent.length, 1);
  const item = step.state.recent[0];
  assert.equal(item?.outcome, "answered");
  assert.equal(item?.wrapupName, "Resolved");
  assert.equal(item?.queueName, "Support");
  assert.equal(item?.media, "voice");
  assert.equal(item?.durationMs, 60_000);

  // A late event about the wrapped-up call brings nothing back.
  step = run(step.state, { type: "conversation", snapshot: snap(eventCall("disconnected", { wrapupRequired: true })), now: T0 + 91_000 });
  assert.equal(step.state.interactions.length, 0);
  assert.deepEqual(step.effects, []);
});

test("a call that ends without wrap-up ends for the host at once; a missed one is only listed", () => {
  let step = run(signedIn(), { type: "conversation", snapshot: snap(restCall("connected")), now: T0 });
  step = run(step.state, { type: "conversation", snapshot: snap(eventCall("disconnected", { wrapupRequired: false })), now: T0 + 1000 });
  assert.deepEqual(hostTypes(step.effects), ["agent-shell:interaction-end"]);
  step = run(signedIn(), { type: "conversation", snapshot: snap(eventCall("alerting")), now: T0 });
  step = run(step.state, { type: "conversation", snapshot: snap(eventCall("disconnected", { connectedTime: undefined, wrapupRequired: true })), now: T0 + 1000 });
  assert.deepEqual(hostTypes(step.effects), [], "never started: no interaction-end");
  assert.equal(step.state.recent[0]?.outcome, "missed");
  assert.equal(step.state.interactions.length, 0);
});

test("token-expiring is sent once per token, within 120 s of expiry", () => {
  let step = run(signedIn(), { type: "tick", now: T0 + 3_600_000 - 121_000 });
  assert.deepEqual(step.effects, []);
  step = run(step.state, { type: "tick", now: T0 + 3_600_000 - 119_500 });
  assert.deepEqual(step.effects, [{ kind: "host", message: { type: "agent-shell:token-expiring", expiresIn: 119 } }]);
  step = run(step.state, { type: "tick", now: T0 + 3_600_000 - 60_000 });
  assert.deepEqual(step.effects, [], "once per token");
  step = run(step.state, { type: "token", expiresAt: T0 + 7_200_000 }, { type: "tick", now: T0 + 3_600_000 });
  assert.deepEqual(step.effects, []);
  step = run(step.state, { type: "tick", now: T0 + 7_200_000 - 100_000 });
  assert.deepEqual(hostTypes(step.effects), ["agent-shell:token-expiring"], "again for the new token");
  step = run(step.state, { type: "token", expiresAt: null }, { type: "tick", now: T0 + 9_000_000 });
  assert.deepEqual(step.effects, [], "an unknown expiry is never reported as expiring");
});

test("401 tells the host once per token; 403 shows Genesys's message", () => {
  let step = run(signedIn(), { type: "unauthorized", message: "Invalid token" }, { type: "unauthorized", message: "Invalid token" });
  assert.deepEqual(step.effects, [{ kind: "host", message: { type: "agent-shell:auth-error", status: 401, message: "Invalid token" } }]);
  assert.equal(step.state.notice?.kind, "auth");
  step = run(step.state, { type: "token", expiresAt: T0 + 7_200_000 });
  assert.equal(step.state.notice, null);
  step = run(step.state, { type: "unauthorized", message: "again" });
  assert.equal(hostTypes(step.effects).length, 1, "a new token may be refused again");
  const forbidden = "Missing permission: conversation:call:add";
  step = run(step.state, { type: "forbidden", message: forbidden });
  assert.deepEqual(step.state.notice, { kind: "forbidden", message: forbidden });
  step = run(step.state, { type: "dismiss-notice" });
  assert.equal(step.state.notice, null);
});

test("a call already connected when first seen keeps Genesys's connect time, never in the future", () => {
  const step = run(signedIn(), { type: "conversation", snapshot: snap(restCall("connected")), now: T0 + 60_000 });
  assert.equal(currentInteraction(step.state)?.connectedAt, Date.parse("2026-01-05T10:00:00.000Z"));
  const skewed = run(signedIn(), { type: "conversation", snapshot: snap(restCall("connected")), now: T0 - 60_000 });
  assert.equal(currentInteraction(skewed.state)?.connectedAt, T0 - 60_000);
});

test("a refetch after a reconnect finishes calls that ended meanwhile", () => {
  let step = run(signedIn(), { type: "conversation", snapshot: snap(restCall("connected")), now: T0 });
  step = run(step.state, { type: "channel", status: "down" }, { type: "channel", status: "up" });
  step = run(step.state, { type: "conversations-loaded", snapshots: [], now: T0 + 30_000 });
  assert.deepEqual(hostTypes(step.effects), ["agent-shell:interaction-end"]);
  assert.equal(step.state.recent.length, 1);
  // And picks up one that started meanwhile.
  step = run(step.state, { type: "conversations-loaded", snapshots: [snap(restCall("alerting"))], now: T0 + 31_000 });
  assert.equal(currentInteraction(step.state)?.participantId, AGENT_PART);
});

test("pending actions are tracked by key", () => {
  let step = run(signedIn(), { type: "action", key: "hold:x", running: true });
  assert.deepEqual(step.state.pending, ["hold:x"]);
  step = run(step.state, { type: "action", key: "hold:x", running: false });
  assert.deepEqual(step.state.pending, []);
});
