// The agent client's entry point (bundled to agent.js). Hears the shell only from the parent
// window and an exact shell origin (messages.ts), keeps the token in memory only, and wires the
// controller (API, notification channel, softphone) to the view. Nothing here uses storage,
// cookies, IndexedDB or the URL for anything.
import type { SocketLike } from "./channel";
import { Controller } from "./controller";
import { catalogueFor, translator } from "./i18n";
import { acceptHostEvent, CLIENT_VERSION, hostTargets, type ClientOut } from "./messages";
import { loadWebrtcSdk } from "./softphone";
import { AgentView } from "./view";

function start(): void {
  const parent = window.parent === window ? null : window.parent;
  /** Where to post: narrowed to the origin the host spoke from once it has spoken. */
  let targets = hostTargets(window.location.ancestorOrigins);

  const post = (message: ClientOut): void => {
    if (parent === null) return;
    for (const origin of targets) {
      try {
        parent.postMessage(message, origin);
      } catch {
        // a target origin the parent is not on: dropped by the browser
      }
    }
  };

  let view: AgentView | null = null;
  let language = "";
  const controller = new Controller({
    fetch: (url, init) => window.fetch(url, { ...init, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" }),
    openSocket: (url) => {
      // Adapts the browser's WebSocket to the channel's minimal SocketLike.
      const ws = new WebSocket(url);
      const socket: SocketLike = {
        onopen: null,
        onmessage: null,
        onclose: null,
        onerror: null,
        send: (data) => ws.send(data),
        close: () => ws.close(),
      };
      ws.onopen = () => socket.onopen?.();
      ws.onmessage = (event: MessageEvent) => socket.onmessage?.({ data: event.data });
      ws.onclose = () => socket.onclose?.();
      ws.onerror = () => socket.onerror?.();
      return socket;
    },
    timers: {
      setTimeout: (fn, ms) => window.setTimeout(fn, ms),
      clearTimeout: (handle) => window.clearTimeout(handle as number),
      setInterval: (fn, ms) => window.setInterval(fn, ms),
      clearInterval: (handle) => window.clearInterval(handle as number),
    },
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => window.setTimeout(resolve, ms)),
    post,
    announce: (effect) => view?.announce(effect.caller, effect.queue),
    onState: (state) => {
      const wanted = state.config?.language ?? "en";
      if (view !== null && wanted !== language) {
        language = wanted;
        const { lang, messages } = catalogueFor(wanted);
        view.setTranslate(translator(messages), lang);
      }
      view?.render(state);
    },
    hasWebrtc: typeof RTCPeerConnection !== "undefined",
    loadSoftphone: () => loadWebrtcSdk(document, window),
  });

  const { lang, messages } = catalogueFor(navigator.language || "en");
  view = new AgentView(controller, translator(messages));
  view.mount();
  view.setTranslate(translator(messages), lang);
  view.render(controller.state);

  window.addEventListener("message", (event: MessageEvent) => {
    const message = acceptHostEvent(event, parent);
    if (message === null) return;
    targets = [event.origin];
    controller.handleHostMessage(message);
  });
  window.addEventListener("pagehide", () => {
    controller.stop();
    view?.dispose();
  });
  post({ type: "agent-shell:ready", version: CLIENT_VERSION });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
