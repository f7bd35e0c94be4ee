// Entry point of the local page: asks Rust what it is configured for and shows the right screen.
import { getShellInfo, isIpcError, type ShellInfo } from "./ipc";

type ScreenId = "loading" | "sign-in" | "not-configured" | "config-error";
type SessionTone = "idle" | "ok" | "warn" | "error";

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) {
    throw new Error(`missing #${id} in index.html`);
  }
  return element as T;
}

function showScreen(screen: ScreenId): void {
  for (const id of ["loading", "sign-in", "not-configured", "config-error"] as const) {
    byId(id).hidden = id !== screen;
  }
}

function setSession(text: string, tone: SessionTone): void {
  byId("status-session").textContent = text;
  byId("status-session-dot").className = `dot dot--${tone}`;
}

function render(info: ShellInfo): void {
  byId("status-version").textContent = `Agent Shell ${info.version}`;
  byId("status-environment").textContent = info.environmentLabel ?? "Not configured";
  byId("status-demo").hidden = !info.demo;

  switch (info.status) {
    case "configured":
      byId("sign-in-environment").textContent = info.environmentLabel ?? "—";
      setSession("Signed out", "idle");
      showScreen("sign-in");
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

async function start(): Promise<void> {
  try {
    render(await getShellInfo());
  } catch (error) {
    // Never a white screen: even a broken IPC bridge ends on a readable error card.
    byId("config-error-message").textContent = isIpcError(error) ? error.message : String(error);
    byId("config-error-code").textContent = isIpcError(error) ? error.code : "ipc_failed";
    setSession("Error", "error");
    showScreen("config-error");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  void start();
});
