//! Configuration parsing and validation, end to end through `parse_str`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::environment::GenesysEnvironment;
use super::*;
use crate::error::ErrorCode;

fn err(text: &str) -> ConfigError {
    parse_str(text).expect_err("config should be rejected")
}

const MINIMAL: &str = "environment = \"mypurecloud.ie\"\nclient_id = \"abc-123\"\n";

#[test]
fn minimal_file_gets_documented_defaults() {
    let config = parse_str(MINIMAL).unwrap();
    assert_eq!(
        config.target,
        Target::Genesys(GenesysEnvironment::parse("mypurecloud.ie").unwrap())
    );
    assert_eq!(config.scopes, REQUIRED_SCOPES.map(String::from).to_vec());
    assert_eq!(
        config.endpoints.authorize.as_str(),
        "https://login.mypurecloud.ie/oauth/authorize"
    );
    assert_eq!(
        config.endpoints.token.as_str(),
        "https://login.mypurecloud.ie/oauth/token"
    );
    // The shell's own agent client, on its own origin, talking to Genesys's hosts.
    assert_eq!(
        config.endpoints.client_page.as_str(),
        format!("{AGENT_CLIENT_ORIGIN}/index.html")
    );
    assert!(config.endpoints.frames_agent_client());
    assert!(
        !config.close_to_tray,
        "closing quits unless IT says otherwise"
    );
    let to_tray = parse_str(&format!("{MINIMAL}[startup]\nclose_to_tray = true\n")).unwrap();
    assert!(to_tray.close_to_tray);
    assert_eq!(config.endpoints.client_origins(), vec![AGENT_CLIENT_ORIGIN]);
    assert_eq!(
        config.endpoints.streaming.as_str(),
        "wss://streaming.mypurecloud.ie/"
    );
    assert_eq!(
        config.redirect.all_uris(),
        vec![
            "com.agentshell.desktop:/oauth/callback".to_string(),
            "http://127.0.0.1:47615/oauth/callback".to_string()
        ]
    );
    assert_eq!(config.embed, EmbedSettings::default());
    assert!(!config.embed.allow_park);
    assert_eq!(config.client_start_timeout, Duration::from_secs(45));
    assert_eq!(config.environment_label(), "mypurecloud.ie");
}

#[test]
fn full_file_is_read_into_typed_values() {
    let config = parse_str(
        r#"
        environment = "usw2.pure.cloud"
        client_id = "client-1"
        scopes = ["users:readonly", "presence", "routing", "conversations",
                  "notifications", "stations:readonly", "organization:readonly", "analytics:readonly"]
        [redirect]
        deep_link_scheme = "com.example.agents"
        loopback_ports = [50123, 50124]
        prefer = "loopback"
        [sso]
        org = "acme"
        provider = "okta"
        prompt_login = true
        [embed]
        show_queue_position = false
        allow_park = true
        start_timeout_secs = 90
        [endpoints]
        token = "https://broker.example.com/token"
        "#,
    )
    .unwrap();
    assert_eq!(config.scopes.len(), 8);
    assert_eq!(config.redirect.prefer, RedirectMode::Loopback);
    assert_eq!(config.redirect.loopback_ports, vec![50123, 50124]);
    assert_eq!(
        config.redirect.deep_link_uri(),
        "com.example.agents:/oauth/callback"
    );
    assert_eq!(config.sso.provider.as_deref(), Some("okta"));
    assert!(config.sso.prompt_login);
    assert!(!config.embed.show_queue_position && config.embed.allow_park);
    assert_eq!(config.client_start_timeout, Duration::from_secs(90));
    assert_eq!(
        config.endpoints.token.as_str(),
        "https://broker.example.com/token"
    );
}

#[test]
fn embed_settings_serialise_with_the_guides_names() {
    let json = serde_json::to_value(EmbedSettings::default()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"showQueuePosition": true, "showCallControls": true,
            "allowTransfer": true, "allowPark": false, "allowConference": true})
    );
}

#[test]
fn unknown_environment_names_the_key_and_the_known_list() {
    let e = err("environment = \"mypurecloud.evil\"\nclient_id = \"x\"");
    assert_eq!(e.code(), "config_unknown_environment");
    let message = e.to_string();
    assert!(message.contains("`environment`") && message.contains("mypurecloud.evil"));
    assert!(message.contains("usw2.pure.cloud"), "{message}");
}

