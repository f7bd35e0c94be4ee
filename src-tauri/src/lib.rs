//! Agent Shell's Tauri edge: CLI dispatch, app setup and thin commands over
//! `agent_shell_core`, which holds the logic.

mod agent_client;
mod browser;
mod cleanup;
pub mod cli;
mod commands;
#[cfg(feature = "demo")]
mod demo;
mod diagnose;
mod edge;
mod exit_guard;
mod handover;
mod ipc_error;
mod ipc_shapes;
mod lock_watch;
mod logging;
pub mod state;
mod tray;
mod window;

use agent_shell_core::embed::csp::{self, CspError};
use tauri::{Builder, Manager, Runtime};

use crate::state::ShellState;

/// Label of the one window (capabilities are granted to it by this name).
pub const MAIN_WINDOW: &str = "main";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Csp(#[from] CspError),
    #[error("the window system could not be started: {0}")]
    Tauri(#[from] tauri::Error),
    #[error("the window system could not be started: {0} (is the display reachable?)")]
    DisplayInit(String),
    #[cfg(feature = "demo")]
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
}

/// Registers plugins (single-instance first, so a second launch forwards its deep link and
/// exits before anything else starts), state and commands. Generic over the runtime so it can
/// be built on a mock runtime.
pub fn build_app<R: Runtime>(builder: Builder<R>, state: ShellState) -> Builder<R> {
    builder
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            // argv may carry an authorization code: log its size, never its contents.
            tracing::info!(
                args = argv.len(),
                "second launch forwarded to this instance"
            );
            focus_main_window(app);
            route_forwarded_args(app, &argv);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(
            tauri_plugin_opener::Builder::new()
                .open_js_links_on_click(false)
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .register_uri_scheme_protocol(
            agent_shell_core::config::AGENT_CLIENT_SCHEME,
            agent_client::handle,
        )
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::get_shell_info,
            commands::get_session,
            commands::start_sign_in,
            commands::cancel_sign_in,
            commands::sign_out,
            commands::refresh_session,
            commands::report_token_expiring,
            commands::report_auth_error,
            commands::get_embed_credentials,
            commands::report_client_event,
            commands::copy_diagnostics,
            commands::confirm_exit
        ])
        .on_window_event(|window, event| {
            // Closing the window hides it to the tray when policy says so; otherwise, during
            // an interaction, it asks first (exit_guard).
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                if window.label() != MAIN_WINDOW {
                    return;
                }
                let app = window.app_handle();
                let to_tray = app
                    .state::<ShellState>()
                    .config()
                    .is_some_and(|c| c.close_to_tray);
                if to_tray {
                    api.prevent_close();
                    if let Err(error) = window.hide() {
                        tracing::warn!(%error, "could not hide the window to the tray");
                    }
                } else if exit_guard::interaction_active(app) {
                    api.prevent_close();
                    exit_guard::request_exit(app, "close");
                }
            }
        })
        .setup(|app| {
            window::create_main_window(app.handle())?;
            tracing::info!(phase = "window", "start phase");
            tray::install(app.handle());
            tracing::info!(phase = "tray", "start phase");
            setup(app.handle());
            Ok(())
        })
}

/// Starts the session engine with this app as its edge: silent start, the keep-alive loop, the
/// cold-start deep link, and (macOS) open-url events.
fn setup<R: Runtime>(app: &tauri::AppHandle<R>) {
    use agent_shell_core::session::engine::SessionEngine;
    let state = app.state::<ShellState>();
    let Some(auth) = state.auth.clone() else {
        return;
    };
    let edge = edge::TauriEdge::new(app.clone(), state.links.clone());
    let crm = agent_shell_core::embed::links::CrmHook::for_config(auth.config());
    let engine = SessionEngine::new(auth.clone(), crm, std::sync::Arc::new(edge));
    state.set_engine(engine.clone());
    #[cfg(windows)]
    {
        use tauri_plugin_deep_link::DeepLinkExt;
        // Registers the scheme for this user when the installer did not (dev runs, portable use).
        if let Err(error) = app
            .deep_link()
            .register(&auth.config().redirect.deep_link_scheme)
        {
            tracing::warn!(%error, "could not register the deep-link scheme");
        }
    }
    #[cfg(target_os = "linux")]
    register_linux_scheme(auth.clone());
    if !state.demo {
        sync_autostart(app, auth.config().autostart);
    }
    #[cfg(unix)]
    if auth.config().forget_at_quit {
        quit_on_termination(app);
    }
    if auth.config().sign_out_on_lock {
        lock_watch::start(engine.clone());
    }
    #[cfg(target_os = "macos")]
    {
        use tauri_plugin_deep_link::DeepLinkExt;
        let for_events = engine.clone();
        app.deep_link().on_open_url(move |event| {
            for url in event.urls() {
                deep_link(&for_events, url.to_string());
            }
        });
        if let Ok(Some(urls)) = app.deep_link().get_current() {
            for url in urls {
                deep_link(&engine, url.to_string());
            }
        }
    }
    // Begun when the app was built (run_gui); begun here only if that did not happen.
    let started = state
        .take_silent_start()
        .unwrap_or_else(|| auth.begin_silent_start(tauri::async_runtime::handle().inner()));
    // The launch spawns its work on tokio: start it from inside the async runtime.
    let redirect = state.launch_redirect.clone();
    tauri::async_runtime::spawn(async move { engine.launch(started, redirect) });
    tracing::info!(phase = "setup", "start phase");
}

