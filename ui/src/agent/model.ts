// Our own model of what the agent client shows, and the normalisers that read Genesys Cloud's
// JSON (REST answers and notification events) into it. Pure: no DOM, no fetch; unit-tested.
//
// Field names follow the Platform API models (purecloud-platform-client-v2 index.d.ts:
// UserMe, UserStations, UserStation, Station, OrganizationPresenceDefinition, UserQueue,
// CallConversation, CallMediaParticipant, WrapupCode). Notification events carry the same
// conversation with flat `userId`/`queueId` where REST has `user.id`/`queue.id`: both are read.

/** The media an interaction runs on. Only "voice" is handled today; the rest of the model
 * (interaction, recent list) is keyed by it so ACD messaging/chat can be added. */
export type MediaType = "voice" | "message" | "chat" | "email" | "callback";

export type StationKind = "webrtc" | "desk-phone" | "remote" | "none";

export interface StationInfo {
  id: string;
  name: string;
  /** Genesys's station type, e.g. "inin_webrtc_softphone", "inin_remote". */
  type: string;
  kind: StationKind;
}

export interface Me {
  id: string;
  name: string;
  orgName: string;
  station: StationInfo | null;
}

export interface PresenceDef {
  id: string;
  /** Label in the agent's language when the org has one, else English, else the system presence. */
  label: string;
  systemPresence: string;
}

export interface Presence {
  definitionId: string;
  systemPresence: string;
}

export interface QueueMembership {
  id: string;
  name: string;
  joined: boolean;
}

export interface Party {
  name: string;
  address: string;
}

export type ParticipantState =
  | "alerting"
  | "dialing"
  | "contacting"
  | "offering"
  | "connected"
  | "disconnected"
  | "terminated"
  | "converting"
  | "uploading"
  | "transmitting"
  | "none";

/** One conversation as we read it: our participant, the remote party, the queue. */
export interface ConversationSnapshot {
  id: string;
  media: MediaType;
  /** Our participant (the agent's latest one in this conversation). */
  participantId: string;
  state: ParticipantState;
  direction: "inbound" | "outbound";
  held: boolean;
  muted: boolean;
  wrapupRequired: boolean;
  /** The wrap-up already recorded on our participant (code id), if any. */
  wrapupCode: string | null;
  connectedTime: number | null;
  queueId: string | null;
  queueName: string | null;
  remote: Party;
  attributes: Record<string, string>;
}

export interface WrapupCode {
  id: string;
  name: string;
}

export interface TransferTarget {
  kind: "queue" | "user";
  id: string;
  name: string;
}

