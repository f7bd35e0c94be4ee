// Commands are declared in an app manifest so each one needs an explicit permission, and the
// capability files live in src-tauri/ even though the package root is the repository root.
const COMMANDS: &[&str] = &[
    "get_shell_info",
    "get_session",
    "start_sign_in",
    "cancel_sign_in",
    "sign_out",
    "refresh_session",
    "report_token_expiring",
    "report_auth_error",
    "get_embed_credentials",
    "report_client_event",
    "copy_diagnostics",
    "confirm_exit",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri build step failed: {error:#}");
    }
}
