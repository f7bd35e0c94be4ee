// What the view says, as pure functions of state (unit-tested): the status line, where calls
// ring, caller labels, keyboard shortcuts.
import type { Translate } from "./i18n";
import type { MessageKey } from "./i18n/en";
import type { PhoneMode } from "./softphone";
import { isOnQueue, type Interaction, type State } from "./state";

export type ShortcutAction = "answer" | "hangup" | "mute" | "hold";

/** Alt+A answer, Alt+H hang up/decline, Alt+M mute, Alt+O hold. Matched on the physical key
 * (event.code) so Option+letter on a Mac, which types a character, still works. */
export const SHORTCUTS: Record<string, ShortcutAction> = {
  KeyA: "answer",
  KeyH: "hangup",
  KeyM: "mute",
  KeyO: "hold",
};

export function shortcutFor(event: { altKey: boolean; ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; code: string }): ShortcutAction | null {
  if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return null;
  return SHORTCUTS[event.code] ?? null;
}

export function callerLabel(i: Pick<Interaction, "remote">, t: Translate): string {
  const { name, address } = i.remote;
  if (name && address && name !== address) return `${name} (${address})`;
  return name || address || t("unknownCaller");
}

export function routingLabel(status: string | null, t: Translate): string {
  if (status === null) return t("routingUnknown");
  const key = `routing_${status.toUpperCase()}`;
  const known: readonly string[] = ["routing_OFF_QUEUE", "routing_IDLE", "routing_INTERACTING", "routing_NOT_RESPONDING", "routing_COMMUNICATING"];
  return known.includes(key) ? t(key as MessageKey) : status;
}

export function statusLine(state: State, t: Translate): string {
  if (state.phase === "waiting") return t("statusWaiting");
  if (state.phase === "starting") return t("statusStarting");
  // The routing status says on/off queue and more; without it, the presence says on/off queue.
  if (state.routingStatus !== null) return routingLabel(state.routingStatus, t);
  return isOnQueue(state) ? t("onQueue") : t("offQueue");
}

export function stationLine(state: State, phone: PhoneMode, t: Translate): string {
  const station = state.me?.station ?? null;
  const name = station?.name ?? "";
  switch (phone) {
    case "webrtc":
      return t("callsRingWebrtc", { station: name });
    case "webrtc-no-media":
      return t("callsRingWebrtcNoMedia", { station: name });
    case "webrtc-elsewhere":
      return t("callsRingWebrtcElsewhere", { station: name });
    case "desk-phone":
      return t("callsRingDesk", { station: name });
    case "remote":
      return t("callsRingRemote", { station: name });
    case "none":
      return station === null && state.me === null ? "" : t("callsRingNone");
  }
}

/** The announcement for a ringing call (said once, through the aria-live region). */
export function incomingText(caller: string, queue: string, t: Translate): string {
  const who = caller || t("unknownCaller");
  return queue ? t("incomingCallQueue", { caller: who, queue }) : t("incomingCall", { caller: who });
}
