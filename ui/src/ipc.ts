// The only module that calls into Rust. Types mirror src-tauri/src/commands.rs.
import { invoke } from "@tauri-apps/api/core";

/** Errors from Rust always arrive as a stable code plus a human message. */
export interface IpcError {
  code: string;
  message: string;
}

export type ConfigStatus = "configured" | "not-configured" | "invalid";

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
}

export function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Record<string, unknown>)["code"] === "string" &&
    typeof (value as Record<string, unknown>)["message"] === "string"
  );
}

function toIpcError(error: unknown): IpcError {
  if (isIpcError(error)) {
    return error;
  }
  return { code: "ipc_failed", message: String(error) };
}

export async function getShellInfo(): Promise<ShellInfo> {
  try {
    return await invoke<ShellInfo>("get_shell_info");
  } catch (error) {
    throw toIpcError(error);
  }
}