#[test]
fn a_custom_environment_is_a_region_with_the_same_derived_hosts() {
    let config =
        parse_str("custom_environment = \"EUC3.pure.cloud\"\nclient_id = \"c\"\n").unwrap();
    let Target::Genesys(env) = &config.target else {
        panic!("not a Genesys target: {:?}", config.target);
    };
    assert_eq!(env.name(), "euc3.pure.cloud");
    assert!(!env.is_listed());
    let endpoints = &config.endpoints;
    assert_eq!(
        endpoints.authorize.as_str(),
        "https://login.euc3.pure.cloud/oauth/authorize"
    );
    assert_eq!(
        endpoints.token.as_str(),
        "https://login.euc3.pure.cloud/oauth/token"
    );
    assert_eq!(endpoints.api.as_str(), "https://api.euc3.pure.cloud/");
    assert_eq!(
        endpoints.streaming.as_str(),
        "wss://streaming.euc3.pure.cloud/"
    );
    assert_eq!(config.environment_label(), "euc3.pure.cloud");
    assert!(config.keychain_account().contains("euc3.pure.cloud"));
    // The agent client's CSP names the region's hosts, exactly.
    let csp = crate::embed::csp::agent_client_policy(&config.endpoints)
        .unwrap()
        .to_string();
    for host in [
        "https://api.euc3.pure.cloud",
        "wss://streaming.euc3.pure.cloud",
    ] {
        assert!(csp.contains(host), "{host} missing from {csp}");
    }

    // `environment` may name the same region, in any case; another region is a conflict.
    let same = parse_str("custom_environment = \"euc3.pure.cloud\"\nenvironment = \"Euc3.Pure.Cloud\"\nclient_id = \"c\"\n").unwrap();
    assert_eq!(same.target, config.target);
    let other = err("custom_environment = \"euc3.pure.cloud\"\nenvironment = \"mypurecloud.ie\"\nclient_id = \"c\"\n");
    assert_eq!(other.code(), "config_conflict");
    assert!(other.to_string().contains("different regions"), "{other}");
    // Without the definition, the name is unknown, and the message says how to define it.
    let unknown = err("environment = \"euc3.pure.cloud\"\nclient_id = \"c\"\n");
    assert_eq!(unknown.code(), "config_unknown_environment");
    assert!(
        unknown.to_string().contains("custom_environment"),
        "{unknown}"
    );
    // Single hosts can still be overridden, the websocket included.
    let proxied = parse_str("custom_environment = \"euc3.pure.cloud\"\nclient_id = \"c\"\n[endpoints]\nstreaming = \"wss://ws.proxy.example\"\n").unwrap();
    assert_eq!(
        proxied.endpoints.streaming.as_str(),
        "wss://ws.proxy.example/"
    );
}

#[test]
fn a_bad_custom_environment_is_refused_with_the_key_and_the_reason() {
    for (text, code, says) in [
        ("custom_environment = \"*.pure.cloud\"", "config_invalid_value", "each label"),
        ("custom_environment = \"10.1.2.3\"", "config_invalid_value", "IP address"),
        ("custom_environment = \"cloud\"", "config_invalid_value", "two labels"),
        ("custom_environment = \"https://x.pure.cloud\"", "config_invalid_value", "each label"),
        (
            "custom_environment = \"x.pure.cloud\"\n[local_emulator]\nlogin = \"http://127.0.0.1:1\"\napi = \"http://127.0.0.1:1\"\nmedia = \"http://127.0.0.1:1\"",
            "config_conflict",
            "local emulator",
        ),
        (
            "environment = \"mypurecloud.ie\"\n[endpoints]\nstreaming = \"ws://streaming.example\"",
            "config_invalid_url",
            "wss://",
        ),
    ] {
        let e = err(&format!("client_id = \"c\"\n{text}\n"));
        assert_eq!(e.code(), code, "{text}: {e}");
        assert!(e.to_string().contains(says), "{text}: {e}");
        assert!(
            e.key() == Some("custom_environment") || e.key() == Some("endpoints.streaming"),
            "{text}: {:?}",
            e.key()
        );
    }
}

#[test]
fn wildcard_origins_are_refused() {
    let e = err(&format!(
        "{MINIMAL}[endpoints]\napi = \"https://*.mypurecloud.ie\""
    ));
    assert_eq!(e.code(), "config_wildcard_origin");
    assert!(e.to_string().contains("`endpoints.api`"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[embed]\nclient_url = \"https://*.example.com/client\""
    ));
    assert_eq!(e.code(), "config_wildcard_origin");
}

