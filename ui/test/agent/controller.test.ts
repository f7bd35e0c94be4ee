// The controller against a fake Genesys Cloud: requests, the channel and its reconnects, token
// renewal, 401/403/429, and the softphone up to the SDK boundary.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Controller } from "../../src/agent/controller";
import type { ClientOut } from "../../src/agent/messages";
import { PING_INTERVAL_MS, SILENCE_LIMIT_MS } from "../../src/agent/channel";
import { currentInteraction } from "../../src/agent/state";
import { Clock, FakeGenesys, FakeSdk, FakeSocket, flush } from "./fakes";
import {
  AGENT_PART,
  CONV_ID,
  eventCall,
  ON_QUEUE_ID,
  presenceDefinitions,
  restCall,
  TOKEN_1,
  TOKEN_2,
  USER_ID,
  userQueues,
  usersMe,
} from "./fixtures";

const BASE = "https://api.mypurecloud.ie";
const CHANNEL = (n: number) => ({ id: `ch-${n}`, connectUri: `wss://streaming.mypurecloud.ie/channels/ch-${n}`, expires: "2026-01-06T10:00:00Z" });

function setup(options: { hasWebrtc?: boolean; me?: unknown } = {}) {
  const clock = new Clock();
  const genesys = new FakeGenesys(BASE);
  const posted: ClientOut[] = [];
  const sockets: FakeSocket[] = [];
  const sleeps: number[] = [];
  const announced: string[] = [];
  let channels = 0;
  const me = options.me ?? usersMe;
  genesys.on(`GET /api/v2/users/me`, { status: 200, body: me });
  genesys.on(`GET /api/v2/stations/st-1`, { status: 200, body: { id: "st-1", name: "Alex's desk phone", type: "inin_phone" } });
  genesys.on(`GET /api/v2/stations/st-web`, { status: 200, body: { id: "st-web", name: "WebRTC Alex", type: "inin_webrtc_softphone" } });
  genesys.on(`GET /api/v2/presencedefinitions`, { status: 200, body: presenceDefinitions });
  genesys.on(`GET /api/v2/users/${USER_ID}/queues`, { status: 200, body: userQueues });
  genesys.on(`GET /api/v2/users/${USER_ID}/routingstatus`, { status: 200, body: { status: "OFF_QUEUE" } });
  genesys.on(`GET /api/v2/conversations/calls`, { status: 200, body: { entities: [] } });
  genesys.on(`PUT /api/v2/notifications/channels/ch-1/subscriptions`, { status: 200, body: { entities: [] } });
  genesys.on(`PUT /api/v2/notifications/channels/ch-2/subscriptions`, { status: 200, body: { entities: [] } });
  genesys.on(`PUT /api/v2/notifications/channels/ch-3/subscriptions`, { status: 200, body: { entities: [] } });
  const baseFetch = genesys.fetch;
  const fetch: typeof baseFetch = async (url, init) => {
    if (init.method === "POST" && new URL(url).pathname === "/api/v2/notifications/channels") {
      channels += 1;
      genesys.on("POST /api/v2/notifications/channels", { status: 200, body: CHANNEL(channels) });
    }
    return baseFetch(url, init);
  };
  const controller = new Controller({
    fetch,
    openSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    timers: clock,
    now: () => clock.now,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    post: (m) => posted.push(m),
    announce: (e) => announced.push(`${e.caller}|${e.queue}`),
    onState: () => undefined,
    hasWebrtc: options.hasWebrtc ?? false,
    loadSoftphone: async () => FakeSdk,
  });
  const init = () =>
    controller.handleHostMessage({
      type: "agent-shell:init",
      accessToken: TOKEN_1,
      expiresAt: clock.now + 3_600_000,
      environment: "mypurecloud.ie",
      apiBase: BASE,
      clientId: "client-1",
      language: "en",
      embeddedClientSettings: { showCallControls: true, allowTransfer: true },
    });
  return { clock, genesys, posted, sockets, sleeps, announced, controller, init };
}

async function started() {
  const t = setup();
  t.init();
  await flush();
  t.sockets[0]?.open();
  await flush();
  return t;
}

