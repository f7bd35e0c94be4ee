//! Machine policy as IT deploys it: `/etc/agent-shell/policy.toml`, in its real place, read by
//! the real binary. Its own test binary, so nothing else runs while /etc holds a test policy
//! (cargo runs test binaries one after another). It needs to write /etc (root, as in CI): it
//! says so and fails elsewhere rather than pass without checking, and it never replaces a
//! policy file it did not write.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const POLICY: &str = "/etc/agent-shell/policy.toml";

/// The tests take turns with /etc/agent-shell (they run on threads of one binary).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes the policy for the test's length and removes it afterwards, even on a panic.
struct InstalledPolicy(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

impl InstalledPolicy {
    fn install(text: &str) -> Self {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            !Path::new(POLICY).exists(),
            "{POLICY} exists on this machine: not touching a real policy"
        );
        std::fs::create_dir_all("/etc/agent-shell")
            .expect("this test writes /etc/agent-shell (run it as root, as CI does)");
        std::fs::write(POLICY, text).unwrap();
        InstalledPolicy(serial)
    }
}

impl Drop for InstalledPolicy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(POLICY);
        let _ = std::fs::remove_dir("/etc/agent-shell");
    }
}

fn agent_shell(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agent-shell"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("AGENT_SHELL_CONFIG")
        .env_remove("AGENT_SHELL_POLICY")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn machine_policy_configures_locks_keys_and_alone_decides_where_tokens_go() {
    let home = tempfile::tempdir().unwrap();
    let user_dir = home.path().join(".config/agent-shell");
    std::fs::create_dir_all(&user_dir).unwrap();
    let user_file = user_dir.join("config.toml");

    {
        let _policy = InstalledPolicy::install(
            "environment = \"mypurecloud.de\"\nclient_id = \"fleet-client\"\n[sso]\norg = \"acme\"\n",
        );
        // Policy alone configures the machine.
        let out = agent_shell(&["config", "check"], home.path());
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
        assert!(
            stdout.contains("environment:     mypurecloud.de"),
            "{stdout}"
        );
        assert!(stdout.contains("Managed by your organization"), "{stdout}");
        assert!(
            stdout.contains(&format!("client_id: machine policy ({POLICY})")),
            "{stdout}"
        );

        // The agent's own file cannot change a locked key: it is ignored, and said so.
        std::fs::write(
            &user_file,
            "environment = \"mypurecloud.com\"\n[sso]\nprompt_login = true\n",
        )
        .unwrap();
        let out = agent_shell(&["config", "check"], home.path());
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
        assert!(
            stdout.contains("environment:     mypurecloud.de"),
            "{stdout}"
        );
        assert!(
            text(&out.stderr).contains("user setting ignored: managed by your organization"),
            "{}",
            text(&out.stderr)
        );

        // An edited user file trying to send tokens elsewhere is refused, naming file and key.
        std::fs::write(
            &user_file,
            "[endpoints]\ntoken = \"https://evil.example/oauth/token\"\n",
        )
        .unwrap();
        let out = agent_shell(&["config", "check"], home.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("config_policy_only"), "{stderr}");
        assert!(stderr.contains("endpoints.token"), "{stderr}");
        assert!(stderr.contains("config.toml"), "{stderr}");
    }

    {
        // A broken policy never bricks the app: a clear error naming the file and key.
        let _policy =
            InstalledPolicy::install("environment = \"nowhere.example\"\nclient_id = \"x\"\n");
        std::fs::remove_file(&user_file).unwrap();
        let out = agent_shell(&["doctor"], home.path());
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("FAIL  config"), "{stdout}");
        assert!(stdout.contains(POLICY), "{stdout}");
        assert!(stdout.contains("config_unknown_environment"), "{stdout}");
    }
    // Under the lock: the other test may install its own policy as soon as ours is dropped.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!Path::new(POLICY).exists(), "the test policy was removed");
}

/// Version skew: a policy pushed for a newer version (or a misspelt key) reaches a desktop
/// that does not know it. It is ignored and reported by `config check` and doctor, never the
/// error screen; the known keys still apply and lock; names are compared without regard to case.
#[test]
fn an_unknown_policy_name_is_reported_and_harmless() {
    let home = tempfile::tempdir().unwrap();
    {
        let _policy = InstalledPolicy::install(
            "Environment = \"mypurecloud.de\"\nclient_id = \"fleet-client\"\nfuture_setting = true\n[session]\nrefresh_margin_secs = 300\nnew_knob = 5\n",
        );
        let out = agent_shell(&["config", "check"], home.path());
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
        assert!(
            stdout.contains("environment:     mypurecloud.de"),
            "{stdout}"
        );
        assert!(stdout.contains("Ignored policy names"), "{stdout}");
        assert!(
            stdout.contains(&format!("future_setting in {POLICY}")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("session.new_knob in {POLICY}")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "session.refresh_margin_secs: machine policy ({POLICY})"
            )),
            "{stdout}"
        );
        // Logged as a warning, by name only.
        let stderr = text(&out.stderr);
        assert!(stderr.contains("future_setting"), "{stderr}");

        // A known key with a value out of range is still an error naming the file and key;
        // the unknown name next to it is still only reported (doctor, offline: the config
        // fails, so no network check runs).
        std::fs::write(
            POLICY,
            "environment = \"mypurecloud.de\"\nclient_id = \"c\"\nfuture_setting = true\n[session]\nmax_attempts = 9\n",
        )
        .unwrap();
        let out = agent_shell(&["config", "check"], home.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("session.max_attempts"), "{stderr}");
        assert!(stderr.contains(POLICY), "{stderr}");
        assert!(stderr.contains("future_setting"), "{stderr}");

        let out = agent_shell(&["doctor", "--json"], home.path());
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let checks = report["checks"].as_array().unwrap();
        let config = checks.iter().find(|c| c["id"] == "config").unwrap();
        assert_eq!(config["status"], "fail", "{config}");
        assert!(config["evidence"]
            .as_str()
            .unwrap()
            .contains("session.max_attempts"));
        let ignored = checks
            .iter()
            .find(|c| c["id"] == "policy.ignored_names")
            .unwrap();
        assert_eq!(ignored["status"], "warn", "{ignored}");
        let evidence = ignored["evidence"].as_str().unwrap();
        assert!(evidence.contains("future_setting"), "{evidence}");
        assert!(evidence.contains(POLICY), "{evidence}");
    }
    // Under the lock: the other test may install its own policy as soon as ours is dropped.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!Path::new(POLICY).exists(), "the test policy was removed");
}
