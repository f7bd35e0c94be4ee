// The agent client's state machine: events (host messages, API results, notification events,
// the clock) in, the next state and effects (messages to the host, one-off announcements) out.
// Pure: no DOM, no fetch, no timers, no token (the token lives in the controller's TokenBox,
// never in state, so nothing that renders state can show it). Driven by ui/test/agent/*.test.ts.
import type {
  ConversationSnapshot,
  Me,
  MediaType,
  Presence,
  PresenceDef,
  QueueMembership,
  WrapupCode,
} from "./model";
import type { ClientOut, EmbeddedClientSettings } from "./messages";

/** Warn the host this long before the token expires (ms). */
export const TOKEN_EXPIRING_MS = 120_000;
/** How many finished interactions the recent list keeps (memory only). */
export const RECENT_MAX = 50;

export type InteractionPhase = "alerting" | "dialing" | "connected" | "wrapup";

export interface Interaction extends ConversationSnapshot {
  phase: InteractionPhase;
  firstSeen: number;
  /** When our participant connected (ms), from Genesys or our own clock. */
  connectedAt: number | null;
  endedAt: number | null;
  /** interaction-start was sent to the host (so interaction-end must follow). */
  startSent: boolean;
  wrapupCodes: WrapupCode[] | null;
}

export type Outcome = "answered" | "missed" | "not-connected";

export interface RecentItem {
  id: string;
  media: MediaType;
  direction: "inbound" | "outbound";
  remote: string;
  queueName: string | null;
  startedAt: number;
  durationMs: number;
  outcome: Outcome;
  wrapupName: string | null;
}

export type NoticeKind = "forbidden" | "error" | "auth";

export interface Notice {
  kind: NoticeKind;
  /** Genesys's own message (403 names the missing permission) or a catalogue key. */
  message: string;
}

export type ChannelStatus = "down" | "connecting" | "up";
export type SoftphoneStatus = "off" | "loading" | "ready" | "failed";

export interface Config {
  environment: string;
  apiBase: string;
  clientId: string;
  language: string;
  settings: EmbeddedClientSettings;
}

export interface State {
  phase: "waiting" | "starting" | "ready";
  config: Config | null;
  auth: { expiresAt: number | null; expiringSent: boolean; authErrorOpen: boolean } | null;
  sessionStarted: boolean;
  me: Me | null;
  presence: Presence | null;
  definitions: PresenceDef[];
  routingStatus: string | null;
  queues: QueueMembership[];
  interactions: Interaction[];
  recent: RecentItem[];
  channel: ChannelStatus;
  softphone: SoftphoneStatus;
  notice: Notice | null;
  /** Actions in flight, by key (e.g. "hold:<conversationId>"): their buttons are disabled. */
  pending: string[];
}

export type AgentEvent =
  | { type: "init"; config: Config; expiresAt: number | null }
  | { type: "token"; expiresAt: number | null }
  | { type: "tick"; now: number }
  | { type: "me-loaded"; me: Me; presence: Presence | null; routingStatus: string | null }
  | { type: "definitions-loaded"; definitions: PresenceDef[] }
  | { type: "queues-loaded"; queues: QueueMembership[] }
  | { type: "queue-joined"; queueId: string; joined: boolean }
  | { type: "presence"; presence: Presence }
  | { type: "routing-status"; status: string }
  | { type: "conversation"; snapshot: ConversationSnapshot; now: number }
  | { type: "conversations-loaded"; snapshots: ConversationSnapshot[]; now: number }
  | { type: "wrapup-codes"; conversationId: string; codes: WrapupCode[] }
  | { type: "wrapup-submitted"; conversationId: string; codeId: string; now: number }
  | { type: "channel"; status: ChannelStatus }
  | { type: "softphone"; status: SoftphoneStatus }
  | { type: "unauthorized"; message: string }
  | { type: "forbidden"; message: string }
  | { type: "failed"; message: string }
  | { type: "dismiss-notice" }
  | { type: "action"; key: string; running: boolean };

export type Effect =
  | { kind: "host"; message: ClientOut }
  | { kind: "announce"; key: "incomingCall"; caller: string; queue: string };

export interface Step {
  state: State;
  effects: Effect[];
}

export function initialState(): State {
  return {
    phase: "waiting",
    config: null,
    auth: null,
    sessionStarted: false,
    me: null,
    presence: null,
    definitions: [],
    routingStatus: null,
    queues: [],
    interactions: [],
    recent: [],
    channel: "down",
    softphone: "off",
    notice: null,
    pending: [],
  };
}

/** "On Queue", "ON_QUEUE", "on_queue" -> "onqueue". */
export const normalisePresence = (systemPresence: string): string => systemPresence.toLowerCase().replace(/[^a-z]/g, "");

export function isOnQueue(state: State): boolean {
  if (state.routingStatus !== null) {
    return state.routingStatus.toUpperCase() !== "OFF_QUEUE";
  }
  return state.presence !== null && normalisePresence(state.presence.systemPresence) === "onqueue";
}