test("start: users/me, station, presence definitions, queues, channel, subscriptions, refetch", async () => {
  const t = await started();
  const s = t.genesys.sent.map((x) => `${x.method} ${x.path}${x.query}`);
  assert.ok(s.includes("GET /api/v2/users/me?expand=presence%2CroutingStatus%2Cstation%2Corganization"), s.join("\n"));
  assert.ok(s.includes("GET /api/v2/presencedefinitions?pageSize=100"));
  assert.ok(s.includes(`GET /api/v2/users/${USER_ID}/queues?pageSize=100`));
  assert.ok(s.includes("GET /api/v2/stations/st-1"));
  const subscribe = t.genesys.calls("PUT /api/v2/notifications/channels/ch-1/subscriptions")[0];
  assert.deepEqual(subscribe?.body, [
    { id: `v2.users.${USER_ID}.conversations.calls` },
    { id: `v2.users.${USER_ID}.presence` },
    { id: `v2.users.${USER_ID}.routingStatus` },
  ]);
  assert.equal(t.sockets[0]?.url, "wss://streaming.mypurecloud.ie/channels/ch-1");
  assert.ok(s.includes("GET /api/v2/conversations/calls"), "state fetched once subscribed");
  assert.ok(t.genesys.sent.every((x) => x.auth === `Bearer ${TOKEN_1}`));
  assert.deepEqual(t.posted[0], { type: "agent-shell:session-start", userId: USER_ID, name: "Alex Agent" });
  assert.equal(t.controller.state.channel, "up");
  assert.equal(t.controller.state.queues.length, 2);
  assert.equal(t.controller.phone, "desk-phone");
});

test("On Queue, an ACD call answered, held, resumed, muted, DTMF, hung up and wrapped up", async () => {
  const t = await started();
  const ws = t.sockets[0]!;
  t.genesys.on(`PATCH /api/v2/users/${USER_ID}/presences/purecloud`, {
    status: 200,
    body: { presenceDefinition: { id: ON_QUEUE_ID, systemPresence: "On Queue" } },
  });
  await t.controller.setOnQueue(true);
  assert.deepEqual(t.genesys.calls(`PATCH /api/v2/users/${USER_ID}/presences/purecloud`)[0]?.body, { presenceDefinition: { id: ON_QUEUE_ID } });
  ws.deliver(`v2.users.${USER_ID}.routingStatus`, { routingStatus: { status: "IDLE" } });
  assert.equal(t.controller.state.routingStatus, "IDLE");

  ws.deliver(`v2.users.${USER_ID}.conversations.calls`, eventCall("alerting"));
  assert.deepEqual(t.announced, ["Pat Caller (+353111222333)|Support"]);
  const participant = `/api/v2/conversations/calls/${CONV_ID}/participants/${AGENT_PART}`;
  t.genesys.on(`PATCH ${participant}`, { status: 202 });
  t.genesys.on(`GET /api/v2/conversations/calls/${CONV_ID}`, { status: 200, body: restCall("connected") });
  await t.controller.answer();
  assert.deepEqual(t.genesys.calls(`PATCH ${participant}`).at(-1)?.body, { state: "connected" });
  assert.equal(currentInteraction(t.controller.state)?.phase, "connected");
  assert.equal(t.posted.filter((m) => m.type === "agent-shell:interaction-start").length, 1);

  t.genesys.on(`GET /api/v2/conversations/calls/${CONV_ID}`, { status: 200, body: restCall("connected", { held: true }) });
  await t.controller.toggleHold();
  assert.deepEqual(t.genesys.calls(`PATCH ${participant}`).at(-1)?.body, { held: true });
  assert.equal(currentInteraction(t.controller.state)?.held, true);
  t.genesys.on(`GET /api/v2/conversations/calls/${CONV_ID}`, { status: 200, body: restCall("connected", { held: false }) });
  await t.controller.toggleHold();
  assert.deepEqual(t.genesys.calls(`PATCH ${participant}`).at(-1)?.body, { held: false });
  t.genesys.on(`GET /api/v2/conversations/calls/${CONV_ID}`, { status: 200, body: restCall("connected", { muted: true }) });
  await t.controller.toggleMute();
  assert.deepEqual(t.genesys.calls(`PATCH ${participant}`).at(-1)?.body, { muted: true });

  t.genesys.on(`POST /api/v2/conversations/${CONV_ID}/participants/${AGENT_PART}/digits`, { status: 202 });
  await t.controller.sendDigits("1#");
  await t.controller.sendDigits("1; DROP"); // not digits: not sent
  assert.deepEqual(t.genesys.calls(`POST /api/v2/conversations/${CONV_ID}/participants/${AGENT_PART}/digits`).map((c) => c.body), [{ digits: "1#" }]);

  t.genesys.on(`GET /api/v2/conversations/calls/${CONV_ID}`, { status: 200, body: restCall("disconnected") });
  t.genesys.on(`GET ${participant}/wrapupcodes`, { status: 200, body: [{ id: "w-res", name: "Resolved" }] });
  await t.controller.hangUp();
  assert.deepEqual(t.genesys.calls(`PATCH ${participant}`).at(-1)?.body, { state: "disconnected" });
  await flush();
  const wrap = currentInteraction(t.controller.state);
  assert.equal(wrap?.phase, "wrapup");
  assert.deepEqual(wrap?.wrapupCodes, [{ id: "w-res", name: "Resolved" }]);
  assert.equal(t.posted.filter((m) => m.type === "agent-shell:interaction-end").length, 0);

  await t.controller.submitWrapup("w-res", "Caller happy");
  assert.deepEqual(t.genesys.calls(`PATCH ${participant}`).at(-1)?.body, { wrapup: { code: "w-res", notes: "Caller happy" } });
  assert.deepEqual(t.posted.at(-1), { type: "agent-shell:interaction-end", interactionId: CONV_ID });
  assert.equal(t.controller.state.recent[0]?.wrapupName, "Resolved");
});

