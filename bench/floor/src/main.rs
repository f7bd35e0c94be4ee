//! The bench's floor (scripts/bench.sh): the smallest Tauri app on the same Tauri and webview
//! as Agent Shell. One window, a static page whose script calls `ready`, which prints
//! `floor page ready` and shows the window; nothing else. Agent Shell's start and memory are
//! read against it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// The window is built hidden and shown once its page runs, as Agent Shell's is: shown
/// earlier, WebKitGTK without compositing stalls for up to 500 ms (docs/benchmarks.md).
#[tauri::command]
fn ready(window: tauri::WebviewWindow) {
    eprintln!("floor page ready");
    if let Err(error) = window.show() {
        eprintln!("agent-shell-floor: the window does not show: {error}");
    }
}

fn main() -> std::process::ExitCode {
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!());
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("agent-shell-floor: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
