//! The command line, run as a real process: exit codes and messages an admin relies on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn agent_shell(args: &[&str], home: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agent-shell"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("AGENT_SHELL_CONFIG")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn without_a_display_demo_says_how_to_run_it_instead_of_crashing() {
    let home = tempfile::tempdir().unwrap();
    let out = agent_shell(&["demo"], home.path());
    if !cfg!(feature = "demo") {
        // The shipped build: no emulator inside, and it says so.
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("does not include the Genesys Cloud emulator"));
        return;
    }
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no graphical display"), "{stderr}");
    assert!(stderr.contains("xvfb-run -a agent-shell demo"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let plain = agent_shell(&[], home.path());
    assert_eq!(plain.status.code(), Some(3));
}

#[test]
fn config_check_prints_what_the_config_resolves_to() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("c.toml");
    std::fs::write(
        &path,
        "environment = \"mypurecloud.com.au\"\nclient_id = \"abc\"\n",
    )
    .unwrap();
    let out = agent_shell(
        &["config", "check", "--config", path.to_str().unwrap()],
        home.path(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("environment:     mypurecloud.com.au"),
        "{stdout}"
    );
    assert!(
        stdout.contains("com.agentshell.desktop:/oauth/callback"),
        "{stdout}"
    );
    assert!(
        stdout.contains("http://127.0.0.1:47615/oauth/callback"),
        "{stdout}"
    );
    assert!(
        stdout.contains("frame-src agent-client://localhost"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "connect-src https://api.mypurecloud.com.au wss://streaming.mypurecloud.com.au"
        ),
        "{stdout}"
    );
}

#[test]
fn config_check_reports_invalid_and_missing_files_with_distinct_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let bad = home.path().join("bad.toml");
    std::fs::write(&bad, "environment = \"mypurecloud.com\"\nclient_id = \"abc\"\n[endpoints]\napi = \"https://*.mypurecloud.com\"\n").unwrap();
    let out = agent_shell(
        &["config", "check", "--config", bad.to_str().unwrap()],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    // Where tokens go is machine policy, never the user's file (wildcard or not).
    assert!(stderr.contains("error[config_policy_only]"), "{stderr}");
    assert!(stderr.contains("`endpoints.api`"), "{stderr}");
    std::fs::write(&bad, "environment = \"mypurecloud.com\"\nclient_id = \"abc\"\n[links]\nallowed_hosts = [\"*\"]\n").unwrap();
    let out = agent_shell(
        &["config", "check", "--config", bad.to_str().unwrap()],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.toml"), "the file is named: {stderr}");

    let out = agent_shell(&["config", "check"], home.path());
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(".config/agent-shell/config.toml"));

    let user_file = home.path().join(".config/agent-shell/config.toml");
    std::fs::create_dir_all(user_file.parent().unwrap()).unwrap();
    std::fs::write(
        &user_file,
        "environment = \"mypurecloud.de\"\nclient_id = \"abc\"\n",
    )
    .unwrap();
    let out = agent_shell(&["config", "check"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("from the user config directory"));
}

#[test]
fn environment_variable_names_the_file_and_cli_flag_beats_it() {
    let home = tempfile::tempdir().unwrap();
    let via_env = home.path().join("env.toml");
    std::fs::write(
        &via_env,
        "environment = \"mypurecloud.jp\"\nclient_id = \"abc\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agent-shell"))
        .args(["config", "check"])
        .env("HOME", home.path())
        .env("AGENT_SHELL_CONFIG", &via_env)
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("mypurecloud.jp"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("(from AGENT_SHELL_CONFIG)"));
}

#[test]
fn unknown_arguments_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let out = agent_shell(&["--no-such-flag"], home.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_redirect_with_other_arguments_is_refused_before_anything_is_parsed() {
    let home = tempfile::tempdir().unwrap();
    let evil = home.path().join("evil.toml");
    std::fs::write(
        &evil,
        "environment = \"mypurecloud.ie\"\nclient_id = \"x\"\n",
    )
    .unwrap();
    for args in [
        vec![
            "com.agentshell.desktop:/oauth/callback?code=a&state=b",
            "--config",
            evil.to_str().unwrap(),
        ],
        vec![
            "--config",
            evil.to_str().unwrap(),
            "com.agentshell.desktop:/oauth/callback?code=a&state=b",
        ],
    ] {
        let out = agent_shell(&args, home.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("must be the only argument"), "{stderr}");
        assert!(
            !stderr.contains("code=a"),
            "the redirect is never echoed: {stderr}"
        );
    }
}

/// A running emulator (on its own runtime, kept alive by the returned handles) and a config
/// file for it in `home`.
fn emulator_config(
    home: &std::path::Path,
) -> (
    tokio::runtime::Runtime,
    genesys_emulator::RunningEmulator,
    std::path::PathBuf,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime
        .block_on(genesys_emulator::start(
            genesys_emulator::EmulatorConfig::default(),
        ))
        .unwrap();
    let urls = emulator.urls();
    let config = home.join("c.toml");
    std::fs::write(
        &config,
        format!(
            "client_id = \"{}\"\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\n",
            genesys_emulator::DEMO_CLIENT_ID,
            urls.login,
            urls.api,
            urls.media
        ),
    )
    .unwrap();
    (runtime, emulator, config)
}

fn doctor_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

fn doctor_check(report: &serde_json::Value, id: &str) -> serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no check {id}: {report:#}"))
}

/// The exit code follows the checks: 1 when any failed, 0 otherwise.
fn assert_exit_matches(out: &Output, report: &serde_json::Value) {
    let any_failed = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["status"] == "fail");
    assert_eq!(
        out.status.code(),
        Some(if any_failed { 1 } else { 0 }),
        "{report:#}"
    );
}

#[test]
fn doctor_shows_how_the_deep_link_scheme_resolves_and_the_fix() {
    let home = tempfile::tempdir().unwrap();
    let (_runtime, _emulator, config) = emulator_config(home.path());
    let doctor = |json: bool| {
        let mut args = vec!["doctor", "--config", config.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        Command::new(env!("CARGO_BIN_EXE_agent-shell"))
            .args(&args)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("XDG_DATA_HOME", home.path().join(".local/share"))
            .env("XDG_DATA_DIRS", home.path().join("system"))
            .env_remove("WEBKIT_DISABLE_COMPOSITING_MODE")
            .output()
            .unwrap()
    };
    // Nothing registered yet: the xdg-open route fails, with the one-line fix.
    let out = doctor(false);
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}{}", text(&out.stderr));
    assert!(table.contains("FAIL  deep_link.xdg_open"), "{table}");
    assert!(
        table.contains("fix: sudo apt-get install desktop-file-utils xdg-utils && xdg-mime default agent-shell-handler.desktop x-scheme-handler/com.agentshell.desktop"),
        "{table}"
    );
    assert!(table.contains("tauri://localhost"), "{table}");
    // The emulator answers the network checks like Genesys would for a healthy org.
    for id in [
        "network.login_host",
        "oauth.authorize",
        "embedding.cors_preflight",
        "csp",
    ] {
        assert!(table.contains(&format!("ok    {id}")), "{id}: {table}");
    }

    // Registered the way the app does at start: both routes lead to this binary.
    let dirs = agent_shell_core::platform::desktop::XdgDirs {
        data_home: home.path().join(".local/share"),
        config_home: home.path().join(".config"),
        data_dirs: vec![home.path().join("system")],
    };
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_agent-shell"));
    let registration =
        agent_shell_core::platform::desktop::register("com.agentshell.desktop", &binary, &dirs);
    assert!(registration.xdg.resolves(), "{:?}", registration);
    let out = doctor(true);
    let report = doctor_json(&out);
    assert_exit_matches(&out, &report);
    // The compositing rule as this desktop applies it (the default, auto).
    let compositing = doctor_check(&report, "webview.compositing");
    assert_eq!(compositing["status"], "pass", "{compositing}");
    let evidence = compositing["evidence"].as_str().unwrap();
    assert!(evidence.starts_with("auto: compositing "), "{evidence}");
    for id in ["deep_link.xdg_open", "deep_link.gio"] {
        let found = doctor_check(&report, id);
        assert_eq!(found["status"], "pass", "{found}");
        let evidence = found["evidence"].as_str().unwrap();
        assert!(
            evidence.contains("agent-shell-handler.desktop"),
            "{evidence}"
        );
        assert!(evidence.contains(binary.to_str().unwrap()), "{evidence}");
    }

    // The default browser, read through xdg-mime: Brave, with no policy on this machine
    // (/etc/brave/policies), will ask before opening the sign-in link; doctor says how not to.
    let browser_check = doctor_check(&report, "browser.scheme_prompt");
    assert_eq!(
        browser_check["status"], "pass",
        "no browser set: {browser_check}"
    );
    agent_shell_test_kit::desktop::set_default_browser(
        &dirs.data_home,
        &dirs.config_home,
        "brave-browser.desktop",
        "Brave",
        "brave",
    );
    let report = doctor_json(&doctor(true));
    let browser_check = doctor_check(&report, "browser.scheme_prompt");
    assert_eq!(browser_check["status"], "warn", "{browser_check}");
    let evidence = browser_check["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("Brave (brave-browser.desktop) will ask"),
        "{evidence}"
    );
    let fix = browser_check["fix"].as_str().unwrap();
    assert!(
        fix.contains("AutoLaunchProtocolsFromOrigins") && fix.contains("com.agentshell.desktop"),
        "{fix}"
    );
}

#[test]
fn doctor_reports_an_absent_keychain_and_a_wrong_client_with_their_fixes() {
    let home = tempfile::tempdir().unwrap();
    let (_runtime, _emulator, config) = emulator_config(home.path());
    let text_config = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text_config.replace(genesys_emulator::DEMO_CLIENT_ID, "someone-elses-client"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_agent-shell"))
        .args(["doctor", "--json", "--config", config.to_str().unwrap()])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        // No Secret Service: a session bus that is not there.
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", home.path().join("no-bus").display()),
        )
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    let report = doctor_json(&out);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let keychain = doctor_check(&report, "keychain");
    assert_eq!(keychain["status"], "fail", "{keychain}");
    assert!(
        keychain["fix"].as_str().unwrap().contains("gnome-keyring"),
        "{keychain}"
    );
    let authorize = doctor_check(&report, "oauth.authorize");
    assert_eq!(authorize["status"], "fail", "{authorize}");
    assert!(
        authorize["evidence"]
            .as_str()
            .unwrap()
            .contains("unknown client_id"),
        "{authorize}"
    );
}

#[test]
fn doctor_bundle_writes_the_report_and_recent_logs_scrubbed() {
    let home = tempfile::tempdir().unwrap();
    let (_runtime, _emulator, config) = emulator_config(home.path());
    // A log file as an older version might have left it: a code and an e-mail address in it.
    let logs = home.path().join(".local/state/agent-shell/logs");
    std::fs::create_dir_all(&logs).unwrap();
    let code = "q3J0h8vO1yA9ZkPz_x-7LmN2bC4dE5fG6hI7jK8lM9n";
    std::fs::write(
        logs.join("agent-shell.2026-11-30.log"),
        format!("INFO redirect code={code} for agent@example.com\nINFO renewed\n"),
    )
    .unwrap();
    let bundle = home.path().join("diagnostics.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_agent-shell"))
        .args([
            "doctor",
            "--config",
            config.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
        ])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env_remove("XDG_STATE_HOME")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Diagnostics written to"), "{stderr}");
    let text = std::fs::read_to_string(&bundle).unwrap();
    for expected in [
        "Agent Shell diagnostics",
        "Client id",
        "agent-shell-demo",
        "oauth.authorize",
        "INFO renewed",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert!(!text.contains(code), "{text}");
    assert!(!text.contains("agent@example.com"), "{text}");
    assert!(text.contains("code=[redacted] for [email]"), "{text}");
}

/// `agent-shell cleanup`: a dry run lists and keeps; the real run removes every saved sign-in
/// (the configuration's and an earlier one's, from the real Secret Service), the start-at-login
/// entry, the scheme handler and only its association, the logs and the webview data, and keeps
/// the configuration file; a second run finds nothing.
#[test]
#[ignore = "needs a Secret Service: run through scripts/test.sh"]
fn cleanup_removes_this_users_leftovers_and_keeps_the_configuration() {
    use agent_shell_core::platform::keychain::{KeyringStore, SecretStore};
    use agent_shell_core::secret::RefreshToken;

    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let unique = format!("{}-{}", std::process::id(), h.display().to_string().len());
    let config_path = h.join("agent-shell.toml");
    std::fs::write(
        &config_path,
        format!("environment = \"mypurecloud.ie\"\nclient_id = \"cleanup-{unique}\"\n"),
    )
    .unwrap();
    let config =
        agent_shell_core::config::parse_str(&std::fs::read_to_string(&config_path).unwrap())
            .unwrap();
    let current = KeyringStore::for_account(&config.keychain_account());
    let earlier = KeyringStore::for_account(&format!("mypurecloud.de/earlier-{unique}"));
    current.save(&RefreshToken::new("r-current")).unwrap();
    earlier.save(&RefreshToken::new("r-earlier")).unwrap();

    let files = [
        h.join(".config/autostart/Agent Shell.desktop"),
        h.join("data/applications/agent-shell-handler.desktop"),
        h.join("state/agent-shell/logs/agent-shell.log"),
        h.join("data/com.agentshell.desktop/WebKitCache/x"),
        h.join("cache/com.agentshell.desktop/x"),
    ];
    for file in &files {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "x\n").unwrap();
    }
    let mimeapps = h.join(".config/mimeapps.list");
    std::fs::write(
        &mimeapps,
        "[Default Applications]\nx-scheme-handler/com.agentshell.desktop=agent-shell-handler.desktop\nx-scheme-handler/https=firefox.desktop\n",
    )
    .unwrap();
    let cleanup = |extra: &[&str]| {
        let mut args = vec!["cleanup", "--config", config_path.to_str().unwrap()];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_agent-shell"))
            .args(&args)
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join(".config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_STATE_HOME", h.join("state"))
            .env("XDG_CACHE_HOME", h.join("cache"))
            .env_remove("AGENT_SHELL_CONFIG")
            .output()
            .unwrap()
    };

    let dry = cleanup(&["--dry-run"]);
    let listed = text(&dry.stdout);
    assert_eq!(dry.status.code(), Some(0), "{listed}{}", text(&dry.stderr));
    assert!(listed.contains("dry run: nothing was removed"), "{listed}");
    assert!(listed.contains(&format!("earlier-{unique}")), "{listed}");
    assert!(
        files.iter().all(|f| f.exists()),
        "a dry run keeps everything"
    );
    assert!(current.load().unwrap().is_some());

    let run = cleanup(&[]);
    let out = text(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{out}{}", text(&run.stderr));
    for file in &files {
        assert!(!file.exists(), "{} is left: {out}", file.display());
    }
    assert!(current.load().unwrap().is_none(), "{out}");
    assert!(earlier.load().unwrap().is_none(), "{out}");
    assert_eq!(
        std::fs::read_to_string(&mimeapps).unwrap(),
        "[Default Applications]\nx-scheme-handler/https=firefox.desktop\n",
        "only our association goes"
    );
    assert!(config_path.exists(), "the configuration file is kept");

    let again = cleanup(&[]);
    let out = text(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{out}");
    assert!(!out.contains("removed"), "nothing left to remove: {out}");
}

/// A start-at-login entry runs `agent-shell --autostart`. With autostart off (a machine-wide
/// entry installed for everyone, a per-user one left behind) the app quits at once, before any
/// window, and removes the user's own entry; with it on, it goes on to open the window.
#[test]
fn an_autostart_launch_quits_unless_autostart_is_on() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("c.toml");
    let entry = home.path().join(".config/autostart/Agent Shell.desktop");
    std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
    let launch = |config_text: &str| {
        std::fs::write(&config, config_text).unwrap();
        Command::new(env!("CARGO_BIN_EXE_agent-shell"))
            .args(["--autostart", "--config", config.to_str().unwrap()])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("XDG_DATA_HOME", home.path().join(".local/share"))
            // No display: a launch that goes on stops at the window with exit 3.
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .unwrap()
    };
    let base = "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n";

    std::fs::write(
        &entry,
        "[Desktop Entry]\nType=Application\nName=Agent Shell\nExec=agent-shell --autostart\n",
    )
    .unwrap();
    let off = launch(base);
    assert_eq!(off.status.code(), Some(0), "{}", text(&off.stderr));
    assert!(!entry.exists(), "the left-behind user entry was removed");

    let on = launch(&format!("{base}[startup]\nautostart = true\n"));
    assert_eq!(on.status.code(), Some(3), "{}", text(&on.stderr));
    assert!(
        text(&on.stderr).contains("no graphical display"),
        "{}",
        text(&on.stderr)
    );

    // A broken configuration goes on too: the agent sees the error screen, not nothing.
    let broken = launch("environment = 1\n");
    assert_eq!(broken.status.code(), Some(3), "{}", text(&broken.stderr));
}
