// Entry point of the local page: asks Rust what it is configured for, shows the right screen,
// and follows the session through `session://changed` events.
import { ClientBridge, type ClientMessage } from "./bridge";
import { formatElapsed } from "./format";
import {
  cancelSignIn,
  copyDiagnostics as collectDiagnostics,
  getSession,
  getShellInfo,
  isIpcError,
  onLinkOutcome,
  onSessionChanged,
  signOut,
  confirmExit,
  onConfirmExit,
  startSignIn,
  type IpcError,
  type LinkOutcome,
  type Notice,
  type SessionView,
  type ShellInfo,
} from "./ipc";

type ScreenId = "loading" | "sign-in" | "restoring" | "signed-in" | "not-configured" | "config-error";
type SessionTone = "idle" | "ok" | "warn" | "error";

const SCREENS: readonly ScreenId[] = ["loading", "sign-in", "restoring", "signed-in", "not-configured", "config-error"];

let environmentLabel = "—";
let shellInfo: ShellInfo | null = null;
let bridge: ClientBridge | null = null;
let lastExpiry: number | null = null;
/** When the current interaction started (interaction-start), for the status bar's timer. */
let interactionStartedAt: number | null = null;
/** What "End the call and ..." does in the confirm dialog. */
let pendingEndAction: (() => void) | null = null;
let interactionTimer: number | null = null;
let linkNoticeTimer: number | null = null;
let clientStartTimer: number | null = null;

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) {
    throw new Error(`missing #${id} in index.html`);
  }
  return element as T;
}

function showScreen(screen: ScreenId): void {
  for (const id of SCREENS) {
    byId(id).hidden = id !== screen;
  }
}

function setSession(text: string, tone: SessionTone): void {
  byId("status-session").textContent = text;
  byId("status-session-dot").className = `dot dot--${tone}`;
}

function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function showNotice(notice: Notice | IpcError | null): void {
  byId("notice").hidden = notice === null;
  byId("notice-message").textContent = sentence(notice?.message ?? "");
  byId("notice-code").textContent = notice?.code ?? "";
}

function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderSession(view: SessionView): void {
  switch (view.phase) {
    case "restoring":
      setSession("Restoring sign-in", "warn");
      showScreen("restoring");
      break;
    case "signing-in":
      setSession("Signing in", "warn");
      byId("sign-in-idle").hidden = true;
      byId("sign-in-waiting").hidden = false;
      showNotice(view.notice);
      showScreen("sign-in");
      break;
    case "relogin-required":
    case "signed-out":
      if (view.phase === "relogin-required") {
        setSession("Sign-in needed", "error");
        byId("sign-in-title").textContent = "Please sign in again";
        byId("sign-in-button").textContent = "Sign in again";
      } else {
        setSession("Signed out", view.notice === null ? "idle" : "warn");
        byId("sign-in-title").textContent = "Sign in to Genesys Cloud";
        byId("sign-in-button").textContent = "Sign in with your browser";
      }
      byId("sign-in-idle").hidden = false;
      byId("sign-in-waiting").hidden = true;
      byId<HTMLButtonElement>("sign-in-button").disabled = false;
      showNotice(view.notice);
      showScreen("sign-in");
      break;
    case "refreshing":
    case "signed-in": {
      const name = view.user?.name ?? view.user?.email ?? "agent";
      if (view.phase === "refreshing") {
        setSession("Renewing session", "warn");
      } else if (view.notice?.code === "renewal_deferred") {
        // A renewal failed for now; the token in hand is still good, the client keeps working.
        const until = view.expiresAtMs === null ? "" : ` (session fine until ${formatTime(view.expiresAtMs)})`;
        setSession(`Reconnecting${until}`, "warn");
      } else {
        setSession(`Signed in as ${name}`, "ok");
      }
      byId("signed-in-title").textContent = `Signed in as ${name}`;
      byId("signed-in-email").textContent = view.user?.email ?? "—";
      byId("signed-in-environment").textContent = environmentLabel;
      const expiry = view.expiresAtMs === null ? "—" : formatTime(view.expiresAtMs);
      byId("signed-in-expiry").textContent = view.refreshable
        ? `renews automatically (current token until ${expiry})`
        : `ends at ${expiry}; you will be asked to sign in again`;
      byId("signed-in-notice").hidden = view.notice === null;
      byId("signed-in-notice-message").textContent = sentence(view.notice?.message ?? "");
      // A session that cannot be renewed: one click starts the next sign-in before it ends.
      byId("renew-sign-in-button").hidden = view.notice?.code !== "session_ending";
      byId<HTMLButtonElement>("sign-out-button").disabled = false;
      showScreen("signed-in");
      startClient(view);
      return;
    }
  }
  stopClient();
}