#[test]
fn plain_http_is_refused_outside_local_emulator_mode() {
    let e = err(&format!(
        "{MINIMAL}[endpoints]\nlogin = \"http://127.0.0.1:9000\""
    ));
    assert_eq!(e.code(), "config_insecure_endpoint");
    assert!(e.to_string().contains("`endpoints.login`"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[endpoints]\ntoken = \"http://broker.example.com/token\""
    ));
    assert_eq!(e.code(), "config_insecure_endpoint");
}

#[test]
fn local_emulator_mode_allows_loopback_http_only() {
    let ok = parse_str(
        "client_id = \"agent-shell-demo\"\n[local_emulator]\nlogin = \"http://127.0.0.1:9000\"\napi = \"http://127.0.0.1:9001\"\nmedia = \"http://[::1]:9002\"\n",
    )
    .unwrap();
    assert!(ok.is_local_emulator());
    assert_eq!(
        ok.endpoints.token.as_str(),
        "http://127.0.0.1:9000/oauth/token"
    );
    assert_eq!(ok.environment_label(), "Local emulator (127.0.0.1)");
    // The agent client by default; the emulator's websocket on its api port.
    assert_eq!(ok.endpoints.client_origins(), vec![AGENT_CLIENT_ORIGIN]);
    assert_eq!(ok.endpoints.streaming.as_str(), "ws://127.0.0.1:9001/");
    let ok = parse_str(
        "client_id = \"agent-shell-demo\"\n[embed]\nclient_url = \"http://127.0.0.1:9001/embedded-client/\"\n[local_emulator]\nlogin = \"http://127.0.0.1:9000\"\napi = \"http://127.0.0.1:9001\"\nmedia = \"http://[::1]:9002\"\n",
    )
    .unwrap();
    assert_eq!(
        ok.endpoints.client_origins(),
        vec![
            "http://127.0.0.1:9001".to_string(),
            "http://[::1]:9002".to_string()
        ]
    );
    let e = err("client_id = \"x\"\n[local_emulator]\nlogin = \"http://10.0.0.5:9000\"\napi = \"http://127.0.0.1:9001\"\nmedia = \"http://127.0.0.1:9002\"\n");
    assert_eq!(e.code(), "config_invalid_value");
    assert!(e.to_string().contains("`local_emulator.login`"), "{e}");
}

#[test]
fn environment_and_local_emulator_conflict() {
    let e = err(&format!("{MINIMAL}[local_emulator]\nlogin = \"http://127.0.0.1:1\"\napi = \"http://127.0.0.1:2\"\nmedia = \"http://127.0.0.1:3\"\n"));
    assert_eq!(e.code(), "config_conflict");
}

#[test]
fn missing_required_scope_is_named_with_its_consequence() {
    let e = err(&format!(
        "{MINIMAL}scopes = [\"users\", \"presence\", \"routing\", \"notifications\", \"stations:readonly\", \"organization:readonly\"]"
    ));
    assert_eq!(e.code(), "config_missing_scope");
    let message = e.to_string();
    assert!(
        message.contains("conversations: without conversations"),
        "{message}"
    );
    assert!(message.contains("answer, hold"), "{message}");
}

#[test]
fn missing_keys_are_named() {
    assert_eq!(err("client_id = \"x\"").code(), "config_missing_key");
    let e = err("environment = \"mypurecloud.com\"");
    assert!(e.to_string().contains("`client_id`"), "{e}");
    let e = err(&format!("{MINIMAL}[sso]\nprovider = \"okta\""));
    assert!(e.to_string().contains("`sso.org`"), "{e}");
}

#[test]
fn typos_and_wrong_types_are_syntax_errors_with_the_key() {
    let e = err(&format!("{MINIMAL}enviroment = \"x\""));
    assert_eq!(e.code(), "config_syntax");
    assert!(e.to_string().contains("enviroment"), "{e}");
    let e = err(&format!("{MINIMAL}[embed]\nallow_park = \"yes\""));
    assert_eq!(e.code(), "config_syntax");
    assert!(e.to_string().contains("allow_park"), "{e}");
    assert_eq!(err("environment = ").code(), "config_syntax");
}