export function onQueueDefinition(state: State): PresenceDef | undefined {
  return state.definitions.find((d) => normalisePresence(d.systemPresence) === "onqueue");
}

/** Off Queue goes back to Available. */
export function availableDefinition(state: State): PresenceDef | undefined {
  return state.definitions.find((d) => normalisePresence(d.systemPresence) === "available");
}

export function isPending(state: State, key: string): boolean {
  return state.pending.includes(key);
}

/** The interaction the call controls act on: connected first, then alerting, then wrap-up. */
export function currentInteraction(state: State): Interaction | undefined {
  const order: InteractionPhase[] = ["connected", "dialing", "alerting", "wrapup"];
  for (const phase of order) {
    const found = state.interactions.find((i) => i.phase === phase);
    if (found !== undefined) return found;
  }
  return undefined;
}

function phaseOf(snapshot: ConversationSnapshot, wrapupDone: boolean): InteractionPhase | "finished" {
  switch (snapshot.state) {
    case "alerting":
    case "offering":
      return snapshot.direction === "outbound" ? "dialing" : "alerting";
    case "dialing":
    case "contacting":
      return "dialing";
    case "connected":
      return "connected";
    case "disconnected":
    case "terminated":
      return snapshot.wrapupRequired && snapshot.wrapupCode === null && !wrapupDone ? "wrapup" : "finished";
    default:
      return "dialing";
  }
}

function remoteLabel(i: ConversationSnapshot): string {
  if (i.remote.name && i.remote.address && i.remote.name !== i.remote.address) {
    return `${i.remote.name} (${i.remote.address})`;
  }
  return i.remote.name || i.remote.address;
}

function finish(state: State, interaction: Interaction, now: number, effects: Effect[], wrapupName: string | null): State {
  if (interaction.startSent) {
    effects.push({ kind: "host", message: { type: "agent-shell:interaction-end", interactionId: interaction.id } });
  }
  const endedAt = interaction.endedAt ?? now;
  const item: RecentItem = {
    id: interaction.id,
    media: interaction.media,
    direction: interaction.direction,
    remote: remoteLabel(interaction),
    queueName: interaction.queueName,
    startedAt: interaction.connectedAt ?? interaction.firstSeen,
    durationMs: interaction.connectedAt === null ? 0 : Math.max(0, endedAt - interaction.connectedAt),
    outcome: interaction.connectedAt !== null ? "answered" : interaction.direction === "inbound" ? "missed" : "not-connected",
    wrapupName,
  };
  return {
    ...state,
    interactions: state.interactions.filter((i) => i.id !== interaction.id),
    recent: [item, ...state.recent.filter((r) => r.id !== item.id)].slice(0, RECENT_MAX),
    pending: state.pending.filter((key) => !key.endsWith(`:${interaction.id}`)),
  };
}

function applySnapshot(state: State, snapshot: ConversationSnapshot, now: number, effects: Effect[]): State {
  const existing = state.interactions.find((i) => i.id === snapshot.id);
  const queueName =
    snapshot.queueName ??
    existing?.queueName ??
    (snapshot.queueId === null ? null : (state.queues.find((q) => q.id === snapshot.queueId)?.name ?? null));
  let phase = phaseOf(snapshot, false);
  const ended = phase === "wrapup" || phase === "finished";
  if (existing === undefined && ended && (phase === "finished" || state.recent.some((r) => r.id === snapshot.id))) {
    // Ended before we saw it, an old one in a refetch, or a late event about one already
    // wrapped up: nothing to do.
    return state;
  }
  // The call timer runs on our clock: seen connecting here -> now; already connected when first
  // seen (a reload or refetch) -> Genesys's connectedTime, never in our future (clock skew).
  const connectedAt =
    existing?.connectedAt ??
    (phase === "connected" || (phase === "wrapup" && snapshot.connectedTime !== null)
      ? existing === undefined
        ? Math.min(snapshot.connectedTime ?? now, now)
        : now
      : null);
  if (phase === "wrapup" && connectedAt === null) {
    // Never answered (missed or declined): nothing to wrap up on our side.
    phase = "finished";
  }
  const merged: Interaction = {
    ...snapshot,
    queueName,
    // A participant that was never seen connected in this snapshot keeps the earlier remote.
    remote: snapshot.remote.address || snapshot.remote.name ? snapshot.remote : (existing?.remote ?? snapshot.remote),
    phase: phase === "finished" ? (existing?.phase ?? "connected") : phase,
    firstSeen: existing?.firstSeen ?? now,
    connectedAt,
    endedAt: phase === "wrapup" || phase === "finished" ? (existing?.endedAt ?? now) : null,
    startSent: existing?.startSent ?? false,
    wrapupCodes: existing?.wrapupCodes ?? null,
  };
  if (existing === undefined && merged.phase === "alerting") {
    effects.push({
      kind: "announce",
      key: "incomingCall",
      caller: remoteLabel(merged),
      queue: merged.queueName ?? "",
    });
  }
  if (!merged.startSent && merged.phase === "connected") {
    merged.startSent = true;
    effects.push({
      kind: "host",
      message: {
        type: "agent-shell:interaction-start",
        interactionId: merged.id,
        ...(merged.remote.address ? { ani: merged.remote.address } : {}),
        ...(merged.queueName !== null ? { queueName: merged.queueName } : {}),
        ...(Object.keys(merged.attributes).length > 0 ? { attributes: merged.attributes } : {}),
      },
    });
  }
  const interactions =
    existing === undefined
      ? [...state.interactions, merged]
      : state.interactions.map((i) => (i.id === merged.id ? merged : i));
  const next = { ...state, interactions };
  if (phase === "finished") {
    return finish(next, merged, now, effects, existing?.wrapupCodes?.find((c) => c.id === snapshot.wrapupCode)?.name ?? null);
  }
  return next;
}