type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
const str = (value: unknown): string | null => (typeof value === "string" && value.length > 0 ? value : null);
const bool = (value: unknown): boolean => value === true;
const rec = (value: unknown): Json => (isRecord(value) ? value : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

export function stationKind(type: string): StationKind {
  const t = type.toLowerCase();
  if (t.includes("webrtc")) return "webrtc";
  if (t.includes("remote")) return "remote";
  if (t.length === 0) return "none";
  return "desk-phone";
}

/** Reads a UserStation (or Station). */
export function parseStation(value: unknown): StationInfo | null {
  const s = rec(value);
  const id = str(s["id"]);
  if (id === null) return null;
  const type = str(s["type"]) ?? "";
  return { id, name: str(s["name"]) ?? id, type, kind: stationKind(type) };
}

/** Reads GET /api/v2/users/me?expand=presence,routingStatus,station,organization. */
export function parseMe(value: unknown): {
  me: Me;
  presence: Presence | null;
  routingStatus: string | null;
} | null {
  const body = rec(value);
  const id = str(body["id"]);
  if (id === null) return null;
  const station = rec(body["station"]);
  // Where calls ring now: the effective station (associated, or the default one).
  const stationInfo = parseStation(station["effectiveStation"]) ?? parseStation(station["associatedStation"]);
  return {
    me: {
      id,
      name: str(body["name"]) ?? str(body["username"]) ?? id,
      orgName: str(rec(body["organization"])["name"]) ?? "",
      station: stationInfo,
    },
    presence: parsePresence(body["presence"]),
    routingStatus: parseRoutingStatus(body["routingStatus"]),
  };
}

/** Reads a UserPresence (REST) or the body of a v2.users.{id}.presence event. */
export function parsePresence(value: unknown): Presence | null {
  const definition = rec(rec(value)["presenceDefinition"]);
  const definitionId = str(definition["id"]);
  if (definitionId === null) return null;
  return { definitionId, systemPresence: str(definition["systemPresence"]) ?? "" };
}

/** Reads a RoutingStatus (REST) or the body of a v2.users.{id}.routingStatus event. */
export function parseRoutingStatus(value: unknown): string | null {
  const body = rec(value);
  const nested = rec(body["routingStatus"]);
  return str(nested["status"]) ?? str(body["status"]);
}

/** Reads GET /api/v2/presencedefinitions (OrganizationPresenceDefinition entities). */
export function parsePresenceDefinitions(value: unknown, language: string): PresenceDef[] {
  const out: PresenceDef[] = [];
  for (const item of list(rec(value)["entities"])) {
    const d = rec(item);
    const id = str(d["id"]);
    if (id === null || d["deactivated"] === true) continue;
    const labels = rec(d["languageLabels"]);
    const systemPresence = str(d["systemPresence"]) ?? "";
    const label =
      str(labels[language]) ?? str(labels["en_US"]) ?? str(labels["en"]) ?? str(d["name"]) ?? (systemPresence || id);
    out.push({ id, label, systemPresence });
  }
  return out;
}

/** Reads GET /api/v2/users/{userId}/queues (UserQueue entities). */
export function parseUserQueues(value: unknown): QueueMembership[] {
  const out: QueueMembership[] = [];
  for (const item of list(rec(value)["entities"])) {
    const q = rec(item);
    const id = str(q["id"]);
    if (id === null) continue;
    out.push({ id, name: str(q["name"]) ?? id, joined: bool(q["joined"]) });
  }
  return out;
}

export function parseEntities(value: unknown, kind: TransferTarget["kind"]): TransferTarget[] {
  const out: TransferTarget[] = [];
  for (const item of list(rec(value)["entities"])) {
    const e = rec(item);
    const id = str(e["id"]);
    if (id === null) continue;
    out.push({ kind, id, name: str(e["name"]) ?? id });
  }
  return out;
}

export function parseWrapupCodes(value: unknown): WrapupCode[] {
  // The route answers a bare array of WrapupCode; accept an entity listing too.
  const items = Array.isArray(value) ? value : list(rec(value)["entities"]);
  const out: WrapupCode[] = [];
  for (const item of items) {
    const c = rec(item);
    const id = str(c["id"]);
    if (id === null) continue;
    out.push({ id, name: str(c["name"]) ?? id });
  }
  return out;
}

const KNOWN_STATES: readonly ParticipantState[] = [
  "alerting",
  "dialing",
  "contacting",
  "offering",
  "connected",
  "disconnected",
  "terminated",
  "converting",
  "uploading",
  "transmitting",
  "none",
];

function participantState(value: unknown): ParticipantState {
  const s = typeof value === "string" ? value.toLowerCase() : "";
  return (KNOWN_STATES as readonly string[]).includes(s) ? (s as ParticipantState) : "none";
}

function time(value: unknown): number | null {
  const s = str(value);
  if (s === null) return null;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : null;
}

const refId = (p: Json, flat: string, nested: string): string | null => str(p[flat]) ?? str(rec(p[nested])["id"]);

/** Reads a CallConversation (REST) or the body of a v2.users.{id}.conversations.calls event,
 * from the point of view of user `userId`. Null when the user has no participant in it. */
export function parseCallConversation(value: unknown, userId: string): ConversationSnapshot | null {
  const body = rec(value);
  const id = str(body["id"]);
  if (id === null) return null;
  const participants = list(body["participants"]).map(rec);
  const mine = participants.filter(
    (p) => refId(p, "userId", "user") === userId && ["agent", "user"].includes(str(p["purpose"]) ?? ""),
  );
  // The agent's latest participant: a transfer back to the same agent adds a new one.
  const ours = mine.find((p) => !["disconnected", "terminated"].includes(participantState(p["state"]))) ?? mine.at(-1);
  if (ours === undefined) return null;
  const participantId = str(ours["id"]);
  if (participantId === null) return null;
  const remote =
    participants.find((p) => ["customer", "external"].includes(str(p["purpose"]) ?? "")) ??
    participants.find((p) => p !== ours && !mine.includes(p) && str(p["purpose"]) !== "acd" && str(p["purpose"]) !== "ivr");
  const acd = participants.find((p) => str(p["purpose"]) === "acd");
  const queueId = refId(ours, "queueId", "queue") ?? (acd === undefined ? null : refId(acd, "queueId", "queue"));
  const queueName = str(rec(ours["queue"])["name"]) ?? (acd === undefined ? null : str(rec(acd["queue"])["name"]) ?? str(acd["name"]));
  const wrapup = rec(ours["wrapup"]);
  const attributes: Record<string, string> = {};
  for (const source of [remote, ours]) {
    for (const [key, v] of Object.entries(rec(source?.["attributes"]))) {
      if (typeof v === "string") attributes[key] = v;
    }
  }
  const remoteAddress = remote === undefined ? "" : (str(remote["ani"]) ?? str(remote["address"]) ?? "");
  const direction = str(ours["direction"]) === "outbound" ? "outbound" : acd !== undefined || str(ours["direction"]) === "inbound" ? "inbound" : "outbound";
  return {
    id,
    media: "voice",
    participantId,
    state: participantState(ours["state"]),
    direction,
    held: bool(ours["held"]),
    muted: bool(ours["muted"]),
    wrapupRequired: bool(ours["wrapupRequired"]),
    wrapupCode: str(wrapup["code"]),
    connectedTime: time(ours["connectedTime"]),
    queueId,
    queueName,
    remote: {
      name: remote === undefined ? "" : (str(remote["name"]) ?? ""),
      address: cleanAddress(remoteAddress),
    },
    attributes,
  };
}

/** "tel:+3531234567" -> "+3531234567"; SIP addresses are left readable. */
export function cleanAddress(address: string): string {
  return address.replace(/^tel:/i, "").replace(/^sip:([^@;]+)@.*$/i, "$1");
}

/** Reads GET /api/v2/conversations/calls (a CallConversationEntityListing). */
export function parseCallConversations(value: unknown, userId: string): ConversationSnapshot[] {
  return list(rec(value)["entities"])
    .map((c) => parseCallConversation(c, userId))
    .filter((c): c is ConversationSnapshot => c !== null);
}
