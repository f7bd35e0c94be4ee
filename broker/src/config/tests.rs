//! Loading the configuration from a file and the environment.
use super::*;
use base64::Engine as _;
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::path::Path;

fn random_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn file_with_relative_paths_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "current.key", &random_key());
    write(dir.path(), "secret", "s3cret\n");
    let file = write(
        dir.path(),
        "broker.toml",
        r#"
upstream_token_url = "https://login.mypurecloud.ie/oauth/token"
[keys]
current_file = "current.key"
[[clients]]
client_id = "abc"
secret_file = "secret"
redirect_uris = ["com.agentshell.desktop:/oauth/callback"]
"#,
    );
    let c = BrokerConfig::load_with_env(Some(&file), env_of(&[])).unwrap();
    assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
    assert_eq!(c.body_limit, 16 * 1024);
    assert_eq!(c.upstream_timeout, Duration::from_secs(10));
    assert_eq!(c.rate_limit, Some(RateLimit::default()));
    assert_eq!(c.clients[0].secret.expose_secret(), "s3cret");
    assert!(c.tls.is_none());
    assert!(c.keys.previous.is_none());
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[test]
fn environment_alone_and_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "k", &random_key());
    let prev = write(dir.path(), "p", &random_key());
    let env = env_of(&[
        (
            "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
            "http://127.0.0.1:9/oauth/token",
        ),
        ("AGENT_SHELL_BROKER_KEY_FILE", key.to_str().unwrap()),
        (
            "AGENT_SHELL_BROKER_PREVIOUS_KEY_FILE",
            prev.to_str().unwrap(),
        ),
        ("AGENT_SHELL_BROKER_LISTEN", "127.0.0.1:0"),
        ("AGENT_SHELL_BROKER_CLIENT_ID", "env-client"),
        ("AGENT_SHELL_BROKER_CLIENT_SECRET", " from-env "),
        (
            "AGENT_SHELL_BROKER_CLIENT_REDIRECT_URIS",
            "http://127.0.0.1:47615/oauth/callback, com.x:/cb",
        ),
        ("AGENT_SHELL_BROKER_RATE_LIMIT_PER_SECOND", "0"),
        ("AGENT_SHELL_BROKER_BODY_LIMIT_BYTES", "2048"),
        ("AGENT_SHELL_BROKER_UPSTREAM_TIMEOUT_SECS", ""),
    ]);
    let c = BrokerConfig::load_with_env(None, env).unwrap();
    assert_eq!(c.clients[0].client_id, "env-client");
    assert_eq!(c.clients[0].secret.expose_secret(), "from-env");
    assert_eq!(c.clients[0].redirect_uris.len(), 2);
    assert!(c.rate_limit.is_none());
    assert_eq!(c.body_limit, 2048);
    assert_eq!(c.upstream_timeout, DEFAULT_UPSTREAM_TIMEOUT);
    assert!(c.keys.previous.is_some());
}

#[test]
fn errors_name_the_key_and_never_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "k", &random_key());
    let file = write(
        dir.path(),
        "bad.toml",
        "upstream_token_url = \"https://x.example/oauth/token\"\nsecret = \"hunter2-very-secret\"\n",
    );
    let err = BrokerConfig::load_with_env(Some(&file), env_of(&[])).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 2"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");

    let base = [
        (
            "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
            "http://login.example/oauth/token",
        ),
        ("AGENT_SHELL_BROKER_KEY_FILE", key.to_str().unwrap()),
    ];
    let err = BrokerConfig::load_with_env(None, env_of(&base)).unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");

    let missing_key = [(
        "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
        "https://x.example/t",
    )];
    let err = BrokerConfig::load_with_env(None, env_of(&missing_key)).unwrap_err();
    assert!(
        err.to_string().contains("AGENT_SHELL_BROKER_KEY_FILE"),
        "{err}"
    );

    let no_secret = [
        (
            "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
            "https://x.example/t",
        ),
        ("AGENT_SHELL_BROKER_KEY_FILE", key.to_str().unwrap()),
        ("AGENT_SHELL_BROKER_CLIENT_ID", "c"),
        ("AGENT_SHELL_BROKER_CLIENT_REDIRECT_URIS", "com.x:/cb"),
    ];
    let err = BrokerConfig::load_with_env(None, env_of(&no_secret)).unwrap_err();
    assert!(err.to_string().contains("secret_file"), "{err}");

    let bad_key = write(dir.path(), "short", "abc");
    let env = [
        (
            "AGENT_SHELL_BROKER_UPSTREAM_TOKEN_URL",
            "https://x.example/t",
        ),
        ("AGENT_SHELL_BROKER_KEY_FILE", bad_key.to_str().unwrap()),
    ];
    let err = BrokerConfig::load_with_env(None, env_of(&env)).unwrap_err();
    assert!(matches!(err, ConfigError::Key { .. }), "{err}");
}

