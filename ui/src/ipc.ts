// The only module that calls into Rust. Types mirror src-tauri/src/{state,session}.rs and
// src-tauri/core/src/auth.rs; a change there must be made here too. ui/test/ipcShapes.test.ts
// checks them against samples the Rust types produce (src-tauri/fixtures/ipc-shapes.json).
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** Errors from Rust always arrive as a stable code plus a human message. */
export interface IpcError {
  code: string;
  message: string;
}

export const CONFIG_STATUSES = ["configured", "not-configured", "invalid"] as const;
export type ConfigStatus = (typeof CONFIG_STATUSES)[number];

export interface ShellInfo {
  version: string;
  status: ConfigStatus;
  environmentLabel: string | null;
  localEmulator: boolean;
  demo: boolean;
  configPath: string | null;
  configOrigin: string | null;
  searchedPaths: string[];
  redirectUris: string[];
  configError: IpcError | null;
  clientUrl: string | null;
  clientOrigins: string[];
  /** `embed.start_timeout_secs` in ms: no session-start by then means a problem is shown. */
  clientStartTimeoutMs: number;
  /** `embed.show_queue_position`: "N of M" in the status bar only when on. */
  showQueuePosition: boolean;
}

export interface EmbedSettings {
  showQueuePosition: boolean;
  showCallControls: boolean;
  allowTransfer: boolean;
  allowPark: boolean;
  allowConference: boolean;
}

/** Posted to the embedded client only (never stored, never logged). */
export interface EmbedCredentials {
  accessToken: string;
  environment: string;
  clientId: string;
  embeddedClientSettings: EmbedSettings;
}

export const PHASES = [
  "signed-out",
  "restoring",
  "signing-in",
  "signed-in",
  "refreshing",
  "relogin-required",
] as const;
export type Phase = (typeof PHASES)[number];

export interface UserInfo {
  id: string;
  name: string | null;
  email: string | null;
}

export interface Notice {
  code: string;
  message: string;
}

/** The session as the UI sees it: never a refresh token. */
export interface SessionView {
  phase: Phase;
  user: UserInfo | null;
  expiresAtMs: number | null;
  refreshable: boolean;
  persisted: boolean;
  notice: Notice | null;
}

export interface SignInStarted {
  url: string;
  redirectUri: string;
  browserOpened: boolean;
  browserError: string | null;
  /** Why this sign-in does not use the configured redirect (deep link not reaching the app). */
  redirectNote: string | null;
}

export const SESSION_CHANGED = "session://changed";
export const LINK_EVENT = "shell://link";

/** What became of a link the embedded client tried to open (mirrors `LinkOutcome` in Rust). */
export interface LinkOutcome {
  opened: boolean;
  host: string | null;
  code: string | null;
  message: string;
}

export function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Record<string, unknown>)["code"] === "string" &&
    typeof (value as Record<string, unknown>)["message"] === "string"
  );
}

/** Words for any failure, for logs and notices ("[object Object]" helps nobody). */
export function describeError(error: unknown): string {
  if (isIpcError(error)) {
    return `${error.message} (${error.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}

function toIpcError(error: unknown): IpcError {
  if (isIpcError(error)) {
    return error;
  }
  return { code: "ipc_failed", message: String(error) };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toIpcError(error);
  }
}

export const getShellInfo = (): Promise<ShellInfo> => call<ShellInfo>("get_shell_info");
export const getSession = (): Promise<SessionView> => call<SessionView>("get_session");
export const startSignIn = (): Promise<SignInStarted> => call<SignInStarted>("start_sign_in");
export const cancelSignIn = (): Promise<void> => call<void>("cancel_sign_in");
export const signOut = (): Promise<SessionView> => call<SessionView>("sign_out");
export const refreshSession = (): Promise<SessionView> => call<SessionView>("refresh_session");
/** The parsed token-expiring message: Rust parses it again before it may renew. */
export const reportTokenExpiring = (event: unknown): Promise<SessionView> =>
  call<SessionView>("report_token_expiring", { event });
export const getEmbedCredentials = (): Promise<EmbedCredentials> =>
  call<EmbedCredentials>("get_embed_credentials");

export const reportClientEvent = (event: unknown): Promise<void> =>
  call<void>("report_client_event", { event });

export function onLinkOutcome(handler: (outcome: LinkOutcome) => void): Promise<UnlistenFn> {
  return listen<LinkOutcome>(LINK_EVENT, (event) => handler(event.payload));
}

export function onSessionChanged(handler: (view: SessionView) => void): Promise<UnlistenFn> {
  return listen<SessionView>(SESSION_CHANGED, (event) => handler(event.payload));
}