function setStatusItem(id: string, text: string | null): void {
  byId(`${id}-item`).hidden = text === null;
  byId(id).textContent = text ?? "";
}

function showInteractionTime(): void {
  setStatusItem("status-call", interactionStartedAt === null ? null : formatElapsed(Date.now() - interactionStartedAt));
}

function setInteraction(startedAt: number | null): void {
  interactionStartedAt = startedAt;
  if (interactionTimer !== null) {
    window.clearInterval(interactionTimer);
    interactionTimer = null;
  }
  if (startedAt !== null) {
    interactionTimer = window.setInterval(showInteractionTime, 1000);
  }
  showInteractionTime();
}

function onClientMessage(message: ClientMessage): void {
  switch (message.type) {
    case "agent-shell:ready":
      // A (re)loaded client has no interaction in progress.
      setInteraction(null);
      break;
    case "agent-shell:session-start":
      clientStarted();
      setStatusItem("status-agent", message.name ?? message.userId);
      break;
    case "agent-shell:queue-position":
      if (shellInfo?.showQueuePosition === true) {
        setStatusItem("status-queue", `${message.position} of ${message.total}`);
      }
      break;
    case "agent-shell:interaction-start":
      setInteraction(Date.now());
      break;
    case "agent-shell:interaction-end":
      setInteraction(null);
      setStatusItem("status-interaction", formatTime(Date.now()));
      break;
    default:
      break;
  }
}

/** The webview's view of the network: while it is down, say so (renewals will fail and lead to
 * "Sign-in needed" after three tries, as the session engine documents). */
function showNetworkState(): void {
  setStatusItem("status-offline", navigator.onLine ? null : "Offline: waiting for the network");
}

/** A link the client tried to open: say where it went, or why it did not. */
function showLinkOutcome(outcome: LinkOutcome): void {
  const notice = byId("link-notice");
  // Short enough for the status bar; the full reason is in the tooltip.
  const where = outcome.host ?? "a page";
  notice.textContent = outcome.opened ? `Opened ${where} in your browser` : `Blocked a link to ${where}`;
  notice.title = outcome.message;
  notice.className = outcome.opened ? "link-notice" : "link-notice link-notice--blocked";
  notice.dataset["code"] = outcome.code ?? "opened";
  notice.hidden = false;
  if (linkNoticeTimer !== null) {
    window.clearTimeout(linkNoticeTimer);
  }
  linkNoticeTimer = window.setTimeout(() => {
    notice.hidden = true;
  }, 8000);
}

/** The overlay over the client: a spinner while it starts; when it does not, what went wrong
 * and a Reload button (never a spinner for ever, never a blank area). */
function showClientOverlay(problem: string | null): void {
  byId("client-loading").hidden = false;
  byId("client-loading").dataset["state"] = problem === null ? "loading" : "problem";
  byId("client-loading-spinner").hidden = problem !== null;
  byId("client-loading-text").textContent = problem === null ? "Loading Genesys Cloud…" : "Genesys Cloud did not start";
  byId("client-loading-detail").hidden = problem === null;
  byId("client-loading-detail").textContent = problem ?? "";
  byId("client-reload-button").hidden = problem === null;
}