#[test]
fn bad_values_are_refused() {
    for (snippet, key) in [
        (
            "[redirect]\ndeep_link_scheme = \"https\"",
            "redirect.deep_link_scheme",
        ),
        (
            "[redirect]\ndeep_link_scheme = \"Com.Example\"",
            "redirect.deep_link_scheme",
        ),
        (
            "[redirect]\nloopback_ports = [80]",
            "redirect.loopback_ports",
        ),
        (
            "[redirect]\nloopback_ports = []\nprefer = \"loopback\"",
            "redirect.loopback_ports",
        ),
        (
            "[sso]\norg = \"acme\"\nprovider = \"myidp\"",
            "sso.provider",
        ),
        ("[sso]\norg = \"a b\"", "sso.org"),
        ("scopes = [\"users presence\"]", "scopes"),
        (
            "[endpoints]\napi = \"https://api.mypurecloud.ie/v2\"",
            "endpoints.api",
        ),
        (
            "[endpoints]\ntoken = \"https://user:pw@broker.example.com/t\"",
            "endpoints.token",
        ),
        (
            "[endpoints]\ntoken = \"ftp://broker.example.com/t\"",
            "endpoints.token",
        ),
    ] {
        let e = err(&format!("{MINIMAL}{snippet}"));
        assert!(
            e.to_string().contains(&format!("`{key}`")),
            "{snippet}: {e}"
        );
    }
    let e = err("environment = \"mypurecloud.ie\"\nclient_id = \"has space\"");
    assert_eq!(e.code(), "config_invalid_value");
}

#[test]
fn session_settings_change_the_refresh_policy_within_bounds() {
    assert_eq!(
        parse_str(MINIMAL).unwrap().refresh,
        RefreshPolicy::default()
    );
    let config = parse_str(&format!(
        "{MINIMAL}[session]\nrefresh_margin_secs = 300\nmax_attempts = 2\nattempt_timeout_secs = 5\n"
    ))
    .unwrap();
    assert_eq!(config.refresh.margin, Duration::from_secs(300));
    assert_eq!(config.refresh.max_attempts, 2);
    assert_eq!(config.refresh.attempt_timeout, Duration::from_secs(5));
    for (snippet, key) in [
        ("max_attempts = 4", "session.max_attempts"),
        ("max_attempts = 0", "session.max_attempts"),
        ("attempt_timeout_secs = 0", "session.attempt_timeout_secs"),
        ("refresh_margin_secs = 20", "session.refresh_margin_secs"),
    ] {
        let e = err(&format!("{MINIMAL}[session]\n{snippet}\n"));
        assert!(
            e.to_string().contains(&format!("`{key}`")),
            "{snippet}: {e}"
        );
    }
    let e = err(&format!("{MINIMAL}[session]\nrefresh_margin_secs = 20\n"));
    assert!(
        e.to_string().contains("leaves no room for 3 attempts"),
        "{e}"
    );
}

#[test]
fn client_url_stays_on_the_environments_origins_and_carries_no_credentials() {
    let ok = parse_str(&format!(
        "{MINIMAL}[embed]\nclient_url = \"https://apps.mypurecloud.ie/embedded-client/?lang=de\"\n"
    ));
    // apps.{env} is not the api or media origin of mypurecloud.ie.
    let e = ok.unwrap_err();
    assert!(
        e.to_string()
            .contains("must be on the environment's api or media origin"),
        "{e}"
    );
    let config = parse_str(&format!(
        "{MINIMAL}[embed]\nclient_url = \"https://api.mypurecloud.ie/embedded-client/v2/?lang=de\"\n"
    ))
    .unwrap();
    assert_eq!(
        config.endpoints.client_page.as_str(),
        "https://api.mypurecloud.ie/embedded-client/v2/?lang=de"
    );
    for name in ["access_token", "Token", "code"] {
        let e = err(&format!(
            "{MINIMAL}[embed]\nclient_url = \"https://api.mypurecloud.ie/embedded-client/?{name}=abc\"\n"
        ));
        assert_eq!(e.code(), "config_invalid_value");
        assert!(
            e.to_string()
                .contains(&format!("remove the `{name}` parameter")),
            "{e}"
        );
        assert!(
            !e.to_string().contains("abc"),
            "the value is not echoed: {e}"
        );
    }
}

#[test]
fn client_start_timeout_is_bounded() {
    for value in ["4", "601"] {
        let e = err(&format!("{MINIMAL}[embed]\nstart_timeout_secs = {value}\n"));
        assert!(
            e.to_string().contains("`embed.start_timeout_secs`")
                && e.to_string().contains("must be from 5 to 600"),
            "{e}"
        );
    }
    let e = err(&format!(
        "{MINIMAL}[embed]\nstart_timeout_secs = \"soon\"\n"
    ));
    assert_eq!(e.code(), "config_syntax", "{e}");
}

