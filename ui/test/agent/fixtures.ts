// Genesys-shaped JSON for the agent client's tests (field names as in purecloud-platform-client-v2).
export const USER_ID = "a1b2c3d4-0000-4000-8000-000000000001";
export const CONV_ID = "c0c0c0c0-0000-4000-8000-0000000000c1";
export const AGENT_PART = "p-agent-1";
export const CUSTOMER_PART = "p-customer-1";
export const QUEUE_ID = "q-support";
export const ON_QUEUE_ID = "def-on-queue";
export const AVAILABLE_ID = "def-available";
export const TOKEN_1 = "token-one-aaaaaaaaaaaaaaaa";
export const TOKEN_2 = "token-two-bbbbbbbbbbbbbbbb";

export const usersMe = {
  id: USER_ID,
  name: "Alex Agent",
  version: 3,
  organization: { id: "org-1", name: "Example Org", version: 1 },
  presence: { presenceDefinition: { id: AVAILABLE_ID, systemPresence: "Available" } },
  routingStatus: { userId: USER_ID, status: "OFF_QUEUE" },
  station: {
    effectiveStation: { id: "st-1", name: "Alex's desk phone", type: "inin_phone" },
    associatedStation: { id: "st-1", name: "Alex's desk phone", type: "inin_phone" },
  },
};

export const presenceDefinitions = {
  entities: [
    { id: AVAILABLE_ID, systemPresence: "Available", languageLabels: { en_US: "Available", de: "Verfügbar" } },
    { id: ON_QUEUE_ID, systemPresence: "On Queue", languageLabels: { en_US: "On Queue", de: "In Warteschlange" } },
    { id: "def-break", systemPresence: "Break", languageLabels: { en_US: "Break" } },
    { id: "def-old", systemPresence: "Busy", languageLabels: { en_US: "Old" }, deactivated: true },
  ],
};

export const userQueues = {
  entities: [
    { id: QUEUE_ID, name: "Support", joined: true },
    { id: "q-sales", name: "Sales", joined: false },
  ],
};

type State = "alerting" | "connected" | "disconnected" | "terminated" | "dialing" | "contacting";

/** A CallConversation as REST answers it (user.id / queue.id). */
export function restCall(
  state: State,
  extra: Partial<{ held: boolean; muted: boolean; wrapupRequired: boolean; wrapup: unknown; connectedTime: string }> = {},
) {
  return {
    id: CONV_ID,
    participants: [
      {
        id: CUSTOMER_PART,
        purpose: "customer",
        name: "Pat Caller",
        address: "tel:+353111222333",
        ani: "tel:+353111222333",
        state: state === "alerting" ? "connected" : state,
        attributes: { account: "42" },
      },
      { id: "p-acd", purpose: "acd", name: "Support", queue: { id: QUEUE_ID }, state: "disconnected" },
      {
        id: AGENT_PART,
        purpose: "agent",
        user: { id: USER_ID },
        queue: { id: QUEUE_ID },
        state,
        direction: "inbound",
        held: false,
        muted: false,
        wrapupRequired: state === "disconnected",
        ...(state === "connected" || state === "disconnected" ? { connectedTime: "2026-01-05T10:00:00.000Z" } : {}),
        ...extra,
      },
    ],
  };
}

/** The same conversation as the v2.users.{id}.conversations.calls event carries it (flat ids). */
export function eventCall(state: State, extra: Record<string, unknown> = {}) {
  const rest = restCall(state);
  return {
    id: CONV_ID,
    participants: rest.participants.map((p) => {
      const { user, queue, ...others } = p as Record<string, unknown> & { user?: { id: string }; queue?: { id: string } };
      return { ...others, ...(user ? { userId: user.id } : {}), ...(queue ? { queueId: queue.id } : {}), ...(p.id === AGENT_PART ? extra : {}) };
    }),
  };
}