function clearClientStartTimer(): void {
  if (clientStartTimer !== null) {
    window.clearTimeout(clientStartTimer);
    clientStartTimer = null;
  }
}

function clientStarted(): void {
  clearClientStartTimer();
  byId("client-loading").hidden = true;
  setStatusItem("status-client-problem", null);
}

/** Something went wrong with the client: while it starts, the overlay says what; once it runs,
 * the status bar does (the client stays usable), with the detail in the tooltip and a Reload
 * action next to it. */
function clientProblem(message: string): void {
  console.warn("embedded client:", message);
  if (bridge === null) {
    // A late answer for a client that is already gone (signed out): nothing to show.
    return;
  }
  if (!byId("client-loading").hidden) {
    clearClientStartTimer();
    showClientOverlay(message);
    return;
  }
  setStatusItem("status-client-problem", "Genesys Cloud needs attention");
  byId("status-client-problem").title = message;
}

/** Starts the client afresh (the Reload button): a new frame, a new handshake. */
function reloadClient(): void {
  stopClient();
  getSession().then(renderSession, showFatal);
}

/** Hosts the client while signed in; posts the fresh token after every renewal. */
function startClient(view: SessionView): void {
  const info = shellInfo;
  if (info === null || info.clientUrl === null) {
    return;
  }
  if (bridge === null) {
    const frame = byId<HTMLIFrameElement>("client-frame");
    showClientOverlay(null);
    const limitMs = info.clientStartTimeoutMs;
    clientStartTimer = window.setTimeout(() => {
      clientProblem(
        `It did not finish loading within ${Math.round(limitMs / 1000)} seconds. Check the network connection, then reload it.`,
      );
    }, limitMs);
    bridge = new ClientBridge(frame, info.clientOrigins, {
      onMessage: onClientMessage,
      // Counted where tests and support staff can read them (Web Inspector shows them too).
      onIgnored: (reason, countForReason) => {
        const total = Number(document.body.dataset["bridgeIgnored"] ?? "0") + 1;
        document.body.dataset["bridgeIgnored"] = String(total);
        document.body.setAttribute(`data-ignored-${reason}`, String(countForReason));
      },
      onError: clientProblem,
    });
    bridge.start(info.clientUrl);
  } else if (view.expiresAtMs !== lastExpiry) {
    if (bridge.connected) {
      void bridge.sendToken().catch(() => undefined);
    } else {
      bridge.sessionChanged();
    }
  }
  lastExpiry = view.expiresAtMs;
}

/** Signed out or re-login needed: the client goes, with its token and controls. */
function stopClient(): void {
  if (bridge !== null) {
    bridge.stop();
    bridge = null;
  }
  lastExpiry = null;
  clearClientStartTimer();
  setInteraction(null);
  for (const id of ["status-agent", "status-queue", "status-interaction", "status-client-problem"]) {
    setStatusItem(id, null);
  }
}

function renderInfo(info: ShellInfo): void {
  byId("status-version").textContent = `Agent Shell ${info.version}`;
  environmentLabel = info.environmentLabel ?? "Not configured";
  byId("status-environment").textContent = environmentLabel;
  byId("status-demo").hidden = !info.demo;
  const managed = info.managedKeys.length > 0 ? " · managed by your organization" : "";
  byId("sign-in-environment").textContent = `${info.environmentLabel ?? "—"}${managed}`;
  byId("status-environment").title =
    info.managedKeys.length > 0 ? `Managed by your organization: ${info.managedKeys.join(", ")}` : "";

  switch (info.status) {
    case "configured":
      break;
    case "not-configured": {
      const list = byId<HTMLUListElement>("searched-paths");
      list.replaceChildren(
        ...info.searchedPaths.map((path) => {
          const item = document.createElement("li");
          item.textContent = path;
          return item;
        }),
      );
      // Only a build with the emulator can run `agent-shell demo`.
      byId("demo-hint").hidden = !info.demoAvailable;
      setSession("Not configured", "warn");
      showScreen("not-configured");
      break;
    }
    case "invalid":
      byId("config-error-message").textContent = info.configError?.message ?? "Unknown error";
      byId("config-error-code").textContent = info.configError?.code ?? "—";
      byId("config-error-path").textContent = info.configPath ?? "—";
      setSession("Configuration error", "error");
      showScreen("config-error");
      break;
  }
}