/// With `[session] forget_at_quit`, a termination signal (the desktop session ending, a service
/// manager, Ctrl+C) quits the app the ordinary way, so the sign-out at quit runs
/// (exit_guard::hold_exit_to_forget) instead of the process just ending.
#[cfg(unix)]
fn quit_on_termination<R: Runtime>(app: &tauri::AppHandle<R>) {
    use tokio::signal::unix::{signal, SignalKind};
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut hangup), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("forget_at_quit: termination signals cannot be watched");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hangup.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("termination signal: quitting");
        app.exit(0);
    });
}

/// Makes start-at-login match the configuration off the main thread (nothing the first screen
/// needs). The demo never touches it.
fn sync_autostart<R: Runtime>(app: &tauri::AppHandle<R>, wanted: bool) {
    let name = app.package_info().name.clone();
    std::thread::spawn(move || sync_user_autostart(&name, wanted));
}

/// The per-user start-at-login entry: on when `[startup] autostart` (policy `Autostart`) says
/// so, off otherwise, so removing the policy removes the entry; and off while a machine-wide
/// entry (installed by the .deb, the MSI with `AUTOSTART=1`, or an MDM's launch agent) starts
/// the app for everyone, so it never starts twice. The entry names the program quoted (a path
/// with spaces is one program), and is rewritten at every start while wanted, so an entry an
/// older version wrote unquoted is corrected.
pub(crate) fn sync_user_autostart(name: &str, wanted: bool) {
    use agent_shell_core::platform::autostart::{user_entry, UserEntry};
    let machine = machine_autostart_entry();
    let result = autostart_launcher(name).and_then(|launcher| {
        let exists = launcher.is_enabled().map_err(|e| e.to_string())?;
        match user_entry(wanted, machine.is_some(), exists) {
            UserEntry::Enable => launcher.enable().map(|()| "enabled"),
            UserEntry::Disable => launcher.disable().map(|()| "disabled"),
            UserEntry::Unchanged => Ok("unchanged"),
        }
        .map_err(|e| e.to_string())
    });
    let machine = machine.as_deref().unwrap_or("none");
    match result {
        Ok(outcome) => tracing::info!(wanted, outcome, machine, "start at login"),
        Err(error) => {
            tracing::warn!(wanted, %error, machine, "start at login could not be changed")
        }
    }
}

/// Where a machine-wide start-at-login entry for every user is, if an installer put one.
pub(crate) fn machine_autostart_entry() -> Option<String> {
    #[cfg(windows)]
    {
        agent_shell_os_calls::machine_run_entry(
            agent_shell_core::platform::autostart::WINDOWS_RUN_VALUE,
        )
    }
    #[cfg(not(windows))]
    {
        agent_shell_core::platform::autostart::machine_entry_file(std::path::Path::new("/"))
            .map(|path| path.display().to_string())
    }
}

/// The OS's start-at-login entry for this program (XDG autostart file, HKCU Run value, or a
/// macOS launch agent), with the program path quoted as each needs.
pub(crate) fn autostart_launcher(name: &str) -> Result<auto_launch::AutoLaunch, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe = exe.display().to_string();
    let program = if cfg!(target_os = "macos") {
        // A launch agent's ProgramArguments is an array: no quoting.
        exe
    } else {
        agent_shell_core::platform::desktop::autostart_program(&exe, cfg!(windows))
    };
    auto_launch::AutoLaunchBuilder::new()
        .set_app_name(name)
        .set_app_path(&program)
        .set_args(&[agent_shell_core::platform::autostart::AUTOSTART_FLAG])
        .build()
        .map_err(|e| e.to_string())
}

/// WebKitGTK composites in software where there is no GPU (VDI desktops, Xvfb): with
/// `[webview] compositing = "auto"` (the default) it is turned off there, which saves about
/// 110 MB in the web process; on a desktop with a GPU it stays on. `on` leaves WebKit alone.
/// Set before WebKit starts its processes.
#[cfg(target_os = "linux")]
fn apply_compositing_rule(config: Option<&agent_shell_core::config::ShellConfig>) {
    const VARIABLE: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    let setting = config.map(|c| c.compositing).unwrap_or_default();
    let forced_by_env = std::env::var_os(VARIABLE).is_some();
    let gpu = agent_shell_core::platform::gpu::this_machine_has_one();
    let disable = setting.disable(gpu, forced_by_env);
    if disable {
        std::env::set_var(VARIABLE, "1");
    }
    tracing::info!(?setting, gpu, forced_by_env, disable, "webview compositing");
}