export function reduce(state: State, event: AgentEvent): Step {
  const effects: Effect[] = [];
  const next = step(state, event, effects);
  return { state: next, effects };
}

function step(state: State, event: AgentEvent, effects: Effect[]): State {
  switch (event.type) {
    case "init":
      // A second init (the host restarted the hand-over) replaces the configuration only.
      return {
        ...state,
        phase: state.phase === "waiting" ? "starting" : state.phase,
        config: event.config,
        auth: { expiresAt: event.expiresAt, expiringSent: false, authErrorOpen: false },
      };
    case "token":
      if (state.auth === null) return state;
      return {
        ...state,
        auth: { expiresAt: event.expiresAt, expiringSent: false, authErrorOpen: false },
        notice: state.notice?.kind === "auth" ? null : state.notice,
      };
    case "tick": {
      const auth = state.auth;
      if (auth === null || auth.expiresAt === null || auth.expiringSent || auth.expiresAt - event.now > TOKEN_EXPIRING_MS) {
        return state;
      }
      effects.push({
        kind: "host",
        message: {
          type: "agent-shell:token-expiring",
          expiresIn: Math.max(0, Math.floor((auth.expiresAt - event.now) / 1000)),
        },
      });
      return { ...state, auth: { ...auth, expiringSent: true } };
    }
    case "me-loaded": {
      if (!state.sessionStarted) {
        effects.push({
          kind: "host",
          message: { type: "agent-shell:session-start", userId: event.me.id, name: event.me.name },
        });
      }
      return {
        ...state,
        phase: "ready",
        sessionStarted: true,
        me: event.me,
        presence: event.presence ?? state.presence,
        routingStatus: event.routingStatus ?? state.routingStatus,
      };
    }
    case "definitions-loaded":
      return { ...state, definitions: event.definitions };
    case "queues-loaded":
      return { ...state, queues: event.queues };
    case "queue-joined":
      return {
        ...state,
        queues: state.queues.map((q) => (q.id === event.queueId ? { ...q, joined: event.joined } : q)),
      };
    case "presence":
      return { ...state, presence: event.presence };
    case "routing-status":
      return { ...state, routingStatus: event.status };
    case "conversation":
      return applySnapshot(state, event.snapshot, event.now, effects);
    case "conversations-loaded": {
      // A full refetch (start, reconnect): apply what is there, finish what is gone.
      let next = state;
      for (const snapshot of event.snapshots) {
        next = applySnapshot(next, snapshot, event.now, effects);
      }
      const present = new Set(event.snapshots.map((s) => s.id));
      for (const gone of next.interactions.filter((i) => !present.has(i.id))) {
        next = finish(next, gone, event.now, effects, null);
      }
      return next;
    }
    case "wrapup-codes":
      return {
        ...state,
        interactions: state.interactions.map((i) => (i.id === event.conversationId ? { ...i, wrapupCodes: event.codes } : i)),
      };
    case "wrapup-submitted": {
      const interaction = state.interactions.find((i) => i.id === event.conversationId);
      if (interaction === undefined) return state;
      const name = interaction.wrapupCodes?.find((c) => c.id === event.codeId)?.name ?? null;
      if (interaction.phase !== "wrapup") {
        // Wrap-up recorded before the call ended (not offered by the view, but harmless).
        return state;
      }
      return finish(state, interaction, event.now, effects, name);
    }
    case "channel":
      return { ...state, channel: event.status };
    case "softphone":
      return { ...state, softphone: event.status };
    case "unauthorized": {
      const auth = state.auth;
      if (auth === null) return state;
      if (!auth.authErrorOpen) {
        // Once per token: further 401s for the same token wait for the same renewal.
        effects.push({ kind: "host", message: { type: "agent-shell:auth-error", status: 401, message: event.message } });
      }
      return { ...state, auth: { ...auth, authErrorOpen: true }, notice: { kind: "auth", message: "authRenewing" } };
    }
    case "forbidden":
      return { ...state, notice: { kind: "forbidden", message: event.message } };
    case "failed":
      return { ...state, notice: { kind: "error", message: event.message } };
    case "dismiss-notice":
      return { ...state, notice: null };
    case "action": {
      const without = state.pending.filter((k) => k !== event.key);
      return { ...state, pending: event.running ? [...without, event.key] : without };
    }
  }
}
