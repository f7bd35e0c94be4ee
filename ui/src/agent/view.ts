// The agent client's DOM: renders State, forwards the agent's clicks and keys to the Controller.
//
// Stable ids for end-to-end (WebDriver) tests; each element also carries data-testid = its id:
//   #agent-name, #org-name         who is signed in, their organisation
//   #presence-select               presence (the org's definitions)
//   #on-queue                      On Queue / Off Queue toggle (aria-pressed)
//   #status-text                   one-line status: "On Queue · On queue, waiting for a call"
//   #channel-status                connection dot (data-state="up"|"connecting"|"down")
//   #station-text                  where calls ring
//   #notice, #notice-text, #notice-dismiss   errors; a 403 shows Genesys's own message
//   #live                          aria-live region (incoming call, announced once)
//   #incoming, #incoming-caller, #incoming-queue, #answer, #decline   a ringing ACD call
//   #active-call, #call-remote, #call-queue, #call-flags, #call-timer  the call in progress
//   #mute, #hold (aria-pressed), #keypad-toggle, #transfer-toggle, #hangup
//   #keypad, #dtmf-0 … #dtmf-9, #dtmf-star, #dtmf-hash                  DTMF keypad
//   #transfer-panel, #transfer-kind (queue|user|number), #transfer-search,
//   #transfer-search-button, #transfer-target, #transfer-number, #transfer   blind transfer
//   #wrapup, #wrapup-code, #wrapup-notes, #wrapup-submit                after the call
//   #dialpad (form), #dial-number (its input), #dial                    place a call
//   #queue-list, li[data-queue-id] > input.queue-toggle (#queue-<id>)   my queues, join/leave
//   #recent-list, li[data-testid="recent-item"][data-interaction-id]    this shift's interactions
// Keyboard: Alt+A answer, Alt+H hang up/decline, Alt+M mute, Alt+O hold (present.ts SHORTCUTS).
import { formatElapsed } from "../format";
import type { Controller } from "./controller";
import type { Translate } from "./i18n";
import type { MessageKey } from "./i18n/en";
import type { TransferTarget } from "./model";
import { callerLabel, incomingText, shortcutFor, stationLine, statusLine } from "./present";
import { currentInteraction, isOnQueue, isPending, type State } from "./state";

const DTMF_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
const dtmfId = (key: string): string => `dtmf-${key === "*" ? "star" : key === "#" ? "hash" : key}`;

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`missing #${id}`);
  return found as T;
}

export class AgentView {
  private readonly nodes = {
    live: el("live"),
    name: el("agent-name"),
    org: el("org-name"),
    presence: el<HTMLSelectElement>("presence-select"),
    onQueue: el<HTMLButtonElement>("on-queue"),
    status: el("status-text"),
    channel: el("channel-status"),
    station: el("station-text"),
    notice: el("notice"),
    noticeText: el("notice-text"),
    noticeDismiss: el<HTMLButtonElement>("notice-dismiss"),
    idle: el("call-idle"),
    incoming: el("incoming"),
    incomingCaller: el("incoming-caller"),
    incomingQueue: el("incoming-queue"),
    answer: el<HTMLButtonElement>("answer"),
    decline: el<HTMLButtonElement>("decline"),
    active: el("active-call"),
    remote: el("call-remote"),
    callQueue: el("call-queue"),
    flags: el("call-flags"),
    timer: el("call-timer"),
    controls: el("call-controls"),
    mute: el<HTMLButtonElement>("mute"),
    hold: el<HTMLButtonElement>("hold"),
    keypadToggle: el<HTMLButtonElement>("keypad-toggle"),
    transferToggle: el<HTMLButtonElement>("transfer-toggle"),
    hangup: el<HTMLButtonElement>("hangup"),
    keypad: el("keypad"),
    keypadKeys: el("keypad-keys"),
    transferPanel: el<HTMLFormElement>("transfer-panel"),
    transferKind: el<HTMLSelectElement>("transfer-kind"),
    transferSearchRow: el("transfer-search-row"),
    transferSearch: el<HTMLInputElement>("transfer-search"),
    transferSearchButton: el<HTMLButtonElement>("transfer-search-button"),
    transferTarget: el<HTMLSelectElement>("transfer-target"),
    transferNumberRow: el("transfer-number-row"),
    transferNumber: el<HTMLInputElement>("transfer-number"),
    transfer: el<HTMLButtonElement>("transfer"),
    wrapup: el<HTMLFormElement>("wrapup"),
    wrapupFor: el("wrapup-for"),
    wrapupCode: el<HTMLSelectElement>("wrapup-code"),
    wrapupNotes: el<HTMLTextAreaElement>("wrapup-notes"),
    wrapupSubmit: el<HTMLButtonElement>("wrapup-submit"),
    dialpad: el<HTMLFormElement>("dialpad"),
    dialNumber: el<HTMLInputElement>("dial-number"),
    dial: el<HTMLButtonElement>("dial"),
    queues: el("queue-list"),
    recent: el("recent-list"),
  };
  private state: State | null = null;
  /** Keys of what lists were last drawn from: redraw only on change (keeps focus/selection). */
  private drawn = { presence: "", queues: "", recent: "", wrapup: "", phase: "", callId: "" };
  private timerHandle: number | null = null;