test("blind transfer, placing a call and joining a queue use the documented bodies", async () => {
  const t = await started();
  t.sockets[0]!.deliver(`v2.users.${USER_ID}.conversations.calls`, eventCall("connected"));
  const replace = `POST /api/v2/conversations/calls/${CONV_ID}/participants/${AGENT_PART}/replace`;
  t.genesys.on(replace, { status: 202 });
  t.genesys.on(`GET /api/v2/conversations/calls/${CONV_ID}`, { status: 200, body: restCall("connected") });
  await t.controller.transfer({ kind: "queue", id: "q-sales" });
  await t.controller.transfer({ kind: "user", id: "u-2" });
  await t.controller.transfer({ kind: "number", address: "+353 1 555 0100" });
  await t.controller.transfer({ kind: "number", address: "javascript:alert(1)" });
  assert.deepEqual(t.genesys.calls(replace).map((c) => c.body), [{ queueId: "q-sales" }, { userId: "u-2" }, { address: "+353 1 555 0100" }]);

  t.genesys.on("POST /api/v2/conversations/calls", { status: 200, body: { id: "new-call" } });
  await t.controller.placeCall("+353 1 555 0199");
  assert.deepEqual(t.genesys.calls("POST /api/v2/conversations/calls")[0]?.body, { phoneNumber: "+353 1 555 0199" });

  t.genesys.on(`PATCH /api/v2/users/${USER_ID}/queues/q-sales`, { status: 200, body: { id: "q-sales", joined: true } });
  await t.controller.setQueueJoined("q-sales", true);
  assert.deepEqual(t.genesys.calls(`PATCH /api/v2/users/${USER_ID}/queues/q-sales`)[0]?.body, { joined: true });
  assert.equal(t.controller.state.queues.find((q) => q.id === "q-sales")?.joined, true);

  t.genesys.on("GET /api/v2/routing/queues", { status: 200, body: { entities: [{ id: "q-sales", name: "Sales" }] } });
  t.genesys.on("GET /api/v2/users", { status: 200, body: { entities: [{ id: USER_ID, name: "Alex Agent" }, { id: "u-2", name: "Sam Smith" }] } });
  assert.deepEqual(await t.controller.searchTransferTargets("queue", "Sal"), [{ kind: "queue", id: "q-sales", name: "Sales" }]);
  assert.equal(t.genesys.calls("GET /api/v2/routing/queues")[0]?.query, "?pageSize=100&name=Sal*");
  assert.deepEqual(await t.controller.searchTransferTargets("user", "sam"), [{ kind: "user", id: "u-2", name: "Sam Smith" }]);
});