function showFatal(error: unknown): void {
  // Never a white screen: even a broken IPC bridge ends on a readable error card.
  byId("config-error-message").textContent = isIpcError(error) ? error.message : String(error);
  byId("config-error-code").textContent = isIpcError(error) ? error.code : "ipc_failed";
  setSession("Error", "error");
  showScreen("config-error");
}

function wireButtons(): void {
  const signInButton = byId<HTMLButtonElement>("sign-in-button");
  signInButton.addEventListener("click", () => {
    signInButton.disabled = true;
    showNotice(null);
    startSignIn()
      .then((started) => {
        byId<HTMLInputElement>("sign-in-link").value = started.url;
        byId("waiting-message").textContent = started.browserOpened
          ? "Finish signing in in your browser…"
          : `Your browser did not open (${started.browserError ?? "unknown reason"}). Copy the link below into it.`;
        const note = byId("redirect-note");
        note.textContent = started.redirectNote ?? "";
        note.hidden = started.redirectNote === null;
        byId("sign-in-idle").hidden = true;
        byId("sign-in-waiting").hidden = false;
      })
      .catch((error: unknown) => {
        signInButton.disabled = false;
        showNotice(isIpcError(error) ? error : { code: "ipc_failed", message: String(error) });
      });
  });

  const renewButton = byId<HTMLButtonElement>("renew-sign-in-button");
  renewButton.addEventListener("click", () => {
    renewButton.disabled = true;
    startSignIn()
      .then(() => {
        byId("signed-in-notice-message").textContent = "Finish signing in in your browser…";
      })
      .catch((error: unknown) => {
        byId("signed-in-notice-message").textContent = isIpcError(error) ? error.message : String(error);
      })
      .finally(() => {
        renewButton.disabled = false;
      });
  });

  byId("copy-link-button").addEventListener("click", () => {
    const input = byId<HTMLInputElement>("sign-in-link");
    input.select();
    navigator.clipboard.writeText(input.value).then(
      () => (byId("copy-link-button").textContent = "Copied"),
      () => (byId("copy-link-button").textContent = "Press Ctrl+C"),
    );
  });

  byId("cancel-sign-in-button").addEventListener("click", () => {
    void cancelSignIn().catch(showNotice);
  });

  byId("client-reload-button").addEventListener("click", reloadClient);
  byId("status-client-reload").addEventListener("click", reloadClient);

  const signOutButton = byId<HTMLButtonElement>("sign-out-button");
  const doSignOut = (): void => {
    signOutButton.disabled = true;
    // The client goes first, so nothing of it is still running while Rust clears the
    // webview's data.
    stopClient();
    signOut().then(renderSession, (error: unknown) => {
      signOutButton.disabled = false;
      showFatal(error);
    });
  };
  // Nothing ends a call by accident: during an interaction, Sign out, closing the window and
  // Quit ask first (Rust asks for the last two through CONFIRM_EXIT_EVENT).
  signOutButton.addEventListener("click", () => {
    if (interactionStartedAt === null) {
      doSignOut();
    } else {
      askToEndCall("Signing out now ends the call.", "End the call and sign out", doSignOut);
    }
  });
  void onConfirmExit(() => {
    askToEndCall("Quitting Agent Shell now ends the call.", "End the call and quit", () => {
      void confirmExit().catch(showNotice);
    });
  });
  byId("confirm-end-keep").addEventListener("click", () => byId<HTMLDialogElement>("confirm-end-dialog").close());
  byId("confirm-end-go").addEventListener("click", () => {
    const dialog = byId<HTMLDialogElement>("confirm-end-dialog");
    dialog.close();
    pendingEndAction?.();
    pendingEndAction = null;
  });
}

