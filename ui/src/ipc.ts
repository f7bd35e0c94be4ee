// The only module that calls into Rust. Types mirror src-tauri/src/{state,session}.rs and
// src-tauri/core/src/session/auth.rs; a change there must be made here too. ui/test/ipcShapes.test.ts
// checks them against samples the Rust types produce (src-tauri/fixtures/ipc-shapes.json).
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** Every code Rust can send (src-tauri/core/src/error.rs, `Code`): one list, checked against
 * the samples Rust writes. The page switches on these, never on words. */
export const CODES = [
  "config_not_found",
  "config_unreadable",
  "config_syntax",
  "config_missing_key",
  "config_conflict",
  "config_unknown_environment",
  "config_wildcard_origin",
  "config_insecure_endpoint",
  "config_invalid_url",
  "config_missing_scope",
  "config_invalid_value",
  "csp_unsafe_source",
  "not_configured",
  "callback_oversize",
  "callback_malformed",
  "callback_foreign_scheme",
  "callback_wrong_path",
  "callback_missing_param",
  "callback_duplicate_param",
  "callback_bad_param",
  "sign_in_already_pending",
  "sign_in_not_pending",
  "sign_in_timed_out",
  "sign_in_state_mismatch",
  "sign_in_refused",
  "sign_in_bad_endpoint",
  "loopback_port_busy",
  "loopback_timed_out",
  "loopback_cancelled",
  "user_lookup_failed",
  "superseded",
  "token_network",
  "token_timeout",
  "token_server_unavailable",
  "token_invalid_grant",
  "token_client_rejected",
  "token_invalid_scope",
  "token_refused",
  "token_malformed_response",
  "token_missing_scopes",
  "not_signed_in",
  "no_refresh_token",
  "session_expired",
  "session_ending",
  "session_ended",
  "revocation_unconfirmed",
  "keychain_unavailable",
  "keychain_failed",
  "keychain_corrupt",
  "keychain_timeout",
  "embed_message_invalid",
  "embed_message_unknown",
  "link_invalid",
  "link_not_https",
  "link_has_credentials",
  "link_host_not_allowed",
  "browser_unavailable",
  "ipc_failed",
  "config_policy_only",
  "renewal_deferred",
] as const;
export type Code = (typeof CODES)[number];

/** Errors from Rust always arrive as a stable code plus a human message (the same shape as a
 * session notice). */
export interface IpcError {
  code: Code;
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
  /** This build includes the emulator (`agent-shell demo`); shipped builds do not. */
  demoAvailable: boolean;
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
  /** Settings locked by machine policy: "managed by your organization". */
  managedKeys: string[];
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
  /** When the access token expires (ms since the Unix epoch), for the client's own timer. */
  expiresAt: number | null;
  environment: string;
  /** `https://api.{env}` (or the emulator's): where the agent client sends REST calls. */
  apiBase: string;
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

/** A session notice: the same shape as an error. */
export type Notice = IpcError;

/** The session as the UI sees it: never a refresh token. */
export interface SessionView {
  phase: Phase;
  user: UserInfo | null;
  expiresAtMs: number | null;
  refreshable: boolean;
  persisted: boolean;
  notice: Notice | null;
}

/** What the engine did about an auth-error (src-tauri/core/src/session/auth.rs, AuthErrorAction). */
export const AUTH_ERROR_ACTIONS = ["renewed", "renewal-running", "report"] as const;
export type AuthErrorAction = (typeof AUTH_ERROR_ACTIONS)[number];

export interface AuthErrorOutcome {
  action: AuthErrorAction;
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
  code: Code | null;
  message: string;
}

export function isCode(value: unknown): value is Code {
  return typeof value === "string" && (CODES as readonly string[]).includes(value);
}

export function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === "object" &&
    value !== null &&
    isCode((value as Record<string, unknown>)["code"]) &&
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
/** The parsed auth-error message: Rust parses it again and decides what happens. */
export const reportAuthError = (event: unknown): Promise<AuthErrorOutcome> =>
  call<AuthErrorOutcome>("report_auth_error", { event });
export const getEmbedCredentials = (): Promise<EmbedCredentials> =>
  call<EmbedCredentials>("get_embed_credentials");

export const reportClientEvent = (event: unknown): Promise<void> =>
  call<void>("report_client_event", { event });

/** What "Copy diagnostics" did; `text` is there to copy by hand when `copied` is false. */
export interface DiagnosticsCopy {
  copied: boolean;
  text: string;
}

/** "Copy diagnostics": the doctor's report, configuration sources and recent logs, scrubbed,
 * put on the clipboard by Rust. */
export const copyDiagnostics = (): Promise<DiagnosticsCopy> => call<DiagnosticsCopy>("copy_diagnostics");

/** Asked by Rust when the window is closed or Quit is chosen during an interaction; the
 * payload says which ("close" or "quit"). The answer is `confirmExit()` or nothing. */
export const CONFIRM_EXIT_EVENT = "shell://confirm-exit";

export const confirmExit = (): Promise<void> => call<void>("confirm_exit");

export function onConfirmExit(handler: (source: string) => void): Promise<UnlistenFn> {
  return listen<string>(CONFIRM_EXIT_EVENT, (event) => handler(event.payload));
}

export function onLinkOutcome(handler: (outcome: LinkOutcome) => void): Promise<UnlistenFn> {
  return listen<LinkOutcome>(LINK_EVENT, (event) => handler(event.payload));
}

export function onSessionChanged(handler: (view: SessionView) => void): Promise<UnlistenFn> {
  return listen<SessionView>(SESSION_CHANGED, (event) => handler(event.payload));
}