test("a token renewal keeps the channel and the socket; requests use the new token", async () => {
  const t = await started();
  const ws = t.sockets[0]!;
  t.sockets[0]!.deliver(`v2.users.${USER_ID}.conversations.calls`, eventCall("connected"));
  t.controller.handleHostMessage({ type: "agent-shell:token", accessToken: TOKEN_2, expiresAt: t.clock.now + 7_200_000 });
  await flush();
  assert.equal(ws.closed, false);
  assert.equal(t.sockets.length, 1);
  assert.equal(t.controller.channel?.channelsCreated, 1);
  assert.equal(currentInteraction(t.controller.state)?.phase, "connected", "the call is untouched");
  t.genesys.on(`GET /api/v2/conversations/calls/${CONV_ID}`, { status: 200, body: restCall("connected", { muted: true }) });
  t.genesys.on(`PATCH /api/v2/conversations/calls/${CONV_ID}/participants/${AGENT_PART}`, { status: 202 });
  await t.controller.toggleMute();
  assert.equal(t.genesys.sent.at(-1)?.auth, `Bearer ${TOKEN_2}`);
});

test("token-expiring goes to the host once, 120 s before expiry, from the client's clock", async () => {
  const t = await started();
  t.clock.advance(3_600_000 - 125_000);
  assert.equal(t.posted.filter((m) => m.type === "agent-shell:token-expiring").length, 0);
  t.clock.advance(10_000);
  assert.deepEqual(t.posted.filter((m) => m.type === "agent-shell:token-expiring"), [{ type: "agent-shell:token-expiring", expiresIn: 120 }]);
  t.clock.advance(30_000);
  assert.equal(t.posted.filter((m) => m.type === "agent-shell:token-expiring").length, 1);
});

test("401: auth-error to the host, then the request is retried with the new token", async () => {
  const t = await started();
  const path = `PATCH /api/v2/users/${USER_ID}/queues/q-sales`;
  t.genesys.on(path, { status: 401, body: { message: "Invalid login credentials.", code: "bad.credentials" } }, { status: 200, body: {} });
  const pending = t.controller.setQueueJoined("q-sales", true);
  await flush();
  assert.deepEqual(t.posted.at(-1), { type: "agent-shell:auth-error", status: 401, message: "Invalid login credentials." });
  assert.equal(t.controller.state.notice?.kind, "auth");
  t.controller.handleHostMessage({ type: "agent-shell:token", accessToken: TOKEN_2, expiresAt: t.clock.now + 3_600_000 });
  await pending;
  const calls = t.genesys.calls(path);
  assert.deepEqual(calls.map((c) => c.auth), [`Bearer ${TOKEN_1}`, `Bearer ${TOKEN_2}`]);
  assert.equal(t.controller.state.notice, null);
  assert.equal(t.controller.state.queues.find((q) => q.id === "q-sales")?.joined, true);
});

test("403 shows Genesys's message (it names the missing permission)", async () => {
  const t = await started();
  const message = "You are missing the following permission(s): [conversation:call:add]";
  t.genesys.on("POST /api/v2/conversations/calls", { status: 403, body: { message, code: "missing.permissions", status: 403 } });
  await t.controller.placeCall("+35315550100");
  assert.deepEqual(t.controller.state.notice, { kind: "forbidden", message });
  assert.equal(t.posted.filter((m) => m.type === "agent-shell:auth-error").length, 0);
});

test("429 and 5xx are retried a bounded number of times, honouring Retry-After", async () => {
  const t = await started();
  const path = `PATCH /api/v2/users/${USER_ID}/queues/q-sales`;
  t.genesys.on(path, { status: 429, headers: { "Retry-After": "3" } }, { status: 503 }, { status: 200, body: {} });
  await t.controller.setQueueJoined("q-sales", true);
  assert.deepEqual(t.sleeps, [3000, 2000]);
  assert.equal(t.genesys.calls(path).length, 3);
  t.sleeps.length = 0;
  t.genesys.on(path, { status: 500, body: { message: "boom" } });
  await t.controller.setQueueJoined("q-sales", false);
  assert.equal(t.sleeps.length, 3, "three retries, then the error");
  assert.deepEqual(t.controller.state.notice, { kind: "error", message: "boom" });
});

