//! The bench's floor (scripts/bench.sh): the smallest Tauri app on the same Tauri and webview
//! as Agent Shell. One window, a static page whose script calls `ready`, which prints
//! `floor page ready`; nothing else. Agent Shell's start and memory are read against it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[tauri::command]
fn ready() {
    eprintln!("floor page ready");
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