#[test]
fn validate_catches_inconsistencies() {
    let key = SealingKey::generate();
    let ok = BrokerConfig::new("http://127.0.0.1:1/oauth/token", key.clone())
        .unwrap()
        .with_client(ClientConfig::new("a", "s", ["com.x:/cb"]));
    ok.validate().unwrap();
    let mut c = ok.clone();
    c.clients.push(ClientConfig::new("a", "s", ["com.x:/cb"]));
    assert!(c.validate().is_err());
    let mut c = ok.clone();
    c.clients[0].redirect_uris = vec!["com.x:/cb#frag".into()];
    assert!(c.validate().is_err());
    let c = ok.clone().with_previous_key(key);
    assert!(c.validate().is_err());
    let mut c = ok.clone();
    c.body_limit = 10;
    assert!(c.validate().is_err());
    let mut c = ok;
    c.upstream_timeout = Duration::from_secs(121);
    assert!(c.validate().is_err());
    assert!(BrokerConfig::new("ftp://x/oauth/token", SealingKey::generate()).is_err());
}

#[test]
fn proxies_budget_and_connection_limits() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "current.key", &random_key());
    write(dir.path(), "secret", "s3cret");
    let base = r#"
upstream_token_url = "https://login.mypurecloud.ie/oauth/token"
[keys]
current_file = "current.key"
[[clients]]
client_id = "abc"
secret_file = "secret"
redirect_uris = ["com.agentshell.desktop:/oauth/callback"]
"#;
    let file = write(dir.path(), "defaults.toml", base);
    let c = BrokerConfig::load_with_env(Some(&file), env_of(&[])).unwrap();
    assert_eq!(c.upstream_budget, Some(UpstreamBudget::default()));
    assert_eq!(c.connections, ConnectionLimits::default());

    // A client IP header without trusted proxies is refused, naming what to add.
    let file = write(
        dir.path(),
        "header.toml",
        &format!("{base}[rate_limit]\nclient_ip_header = \"x-forwarded-for\"\n"),
    );
    let err = BrokerConfig::load_with_env(Some(&file), env_of(&[])).unwrap_err();
    assert!(err.to_string().contains("trusted_proxies"), "{err}");
    let env = env_of(&[(
        "AGENT_SHELL_BROKER_RATE_LIMIT_TRUSTED_PROXIES",
        "10.0.0.0/8, 2001:db8::/32",
    )]);
    let c = BrokerConfig::load_with_env(Some(&file), env).unwrap();
    let rate = c.rate_limit.unwrap();
    assert_eq!(rate.trusted_proxies.len(), 2);
    assert!(rate.trusted_proxies[0].contains("10.1.2.3".parse().unwrap()));
    let env = env_of(&[(
        "AGENT_SHELL_BROKER_RATE_LIMIT_TRUSTED_PROXIES",
        "10.0.0.0/40",
    )]);
    let err = BrokerConfig::load_with_env(Some(&file), env).unwrap_err();
    assert!(err.to_string().contains("10.0.0.0/40"), "{err}");

    let file = write(
        dir.path(),
        "limits.toml",
        &format!(
            "{base}[upstream_budget]\nper_minute = 60\nburst = 5\n[connections]\nmax_connections = 10\nidle_timeout_secs = 5\nh2_max_streams = 8\nh2_keepalive_secs = 0\n"
        ),
    );
    let c = BrokerConfig::load_with_env(Some(&file), env_of(&[])).unwrap();
    let budget = c.upstream_budget.unwrap();
    assert_eq!((budget.per_minute.get(), budget.burst.get()), (60, 5));
    assert_eq!(c.connections.max_connections, 10);
    assert_eq!(c.connections.idle_timeout, Duration::from_secs(5));
    assert_eq!(c.connections.h2_max_concurrent_streams, 8);
    assert_eq!(c.connections.h2_keepalive_interval, None);
    let env = env_of(&[
        ("AGENT_SHELL_BROKER_UPSTREAM_BUDGET_PER_MINUTE", "0"),
        ("AGENT_SHELL_BROKER_MAX_CONNECTIONS", "0"),
    ]);
    let err = BrokerConfig::load_with_env(Some(&file), env).unwrap_err();
    assert!(err.to_string().contains("max_connections"), "{err}");
    let env = env_of(&[("AGENT_SHELL_BROKER_UPSTREAM_BUDGET_PER_MINUTE", "0")]);
    let c = BrokerConfig::load_with_env(Some(&file), env).unwrap();
    assert!(c.upstream_budget.is_none());
}