test("socket loss: a new channel, subscriptions again, and state refetched", async () => {
  const t = await started();
  const before = t.genesys.calls("GET /api/v2/conversations/calls").length;
  t.sockets[0]!.drop();
  assert.equal(t.controller.state.channel, "down");
  t.clock.advance(0);
  await flush();
  assert.equal(t.sockets.length, 2);
  assert.equal(t.genesys.calls("PUT /api/v2/notifications/channels/ch-2/subscriptions").length, 1);
  t.genesys.on(`GET /api/v2/conversations/calls`, { status: 200, body: { entities: [restCall("alerting")] } });
  t.sockets[1]!.open();
  await flush();
  assert.equal(t.genesys.calls("GET /api/v2/conversations/calls").length, before + 1);
  assert.equal(currentInteraction(t.controller.state)?.phase, "alerting", "a call that rang meanwhile shows up");
  assert.equal(t.controller.state.channel, "up");
});

test("pings keep the socket; silence (no pong, no heartbeat) replaces it", async () => {
  const t = await started();
  const ws = t.sockets[0]!;
  t.clock.advance(PING_INTERVAL_MS);
  assert.deepEqual(ws.sent, [JSON.stringify({ message: "ping" })]);
  ws.deliver("channel.metadata", { message: "pong" });
  t.clock.advance(PING_INTERVAL_MS);
  ws.deliver("channel.metadata", { message: "WebSocket Heartbeat" });
  t.clock.advance(PING_INTERVAL_MS);
  assert.equal(ws.closed, false);
  assert.equal(t.sockets.length, 1);
  t.clock.advance(SILENCE_LIMIT_MS + PING_INTERVAL_MS);
  await flush();
  assert.equal(ws.closed, true);
  assert.equal(t.sockets.length, 2);
  // Genesys announcing a close also moves to a new channel.
  t.sockets[1]!.open();
  await flush();
  t.sockets[1]!.deliver("v2.system.socket_closing", {});
  t.clock.advance(0);
  await flush();
  assert.equal(t.sockets.length, 3);
});

test("softphone: a WebRTC station with WebRTC loads the SDK, answers its pending session, renews its token", async () => {
  const webrtcMe = { ...usersMe, station: { effectiveStation: { id: "st-web", name: "WebRTC Alex", type: "inin_webrtc_softphone" } } };
  const t = setup({ hasWebrtc: true, me: webrtcMe });
  t.init();
  await flush();
  t.sockets[0]?.open();
  await flush();
  assert.equal(t.controller.phone, "webrtc");
  assert.equal(t.controller.state.softphone, "ready");
  const sdk = FakeSdk.last!;
  assert.deepEqual(sdk.config, {
    accessToken: TOKEN_1,
    environment: "mypurecloud.ie",
    allowedSessionTypes: ["softphone"],
    optOutOfTelemetry: true,
    originAppName: "Agent Shell",
    useHeadsets: false,
  });
  assert.ok(sdk.initialized);
  t.sockets[0]!.deliver(`v2.users.${USER_ID}.conversations.calls`, eventCall("alerting"));
  sdk.emit("pendingSession", { conversationId: CONV_ID, sessionId: "s1", autoAnswer: false });
  t.genesys.on(`GET /api/v2/conversations/calls/${CONV_ID}`, { status: 200, body: restCall("connected") });
  await t.controller.answer();
  assert.deepEqual(sdk.accepted, [CONV_ID]);
  assert.equal(t.genesys.calls(`PATCH /api/v2/conversations/calls/${CONV_ID}/participants/${AGENT_PART}`).length, 0, "answered by the SDK, not REST");
  t.controller.handleHostMessage({ type: "agent-shell:token", accessToken: TOKEN_2, expiresAt: t.clock.now + 3_600_000 });
  assert.deepEqual(sdk.tokens, [TOKEN_1, TOKEN_2]);
});

test("no WebRTC in the web view: the SDK is not loaded and the station line says so", async () => {
  const webrtcMe = { ...usersMe, station: { effectiveStation: { id: "st-web", name: "WebRTC Alex", type: "inin_webrtc_softphone" } } };
  FakeSdk.last = null;
  const t = setup({ hasWebrtc: false, me: webrtcMe });
  t.init();
  await flush();
  assert.equal(t.controller.phone, "webrtc-no-media");
  assert.equal(FakeSdk.last, null);
  assert.equal(t.controller.state.softphone, "off");
});