#[test]
fn locate_prefers_cli_then_env_then_existing_user_file() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("config.toml");
    let cli = Path::new("/etc/cli.toml");
    let env = std::ffi::OsStr::new("/etc/env.toml");
    assert_eq!(
        locate(Some(cli), Some(env), Some(&user)),
        Some((cli.to_path_buf(), ConfigOrigin::CommandLine))
    );
    assert_eq!(
        locate(None, Some(env), Some(&user)),
        Some((
            PathBuf::from("/etc/env.toml"),
            ConfigOrigin::EnvironmentVariable
        ))
    );
    assert_eq!(
        locate(None, Some(std::ffi::OsStr::new("")), Some(&user)),
        None
    );
    std::fs::write(&user, MINIMAL).unwrap();
    assert_eq!(
        locate(None, None, Some(&user)),
        Some((user.clone(), ConfigOrigin::UserConfigDir))
    );
}

#[test]
fn loading_a_file_reports_missing_unreadable_and_oversize_files() {
    // Files are read through the policy layer (here without a policy).
    let load_file = |path: &Path, origin: ConfigOrigin| {
        crate::config::policy::load_files(None, Some((path, origin)))
            .map(|layered| layered.expect("a named file is a configuration").config)
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let e = load_file(&missing, ConfigOrigin::CommandLine).unwrap_err();
    assert_eq!(e.code(), "config_not_found");
    assert!(e.to_string().contains("--config"), "{e}");

    let big = dir.path().join("big.toml");
    std::fs::write(&big, "#".repeat(300 * 1024)).unwrap();
    assert_eq!(
        load_file(&big, ConfigOrigin::CommandLine)
            .unwrap_err()
            .code(),
        "config_unreadable"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "environment = [").unwrap();
    let e = load_file(&bad, ConfigOrigin::UserConfigDir).unwrap_err();
    assert_eq!(e.code(), "config_syntax");
    assert!(e.to_string().contains("bad.toml"), "{e}");

    let good = dir.path().join("good.toml");
    std::fs::write(&good, MINIMAL).unwrap();
    assert!(load_file(&good, ConfigOrigin::UserConfigDir).is_ok());
}

#[test]
fn example_config_in_docs_is_valid() {
    let text = include_str!("../../../../docs/config.example.toml");
    parse_str(text).unwrap();
}

#[test]
fn links_and_crm_are_validated_with_the_key_named() {
    let config = parse_str(MINIMAL).unwrap();
    assert_eq!(
        config.links.allowed_hosts,
        vec![
            HostPattern::Exact("help.mypurecloud.com".into()),
            HostPattern::Exact("help.genesys.cloud".into())
        ]
    );
    assert_eq!(config.links.crm_interaction_url, None);
    assert!(!config.mock_media_devices);
    for (extra, key) in [
        (
            "[links]\nallowed_hosts = [\"https://help.example.com\"]",
            "links.allowed_hosts",
        ),
        (
            "[links]\nallowed_hosts = [\"*.com\"]",
            "links.allowed_hosts",
        ),
        (
            "[crm]\ninteraction_url = \"https://crm.example.com/case\"",
            "crm.interaction_url",
        ),
        (
            "[crm]\ninteraction_url = \"http://crm.example.com/{interactionId}\"",
            "crm.interaction_url",
        ),
    ] {
        let e = parse_str(&format!("{MINIMAL}{extra}\n")).unwrap_err();
        assert_eq!(e.code(), "config_invalid_value", "{extra}");
        assert!(e.to_string().contains(key), "{e}");
    }
    let e = parse_str(&format!("{MINIMAL}[links]\nallowed_host = []\n")).unwrap_err();
    assert_eq!(e.code(), "config_syntax");
    let e = parse_str(&format!("{MINIMAL}[crm]\nurl = \"x\"\n")).unwrap_err();
    assert_eq!(e.code(), "config_syntax");
}

#[test]
fn compositing_goes_off_only_without_a_gpu_unless_set() {
    use super::Compositing::*;
    assert_eq!(super::Compositing::default(), Auto);
    assert!(Auto.disable(false, false));
    assert!(!Auto.disable(true, false));
    assert!(!On.disable(false, false));
    assert!(Off.disable(true, false));
    // The session's own WEBKIT_DISABLE_COMPOSITING_MODE is left to WebKit.
    assert!(!Off.disable(false, true));
    let config = parse_str(
        "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n[webview]\ncompositing = \"on\"\n",
    )
    .unwrap();
    assert_eq!(config.compositing, On);
}