  constructor(
    private readonly controller: Controller,
    private t: Translate,
  ) {}

  setTranslate(t: Translate, lang: string): void {
    this.t = t;
    document.documentElement.lang = lang;
    document.title = t("title");
    for (const node of Array.from(document.querySelectorAll<HTMLElement>("[data-i18n]"))) {
      node.textContent = t(node.dataset["i18n"] as MessageKey);
    }
    this.drawn = { presence: "", queues: "", recent: "", wrapup: "", phase: this.drawn.phase, callId: this.drawn.callId };
    if (this.state !== null) this.render(this.state);
  }

  mount(): void {
    const n = this.nodes;
    for (const node of Array.from(document.querySelectorAll<HTMLElement>("[id]"))) {
      if (!node.dataset["testid"] && node.matches("button, input, select, textarea, form, [tabindex]")) {
        node.dataset["testid"] = node.id;
      }
    }
    for (const key of DTMF_KEYS) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button key";
      button.id = dtmfId(key);
      button.dataset["testid"] = button.id;
      button.textContent = key;
      button.addEventListener("click", () => void this.controller.sendDigits(key));
      n.keypadKeys.appendChild(button);
    }
    n.presence.addEventListener("change", () => void this.controller.setPresence(n.presence.value));
    n.onQueue.addEventListener("click", () => {
      if (this.state !== null) void this.controller.setOnQueue(!isOnQueue(this.state));
    });
    n.noticeDismiss.addEventListener("click", () => this.controller.dismissNotice());
    n.answer.addEventListener("click", () => void this.controller.answer());
    n.decline.addEventListener("click", () => void this.controller.hangUp());
    n.hangup.addEventListener("click", () => void this.controller.hangUp());
    n.mute.addEventListener("click", () => void this.controller.toggleMute());
    n.hold.addEventListener("click", () => void this.controller.toggleHold());
    n.keypadToggle.addEventListener("click", () => this.toggle(n.keypadToggle, n.keypad));
    n.transferToggle.addEventListener("click", () => {
      this.toggle(n.transferToggle, n.transferPanel);
      if (!n.transferPanel.hidden) void this.searchTargets();
    });
    n.transferKind.addEventListener("change", () => {
      const number = n.transferKind.value === "number";
      n.transferSearchRow.hidden = number;
      n.transferNumberRow.hidden = !number;
      if (!number) void this.searchTargets();
    });
    n.transferSearchButton.addEventListener("click", () => void this.searchTargets());
    n.transferSearch.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        void this.searchTargets();
      }
    });
    n.transferPanel.addEventListener("submit", (event) => {
      event.preventDefault();
      const kind = n.transferKind.value;
      if (kind === "number") {
        void this.controller.transfer({ kind: "number", address: n.transferNumber.value.trim() });
      } else if ((kind === "queue" || kind === "user") && n.transferTarget.value !== "") {
        void this.controller.transfer({ kind, id: n.transferTarget.value });
      }
    });
    n.wrapup.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.controller.submitWrapup(n.wrapupCode.value, n.wrapupNotes.value).then(() => {
        if (this.state !== null && !this.state.interactions.some((i) => i.phase === "wrapup")) {
          n.wrapupNotes.value = "";
        }
      });
    });
    n.dialpad.addEventListener("submit", (event) => {
      event.preventDefault();
      const number = n.dialNumber.value;
      void this.controller.placeCall(number).then(() => {
        if (this.state?.notice === null) n.dialNumber.value = "";
      });
    });
    n.queues.addEventListener("change", (event) => {
      const target = event.target;
      if (target instanceof HTMLInputElement && target.dataset["queueId"]) {
        void this.controller.setQueueJoined(target.dataset["queueId"], target.checked);
      }
    });
    document.addEventListener("keydown", (event) => {
      const action = shortcutFor(event);
      if (action === null) return;
      event.preventDefault();
      switch (action) {
        case "answer":
          void this.controller.answer();
          break;
        case "hangup":
          void this.controller.hangUp();
          break;
        case "mute":
          void this.controller.toggleMute();
          break;
        case "hold":
          void this.controller.toggleHold();
          break;
      }
    });
    // The call timer: its own text only, once a second; not a live region (no announcements).
    this.timerHandle = window.setInterval(() => this.renderTimer(), 1000);
  }

  private toggle(button: HTMLButtonElement, panel: HTMLElement): void {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) panel.querySelector<HTMLElement>("button, input, select")?.focus();
  }

  private async searchTargets(): Promise<void> {
    const n = this.nodes;
    const kind = n.transferKind.value;
    if (kind !== "queue" && kind !== "user") return;
    const targets: TransferTarget[] = await this.controller.searchTransferTargets(kind, n.transferSearch.value);
    n.transferTarget.replaceChildren(
      ...(targets.length === 0
        ? [new Option(this.t("transferNoMatch"), "")]
        : targets.map((target) => new Option(target.name, target.id))),
    );
  }

  announce(caller: string, queue: string): void {
    // Cleared first so the same words are announced again for the next call.
    this.nodes.live.textContent = "";
    window.setTimeout(() => {
      this.nodes.live.textContent = incomingText(caller, queue, this.t);
    }, 50);
  }

  private renderTimer(): void {
    const i = this.state === null ? undefined : currentInteraction(this.state);
    if (i !== undefined && i.phase === "connected" && i.connectedAt !== null) {
      this.nodes.timer.textContent = formatElapsed(Date.now() - i.connectedAt);
    }
  }

  render(state: State): void {
    const previous = this.state;
    this.state = state;
    const n = this.nodes;
    const t = this.t;
    const config = state.config;

    // Header
    n.name.textContent = state.me?.name ?? "";
    n.org.textContent = state.me?.orgName ?? "";
    n.status.textContent = statusLine(state, t);
    n.channel.dataset["state"] = state.channel;
    const channelText = t(state.channel === "up" ? "channelUp" : state.channel === "connecting" ? "channelConnecting" : "channelDown");
    n.channel.setAttribute("aria-label", channelText);
    n.channel.title = channelText;
    const presenceKey = JSON.stringify([state.definitions, state.presence?.definitionId]);
    if (presenceKey !== this.drawn.presence) {
      this.drawn.presence = presenceKey;
      const options = state.definitions.map((d) => new Option(d.label, d.id));
      if (state.presence !== null && !state.definitions.some((d) => d.id === state.presence?.definitionId)) {
        options.unshift(new Option(t("presenceUnknown"), state.presence.definitionId));
      }
      n.presence.replaceChildren(...options);
      if (state.presence !== null) n.presence.value = state.presence.definitionId;
    }
    n.presence.disabled = state.phase !== "ready" || state.definitions.length === 0 || isPending(state, "presence");
    const onQueue = isOnQueue(state);
    n.onQueue.textContent = onQueue ? t("goOffQueue") : t("goOnQueue");
    n.onQueue.setAttribute("aria-pressed", String(onQueue));
    n.onQueue.classList.toggle("button--on", onQueue);
    n.onQueue.disabled = state.phase !== "ready" || state.definitions.length === 0 || isPending(state, "presence");

    // Where calls ring
    n.station.textContent = state.phase === "ready" ? stationLine(state, this.controller.phone, t) : state.phase === "waiting" ? t("waitingForShell") : t("starting");
    if (state.softphone === "loading") n.station.textContent += ` ${t("softphoneLoading")}`;
    if (state.softphone === "ready") n.station.textContent += ` ${t("softphoneReady")}`;
    if (state.softphone === "failed") n.station.textContent += ` ${t("softphoneFailed")}`;

    // Notice
    const notice = state.notice;
    n.notice.hidden = notice === null;
    if (notice !== null) {
      n.notice.dataset["kind"] = notice.kind;
      n.noticeText.textContent =
        notice.kind === "forbidden"
          ? t("forbidden", { message: notice.message })
          : notice.kind === "auth"
            ? t("authRenewing")
            : t("failed", { message: notice.message });
    }

    // Call
    const current = currentInteraction(state);
    const showControls = config?.settings.showCallControls ?? true;
    const phase = current?.phase ?? "";
    n.idle.hidden = current !== undefined;
    if (current?.phase !== "alerting") n.live.textContent = "";
    n.incoming.hidden = current?.phase !== "alerting";
    n.active.hidden = !(current?.phase === "connected" || current?.phase === "dialing");
    n.wrapup.hidden = current?.phase !== "wrapup";
    n.dialpad.hidden = current !== undefined && current.phase !== "wrapup";
    n.controls.hidden = !showControls;
    if (current !== undefined) {
      const caller = callerLabel(current, t);
      const busy = (what: string): boolean => isPending(state, `${what}:${current.id}`);
      if (current.phase === "alerting") {
        n.incomingCaller.textContent = incomingText(caller, "", t);
        n.incomingQueue.textContent = current.queueName ? t("viaQueue", { queue: current.queueName }) : "";
        n.answer.disabled = busy("answer") || busy("hangup");
        n.decline.disabled = busy("answer") || busy("hangup");
        n.answer.title = `${t("answer")} (Alt+A)`;
        n.decline.title = `${t("decline")} (Alt+H)`;
      }
      if (current.phase === "connected" || current.phase === "dialing") {
        n.remote.textContent = current.phase === "dialing" ? t("dialing", { caller }) : t("onCallWith", { caller });
        n.callQueue.textContent = current.queueName ? t("viaQueue", { queue: current.queueName }) : "";
        n.flags.textContent = [current.held ? t("onHold") : "", current.muted ? t("muted") : ""].filter(Boolean).join(" · ");
        const connected = current.phase === "connected";
        n.mute.textContent = current.muted ? t("unmute") : t("mute");
        n.mute.setAttribute("aria-pressed", String(current.muted));
        n.mute.title = `${n.mute.textContent} (Alt+M)`;
        n.mute.disabled = !connected || busy("mute");
        n.hold.textContent = current.held ? t("resume") : t("hold");
        n.hold.setAttribute("aria-pressed", String(current.held));
        n.hold.title = `${n.hold.textContent} (Alt+O)`;
        n.hold.disabled = !connected || busy("hold");
        n.hangup.title = `${t("hangUp")} (Alt+H)`;
        n.hangup.disabled = busy("hangup");
        n.keypadToggle.disabled = !connected;
        n.transferToggle.hidden = !(config?.settings.allowTransfer ?? true);
        n.transferToggle.disabled = !connected;
        n.transfer.disabled = busy("transfer");
        if (!connected) this.nodes.timer.textContent = "0:00";
        this.renderTimer();
      }
      if (current.phase === "wrapup") {
        n.wrapupFor.textContent = t("wrapupFor", { caller });
        const wrapKey = JSON.stringify([current.id, current.wrapupCodes]);
        if (wrapKey !== this.drawn.wrapup) {
          this.drawn.wrapup = wrapKey;
          const codes = current.wrapupCodes;
          n.wrapupCode.replaceChildren(
            new Option(codes === null ? t("wrapupLoading") : t("wrapupChoose"), ""),
            ...(codes ?? []).map((c) => new Option(c.name, c.id)),
          );
        }
        n.wrapupSubmit.disabled = current.wrapupCodes === null || busy("wrapup");
      }
    }
    if (current === undefined || current.phase !== "connected") {
      // Panels of a call that is over close with it.
      for (const [button, panel] of [
        [n.keypadToggle, n.keypad],
        [n.transferToggle, n.transferPanel],
      ] as const) {
        panel.hidden = true;
        button.setAttribute("aria-expanded", "false");
      }
    }
    n.dial.disabled = state.phase !== "ready" || isPending(state, "dial");
    n.dialNumber.disabled = state.phase !== "ready";

    // Focus follows the call: a ringing call offers Answer; a connected call its heading; wrap-up its code.
    const callKey = `${current?.id ?? ""}:${phase}`;
    if (callKey !== `${this.drawn.callId}:${this.drawn.phase}`) {
      this.drawn.callId = current?.id ?? "";
      this.drawn.phase = phase;
      this.moveFocus(phase, previous !== null);
    }

    this.renderQueues(state);
    this.renderRecent(state);
  }

  private moveFocus(phase: string, started: boolean): void {
    if (!started) return;
    const active = document.activeElement;
    const typing = active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement;
    const n = this.nodes;
    if (phase === "alerting") {
      // Do not take focus from someone typing (e.g. wrap-up notes of the last call).
      if (!typing) n.answer.focus();
    } else if (phase === "connected" || phase === "dialing") {
      n.remote.focus();
    } else if (phase === "wrapup") {
      n.wrapupCode.focus();
    } else if (!typing || n.active.contains(active) || n.wrapup.contains(active)) {
      n.dialNumber.focus();
    }
  }

  private renderQueues(state: State): void {
    const key = JSON.stringify([state.queues, state.pending.filter((p) => p.startsWith("queue:")), this.t("queueJoin")]);
    if (key === this.drawn.queues) return;
    this.drawn.queues = key;
    const n = this.nodes;
    const hadFocus = document.activeElement instanceof HTMLInputElement ? document.activeElement.id : null;
    if (state.queues.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = state.phase === "ready" ? this.t("queuesEmpty") : "";
      n.queues.replaceChildren(li);
      return;
    }
    n.queues.replaceChildren(
      ...state.queues.map((q) => {
        const li = document.createElement("li");
        li.dataset["queueId"] = q.id;
        li.dataset["testid"] = "queue-item";
        const label = document.createElement("label");
        label.className = "queue";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.className = "queue-toggle";
        box.id = `queue-${q.id}`;
        box.dataset["testid"] = "queue-toggle";
        box.dataset["queueId"] = q.id;
        box.checked = q.joined;
        box.disabled = isPending(state, `queue:${q.id}`);
        box.setAttribute("aria-label", q.joined ? this.t("queueLeave", { queue: q.name }) : this.t("queueJoin", { queue: q.name }));
        const name = document.createElement("span");
        name.textContent = q.name;
        const status = document.createElement("span");
        status.className = "muted small";
        status.textContent = q.joined ? this.t("queueJoined") : this.t("queueNotJoined");
        label.append(box, name, status);
        li.appendChild(label);
        return li;
      }),
    );
    if (hadFocus !== null) document.getElementById(hadFocus)?.focus();
  }

  private renderRecent(state: State): void {
    const key = JSON.stringify([state.recent, this.t("recentEmpty")]);
    if (key === this.drawn.recent) return;
    this.drawn.recent = key;
    const t = this.t;
    if (state.recent.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = t("recentEmpty");
      this.nodes.recent.replaceChildren(li);
      return;
    }
    this.nodes.recent.replaceChildren(
      ...state.recent.map((r) => {
        const li = document.createElement("li");
        li.dataset["testid"] = "recent-item";
        li.dataset["interactionId"] = r.id;
        li.dataset["outcome"] = r.outcome;
        const top = document.createElement("div");
        const who = document.createElement("strong");
        who.textContent = r.remote || t("unknownCaller");
        const time = document.createElement("time");
        time.dateTime = new Date(r.startedAt).toISOString();
        time.textContent = new Date(r.startedAt).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
        top.append(who, " ", time);
        const meta = document.createElement("div");
        meta.className = "muted small";
        meta.textContent = [
          t(`media_${r.media}` as MessageKey),
          r.direction === "inbound" ? t("recentInbound") : t("recentOutbound"),
          t(`outcome_${r.outcome}`),
          r.outcome === "answered" ? formatElapsed(r.durationMs) : "",
          r.queueName ?? "",
          r.wrapupName ? t("recentWrapup", { code: r.wrapupName }) : "",
        ]
          .filter(Boolean)
          .join(" · ");
        li.append(top, meta);
        return li;
      }),
    );
  }

  dispose(): void {
    if (this.timerHandle !== null) window.clearInterval(this.timerHandle);
  }
}
