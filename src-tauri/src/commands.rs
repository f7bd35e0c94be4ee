//! Tauri commands: deserialise, call the core, map errors. Nothing else lives here.

use tauri::State;

use crate::state::{ShellInfo, ShellState};

#[tauri::command]
pub fn get_shell_info(state: State<'_, ShellState>) -> ShellInfo {
    state.info()
}
