// The agent client's controller: owns the token (TokenBox), the API layer, the notification
// channel and the softphone; turns host messages, API answers and channel events into state
// events (state.ts) and runs the agent's actions. No DOM: main.ts passes in fetch, WebSocket,
// timers and postMessage, so ui/test/agent/controller.test.ts drives it with fakes.
import { Api, ApiError, type FetchLike } from "./api";
import { NotificationChannel, type SocketLike, type Timers } from "./channel";
import type { ClientOut, HostMessage } from "./messages";
import {
  parseCallConversation,
  parseCallConversations,
  parseEntities,
  parseMe,
  parsePresence,
  parsePresenceDefinitions,
  parseRoutingStatus,
  parseStation,
  parseUserQueues,
  parseWrapupCodes,
  stationKind,
  type TransferTarget,
} from "./model";
import { phoneMode, Softphone, type PhoneMode, type WebrtcSdkConstructor } from "./softphone";
import {
  availableDefinition,
  currentInteraction,
  initialState,
  onQueueDefinition,
  reduce,
  type AgentEvent,
  type Effect,
  type Interaction,
  type State,
} from "./state";
import { TokenBox } from "./token";

export interface ControllerDeps {
  fetch: FetchLike;
  openSocket(url: string): SocketLike;
  timers: Timers;
  now(): number;
  sleep(ms: number): Promise<void>;
  post(message: ClientOut): void;
  announce(effect: Extract<Effect, { kind: "announce" }>): void;
  onState(state: State): void;
  hasWebrtc: boolean;
  loadSoftphone(): Promise<WebrtcSdkConstructor>;
}