/** Asks before something that would end the call; Escape or "Keep working" keeps it. */
function askToEndCall(text: string, confirmLabel: string, action: () => void): void {
  const dialog = byId<HTMLDialogElement>("confirm-end-dialog");
  byId("confirm-end-text").textContent = text;
  byId("confirm-end-go").textContent = confirmLabel;
  pendingEndAction = action;
  if (!dialog.open) {
    dialog.showModal();
  }
  byId("confirm-end-keep").focus();
}

/** "Copy diagnostics" works on every screen, the not-configured and error screens included
 * (where the agent is told to contact IT), so it is wired before anything can fail. */
function wireDiagnostics(): void {
  document.querySelectorAll<HTMLButtonElement>(".copy-diagnostics-action").forEach((button) => {
    button.addEventListener("click", () => {
      button.disabled = true;
      button.textContent = "Collecting…";
      announceDiagnostics("Collecting diagnostics…");
      void copyDiagnostics(button).finally(() => {
        button.disabled = false;
        window.setTimeout(() => (button.textContent = "Copy diagnostics"), 4000);
      });
    });
  });
  byId("diagnostics-close").addEventListener("click", () => {
    byId<HTMLDialogElement>("diagnostics-dialog").close();
  });
}

/** Says what "Copy diagnostics" did in the polite live region, for screen readers. */
function announceDiagnostics(text: string): void {
  byId("diagnostics-status").textContent = text;
}

async function start(): Promise<void> {
  wireDiagnostics();
  try {
    // The start's IPC calls go out together (each is a round trip to the app), so the client
    // starts loading as soon as the info and the session are in.
    const info = getShellInfo();
    const firstSession = getSession();
    // Not configured, there is no session to read: its error must not be left unhandled.
    firstSession.catch(() => undefined);
    const sessionListener = onSessionChanged((view) => {
      if (shellInfo?.status === "configured") {
        renderSession(view);
      }
    });
    const linkListener = onLinkOutcome(showLinkOutcome);
    shellInfo = await info;
    renderInfo(shellInfo);
    if (shellInfo.status !== "configured") {
      return;
    }
    wireButtons();
    // The emulator is on loopback: the machine's network does not matter to it.
    if (!shellInfo.localEmulator) {
      window.addEventListener("online", showNetworkState);
      window.addEventListener("offline", showNetworkState);
      showNetworkState();
    }
    const first = await firstSession;
    renderSession(first);
    await Promise.all([sessionListener, linkListener]);
    // A change between the first read and the listener's registration is caught by a second
    // read; the same view is not drawn twice (a screen reader would hear it again).
    const current = await getSession();
    if (JSON.stringify(current) !== JSON.stringify(first)) {
      renderSession(current);
    }
  } catch (error) {
    showFatal(error);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  void start();
});

/** Collects the diagnostics (Rust puts them on the clipboard); where the clipboard could not
 * be written, shows them selected in a dialog to copy by hand. `button` shows the outcome, and
 * the live region says it to screen readers. */
async function copyDiagnostics(button: HTMLButtonElement): Promise<void> {
  try {
    const result = await collectDiagnostics();
    if (result.copied) {
      button.textContent = "Diagnostics copied";
      announceDiagnostics("Diagnostics copied. Paste them into your message to IT.");
      return;
    }
    const area = byId<HTMLTextAreaElement>("diagnostics-text");
    area.value = result.text;
    byId<HTMLDialogElement>("diagnostics-dialog").showModal();
    area.select();
    button.textContent = "Copy diagnostics";
    announceDiagnostics("The clipboard could not be written: the diagnostics are shown selected, to copy by hand.");
  } catch (error: unknown) {
    button.textContent = isIpcError(error) ? `Diagnostics failed: ${error.code}` : "Diagnostics failed";
    announceDiagnostics(button.textContent);
  }
}