/// Hands a deep link to the engine from outside a command (its effects go through the edge).
fn deep_link(
    engine: &std::sync::Arc<agent_shell_core::session::engine::SessionEngine>,
    url: String,
) {
    let engine = engine.clone();
    tauri::async_runtime::spawn(async move { engine.deep_link(&url).await });
}

/// Registers the deep-link scheme for this user in a form both xdg-open and gio can run (the
/// plugin's entry has a quoted Exec that xdg-open cannot), reads it back the way xdg-open
/// will, and tells the session engine, which falls back to the loopback redirect when it does
/// not resolve. Runs off the main thread: it starts a few small programs.
#[cfg(target_os = "linux")]
fn register_linux_scheme(auth: std::sync::Arc<agent_shell_core::session::auth::AuthService>) {
    use agent_shell_core::platform::desktop;
    use agent_shell_core::session::auth::DeepLinkCheck;
    auth.set_deep_link_check(DeepLinkCheck::Pending);
    std::thread::spawn(move || {
        let scheme = auth.config().redirect.deep_link_scheme.clone();
        let check = match (std::env::current_exe(), desktop::XdgDirs::from_env()) {
            (Ok(exe), Some(dirs)) => {
                let registration = desktop::register(&scheme, &exe, &dirs);
                for warning in &registration.warnings {
                    tracing::warn!(%warning, "deep-link registration");
                }
                // The first thing that went wrong is the cause the agent and IT need to read.
                match registration
                    .xdg
                    .problem
                    .map(|problem| registration.warnings.first().cloned().unwrap_or(problem))
                {
                    None => {
                        tracing::info!(entry = %registration.entry_path.display(), "deep-link scheme registered and resolves to this app");
                        DeepLinkCheck::Works
                    }
                    Some(problem) => {
                        tracing::warn!(%problem, fix = %desktop::fix_command(&scheme), "the deep-link scheme does not resolve to this app");
                        DeepLinkCheck::Broken(problem)
                    }
                }
            }
            (Err(error), _) => {
                DeepLinkCheck::Broken(format!("this program's path is unknown: {error}"))
            }
            (_, None) => DeepLinkCheck::Broken("HOME is not set".into()),
        };
        auth.set_deep_link_check(check);
    });
}

/// Linux and Windows hand a deep link to the second launch as its only argument.
fn route_forwarded_args<R: Runtime>(app: &tauri::AppHandle<R>, argv: &[String]) {
    let state = app.state::<ShellState>();
    let (Some(engine), Some(auth)) = (state.engine(), state.auth.clone()) else {
        return;
    };
    if let Some(url) = agent_shell_core::platform::launch::forwarded_redirect(
        argv,
        &auth.config().redirect.deep_link_scheme,
    ) {
        deep_link(&engine, url);
    }
}

/// Sign-out also forgets cookies and storage the embedded client left in the webview.
pub(crate) fn clear_genesys_browsing_data<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        if let Err(error) = window.clear_all_browsing_data() {
            tracing::warn!(%error, "could not clear webview data at sign-out");
        }
    }
}

pub(crate) fn focus_main_window<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.unminimize();
        // Shown here, it must not be shown again when its page becomes ready.
        app.state::<ShellState>().first_reveal();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Opens the window and runs until it is closed.
pub fn run_gui(state: ShellState) -> Result<(), AppError> {
    #[cfg(target_os = "linux")]
    apply_compositing_rule(state.config());
    let mut context = tauri::generate_context!();
    // The shipped policy (tauri.conf.json) lists every environment; narrow it to the configured
    // one. Emulator loopback origins only ever enter here, in explicit local-emulator mode.
    let policy = csp::for_config(state.config())?;
    tracing::info!(csp = %policy, "content security policy");
    context.config_mut().app.security.csp =
        Some(tauri::utils::config::Csp::Policy(policy.to_string()));

    // GTK panics when the display named by DISPLAY cannot be opened: report it, don't crash.
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        build_app(Builder::default(), state).build(context)
    }));
    let app = match built {
        Ok(app) => {
            let app = app?;
            tracing::info!(phase = "built", "start phase");
            // Built means this is the only instance (a second one has handed over and ended
            // in build): the silent start may begin, overlapping the window's creation.
            let state = app.state::<ShellState>();
            if let Some(auth) = &state.auth {
                state.keep_silent_start(
                    auth.begin_silent_start(tauri::async_runtime::handle().inner()),
                );
            }
            app
        }
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown failure".into());
            return Err(AppError::DisplayInit(reason));
        }
    };
    app.run(|handle, event| {
        // Shared desks (`[session] forget_at_quit`): every way of quitting signs out first.
        if let tauri::RunEvent::ExitRequested { code, api, .. } = event {
            if exit_guard::hold_exit_to_forget(handle, code) {
                api.prevent_exit();
            }
        }
    });
    Ok(())
}