/** A dialable number: digits, +, *, #, spaces and the usual punctuation. */
export const PHONE_PATTERN = /^\+?[0-9*#][0-9*#(). -]{0,31}$/;
const DIGITS_PATTERN = /^[0-9*#]{1,32}$/;

export type TransferChoice = { kind: "queue" | "user"; id: string } | { kind: "number"; address: string };

export class Controller {
  state: State = initialState();
  readonly tokens: TokenBox;
  api: Api | null = null;
  channel: NotificationChannel | null = null;
  softphone: Softphone | null = null;
  phone: PhoneMode = "none";
  private readonly wrapupRequested = new Set<string>();
  private ticker: unknown = null;

  constructor(private readonly deps: ControllerDeps) {
    this.tokens = new TokenBox(deps.timers);
  }

  dispatch(event: AgentEvent): void {
    const { state, effects } = reduce(this.state, event);
    const changed = state !== this.state;
    this.state = state;
    for (const effect of effects) {
      if (effect.kind === "host") this.deps.post(effect.message);
      else this.deps.announce(effect);
    }
    if (changed) this.deps.onState(state);
    if (changed) this.afterChange();
  }

  /** A message the host sent (already checked for source, origin and fields). */
  handleHostMessage(message: HostMessage): void {
    switch (message.type) {
      case "ack":
        return;
      case "agent-shell:token":
        this.renewToken(message.accessToken, message.expiresAt);
        return;
      case "agent-shell:init":
        if (this.api !== null) {
          // The host handed over again (e.g. after a reload of its own): keep everything, take the token.
          this.renewToken(message.accessToken, message.expiresAt);
          return;
        }
        this.tokens.set(message.accessToken);
        this.dispatch({
          type: "init",
          config: {
            environment: message.environment,
            apiBase: message.apiBase,
            clientId: message.clientId,
            language: message.language,
            settings: message.embeddedClientSettings,
          },
          expiresAt: message.expiresAt,
        });
        this.api = new Api(message.apiBase, {
          fetch: this.deps.fetch,
          tokens: this.tokens,
          onUnauthorized: (text) => this.dispatch({ type: "unauthorized", message: text }),
          sleep: this.deps.sleep,
          now: this.deps.now,
        });
        this.ticker = this.deps.timers.setInterval(() => this.dispatch({ type: "tick", now: this.deps.now() }), 1000);
        this.dispatch({ type: "tick", now: this.deps.now() });
        void this.bootstrap();
        return;
    }
  }

  /** A new token: requests use it from now on; the channel's socket and any call stay up. */
  private renewToken(accessToken: string, expiresAt: number | null): void {
    this.tokens.set(accessToken);
    this.dispatch({ type: "token", expiresAt });
    this.softphone?.setAccessToken(accessToken);
  }

  stop(): void {
    if (this.ticker !== null) this.deps.timers.clearInterval(this.ticker);
    this.channel?.stop();
    void this.softphone?.destroy().catch(() => undefined);
  }

  private requireApi(): Api {
    if (this.api === null) throw new Error("not started");
    return this.api;
  }

  private report(error: unknown): void {
    if (error instanceof ApiError && error.status === 403) {
      this.dispatch({ type: "forbidden", message: error.message });
    } else {
      this.dispatch({ type: "failed", message: error instanceof Error ? error.message : String(error) });
    }
  }

  private async bootstrap(): Promise<void> {
    const api = this.requireApi();
    try {
      await this.loadMe();
    } catch (error) {
      this.report(error);
      // Without users/me nothing works: try again in a while (a 403 needs IT; others pass).
      this.deps.timers.setTimeout(() => void this.bootstrap(), 15_000);
      return;
    }
    const me = this.state.me;
    if (me === null) return;
    this.channel = new NotificationChannel(me.id, {
      api,
      openSocket: this.deps.openSocket,
      timers: this.deps.timers,
      now: this.deps.now,
      onEvent: (topic, body) => this.onEvent(topic, body),
      onStatus: (status) => this.dispatch({ type: "channel", status }),
      onSubscribed: (reconnect) => void this.refresh(reconnect),
      onError: (error) => this.report(error),
    });
    this.channel.start();
    await Promise.all([
      this.guard(async () => {
        const raw = await api.call("presenceDefinitions", {}, { pageSize: "100" });
        this.dispatch({ type: "definitions-loaded", definitions: parsePresenceDefinitions(raw, this.state.config?.language ?? "en") });
      }),
      this.guard(() => this.loadQueues()),
      this.guard(() => this.setUpPhone()),
    ]);
  }

  private async guard(task: () => Promise<void>): Promise<void> {
    try {
      await task();
    } catch (error) {
      this.report(error);
    }
  }

  private async loadMe(): Promise<void> {
    const raw = await this.requireApi().call("me", {}, { expand: "presence,routingStatus,station,organization" });
    const parsed = parseMe(raw);
    if (parsed === null) throw new Error("Genesys Cloud did not say who you are");
    let station = parsed.me.station;
    if (station !== null) {
      // The station itself says what kind of phone it is (and its current name).
      try {
        const detail = parseStation(await this.requireApi().call("station", { stationId: station.id }));
        if (detail !== null) {
          const type = detail.type || station.type;
          station = { ...detail, type, kind: stationKind(type) };
        }
      } catch {
        // keep what users/me said
      }
    }
    this.dispatch({ type: "me-loaded", me: { ...parsed.me, station }, presence: parsed.presence, routingStatus: parsed.routingStatus });
  }

  private async loadQueues(): Promise<void> {
    const me = this.state.me;
    if (me === null) return;
    const raw = await this.requireApi().call("userQueues", { userId: me.id }, { pageSize: "100" });
    this.dispatch({ type: "queues-loaded", queues: parseUserQueues(raw) });
  }

  private async setUpPhone(): Promise<void> {
    const config = this.state.config;
    const me = this.state.me;
    if (config === null || me === null) return;
    this.phone = phoneMode(me.station, this.deps.hasWebrtc, config.apiBase, config.environment);
    if (this.phone !== "webrtc" || this.softphone !== null) return;
    this.dispatch({ type: "softphone", status: "loading" });
    try {
      const Ctor = await this.deps.loadSoftphone();
      const softphone = Softphone.create(Ctor, this.tokens.current(), config.environment, (message) =>
        this.dispatch({ type: "failed", message }),
      );
      await softphone.start();
      this.softphone = softphone;
      this.dispatch({ type: "softphone", status: "ready" });
    } catch (error) {
      this.dispatch({ type: "softphone", status: "failed" });
      console.warn("softphone did not start", error);
    }
  }

  /** After the channel is (re)subscribed: fetch what may have changed meanwhile. */
  private async refresh(reconnect: boolean): Promise<void> {
    const api = this.requireApi();
    await this.guard(async () => {
      if (reconnect) await this.loadMe();
      const me = this.state.me;
      if (me === null) return;
      const [calls, routing] = await Promise.all([
        api.call("calls"),
        api.call("routingStatus", { userId: me.id }),
      ]);
      this.dispatch({ type: "conversations-loaded", snapshots: parseCallConversations(calls, me.id), now: this.deps.now() });
      const status = parseRoutingStatus(routing);
      if (status !== null) this.dispatch({ type: "routing-status", status });
    });
  }

  private onEvent(topic: string, body: unknown): void {
    const me = this.state.me;
    if (me === null) return;
    if (topic === `v2.users.${me.id}.conversations.calls`) {
      const snapshot = parseCallConversation(body, me.id);
      if (snapshot !== null) this.dispatch({ type: "conversation", snapshot, now: this.deps.now() });
    } else if (topic === `v2.users.${me.id}.presence`) {
      const presence = parsePresence(body);
      if (presence !== null) this.dispatch({ type: "presence", presence });
    } else if (topic === `v2.users.${me.id}.routingStatus`) {
      const status = parseRoutingStatus(body);
      if (status !== null) this.dispatch({ type: "routing-status", status });
    }
  }

  /** Follow-ups of a state change: wrap-up codes for a call that needs them. */
  private afterChange(): void {
    for (const interaction of this.state.interactions) {
      if (interaction.phase === "wrapup" && interaction.wrapupCodes === null && !this.wrapupRequested.has(interaction.id)) {
        this.wrapupRequested.add(interaction.id);
        void this.guard(async () => {
          const raw = await this.requireApi().call("wrapupCodes", {
            conversationId: interaction.id,
            participantId: interaction.participantId,
          });
          this.dispatch({ type: "wrapup-codes", conversationId: interaction.id, codes: parseWrapupCodes(raw) });
        });
      }
    }
  }

  /** Runs one agent action with its key marked pending (buttons disabled meanwhile). */
  private async run(key: string, task: () => Promise<void>): Promise<void> {
    if (this.state.pending.includes(key)) return;
    this.dispatch({ type: "action", key, running: true });
    try {
      await task();
    } catch (error) {
      this.report(error);
    } finally {
      this.dispatch({ type: "action", key, running: false });
    }
  }

  private interaction(conversationId?: string): Interaction | undefined {
    return conversationId === undefined
      ? currentInteraction(this.state)
      : this.state.interactions.find((i) => i.id === conversationId);
  }

  /** Reads the call back after a change, so the view is right even before the event arrives. */
  private async reread(conversationId: string): Promise<void> {
    const me = this.state.me;
    if (me === null) return;
    const raw = await this.requireApi().call("call", { conversationId });
    const snapshot = parseCallConversation(raw, me.id);
    if (snapshot !== null) this.dispatch({ type: "conversation", snapshot, now: this.deps.now() });
  }

  private patchParticipant(i: Interaction, body: Record<string, unknown>): Promise<unknown> {
    return this.requireApi().call("patchParticipant", { conversationId: i.id, participantId: i.participantId }, {}, body);
  }

  // ---- agent actions -------------------------------------------------------------------

  async setPresence(definitionId: string): Promise<void> {
    const me = this.state.me;
    if (me === null) return;
    await this.run("presence", async () => {
      const raw = await this.requireApi().call("setPresence", { userId: me.id }, {}, { presenceDefinition: { id: definitionId } });
      const presence = parsePresence(raw);
      const definition = this.state.definitions.find((d) => d.id === definitionId);
      this.dispatch({
        type: "presence",
        presence: presence ?? { definitionId, systemPresence: definition?.systemPresence ?? "" },
      });
    });
  }

  async setOnQueue(on: boolean): Promise<void> {
    const definition = on ? onQueueDefinition(this.state) : availableDefinition(this.state);
    if (definition === undefined) {
      this.dispatch({ type: "failed", message: on ? "no On Queue presence in this organisation" : "no Available presence" });
      return;
    }
    await this.setPresence(definition.id);
  }

  async setQueueJoined(queueId: string, joined: boolean): Promise<void> {
    const me = this.state.me;
    if (me === null) return;
    await this.run(`queue:${queueId}`, async () => {
      await this.requireApi().call("joinQueue", { userId: me.id, queueId }, {}, { joined });
      this.dispatch({ type: "queue-joined", queueId, joined });
    });
  }

  async answer(conversationId?: string): Promise<void> {
    const i = this.interaction(conversationId);
    if (i === undefined || i.phase !== "alerting") return;
    await this.run(`answer:${i.id}`, async () => {
      const viaSoftphone = this.softphone !== null && (await this.softphone.answer(i.id));
      if (!viaSoftphone) await this.patchParticipant(i, { state: "connected" });
      await this.reread(i.id);
    });
  }

  /** Declines a ringing call or hangs up a connected/dialing one. */
  async hangUp(conversationId?: string): Promise<void> {
    const i = this.interaction(conversationId);
    if (i === undefined || i.phase === "wrapup") return;
    await this.run(`hangup:${i.id}`, async () => {
      await this.patchParticipant(i, { state: "disconnected" });
      await this.reread(i.id);
    });
  }

  async toggleHold(conversationId?: string): Promise<void> {
    const i = this.interaction(conversationId);
    if (i === undefined || i.phase !== "connected") return;
    await this.run(`hold:${i.id}`, async () => {
      await this.patchParticipant(i, { held: !i.held });
      await this.reread(i.id);
    });
  }

  async toggleMute(conversationId?: string): Promise<void> {
    const i = this.interaction(conversationId);
    if (i === undefined || i.phase !== "connected") return;
    await this.run(`mute:${i.id}`, async () => {
      await this.patchParticipant(i, { muted: !i.muted });
      await this.reread(i.id);
    });
  }

  async sendDigits(digits: string, conversationId?: string): Promise<void> {
    const i = this.interaction(conversationId);
    if (i === undefined || i.phase !== "connected" || !DIGITS_PATTERN.test(digits)) return;
    await this.run(`digits:${i.id}`, async () => {
      await this.requireApi().call("digits", { conversationId: i.id, participantId: i.participantId }, {}, { digits });
    });
  }

  async transfer(choice: TransferChoice, conversationId?: string): Promise<void> {
    const i = this.interaction(conversationId);
    if (i === undefined || i.phase !== "connected") return;
    let body: Record<string, string>;
    if (choice.kind === "number") {
      if (!PHONE_PATTERN.test(choice.address)) return;
      body = { address: choice.address };
    } else {
      body = choice.kind === "queue" ? { queueId: choice.id } : { userId: choice.id };
    }
    await this.run(`transfer:${i.id}`, async () => {
      await this.requireApi().call("replace", { conversationId: i.id, participantId: i.participantId }, {}, body);
      await this.reread(i.id);
    });
  }

  async searchTransferTargets(kind: "queue" | "user", name: string): Promise<TransferTarget[]> {
    const api = this.requireApi();
    try {
      if (kind === "queue") {
        const query: Record<string, string> = { pageSize: "100" };
        // The name filter of GET /api/v2/routing/queues takes a trailing wildcard.
        if (name.trim() !== "") query["name"] = `${name.trim()}*`;
        return parseEntities(await api.call("routingQueues", {}, query), "queue");
      }
      const users = parseEntities(await api.call("users", {}, { pageSize: "100" }), "user");
      const needle = name.trim().toLowerCase();
      const meId = this.state.me?.id;
      return users.filter((u) => u.id !== meId && (needle === "" || u.name.toLowerCase().includes(needle)));
    } catch (error) {
      this.report(error);
      return [];
    }
  }

  async placeCall(number: string): Promise<void> {
    const phoneNumber = number.trim();
    if (!PHONE_PATTERN.test(phoneNumber)) {
      return;
    }
    await this.run("dial", async () => {
      await this.requireApi().call("placeCall", {}, {}, { phoneNumber });
    });
  }

  async submitWrapup(codeId: string, notes: string, conversationId?: string): Promise<void> {
    const i = conversationId === undefined ? this.state.interactions.find((x) => x.phase === "wrapup") : this.interaction(conversationId);
    if (i === undefined || i.phase !== "wrapup" || codeId === "") return;
    await this.run(`wrapup:${i.id}`, async () => {
      await this.patchParticipant(i, { wrapup: { code: codeId, notes: notes.slice(0, 2000) } });
      this.dispatch({ type: "wrapup-submitted", conversationId: i.id, codeId, now: this.deps.now() });
    });
  }

  dismissNotice(): void {
    this.dispatch({ type: "dismiss-notice" });
  }
}
