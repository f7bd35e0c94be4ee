//! Property tests of the parsers that face the outside (the redirect, client messages, the
//! configuration and machine policy) and of PKCE/state generation. Whatever the input, a parser
//! answers with a value or an error, never a panic; generated secrets have the shape the RFCs
//! require and never repeat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use agent_shell_core::config::parse_str;
use agent_shell_core::config::policy;
use agent_shell_core::embed::ClientEvent;
use agent_shell_core::oauth::{parse_redirect, Callback, LoginSlot};
use base64::Engine;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const SCHEME: &str = "com.agentshell.desktop";

/// Text shaped like a redirect: the right prefix with arbitrary (often hostile) query text.
fn redirect_like() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just(format!("{SCHEME}:/oauth/callback?")),
        Just(format!("{SCHEME}://oauth/callback?")),
        Just("/oauth/callback?".to_string()),
        Just("http://127.0.0.1:47615/oauth/callback?".to_string()),
        ".{0,20}",
    ];
    (
        prefix,
        "(code|state|error|error_description|[a-z%&=;#?/]){0,12}[^\\x00]{0,64}",
    )
        .prop_map(|(p, q)| format!("{p}{q}"))
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn message_like() -> impl Strategy<Value = serde_json::Value> {
    let kind = prop_oneof![
        Just("agent-shell:ready"),
        Just("agent-shell:session-start"),
        Just("agent-shell:queue-position"),
        Just("agent-shell:interaction-start"),
        Just("agent-shell:interaction-end"),
        Just("agent-shell:token-expiring"),
        Just("agent-shell:auth-error"),
        Just("something-else"),
    ];
    let field = prop_oneof![
        Just("userId"),
        Just("name"),
        Just("position"),
        Just("total"),
        Just("interactionId"),
        Just("expiresIn"),
        Just("status"),
        Just("message"),
        Just("version"),
    ];
    (kind, prop::collection::btree_map(field, json_value(), 0..5)).prop_map(|(kind, fields)| {
        let mut object = serde_json::Map::new();
        object.insert("type".into(), kind.into());
        for (key, value) in fields {
            object.insert(key.into(), value);
        }
        serde_json::Value::Object(object)
    })
}

fn toml_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("environment = \"mypurecloud.ie\"".to_string()),
        Just("client_id = \"c\"".to_string()),
        Just("[endpoints]".to_string()),
        Just("[session]".to_string()),
        Just("[redirect]".to_string()),
        Just("[local_emulator]".to_string()),
        "[a-z_.]{1,20} = (\"[^\"\\n]{0,30}\"|-?[0-9]{1,20}|true|\\[[0-9, ]{0,20}\\])",
        "[^\\n]{0,40}",
    ];
    prop::collection::vec(line, 0..10).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_redirect_parser_never_panics(raw in redirect_like(), arbitrary in "\\PC{0,200}") {
        for text in [&raw, &arbitrary] {
            let _ = parse_redirect(text, Some(SCHEME));
            let _ = parse_redirect(text, None);
        }
    }

    #[test]
    fn a_well_formed_redirect_round_trips(code in "[A-Za-z0-9._~-]{1,64}", state in "[A-Za-z0-9_-]{16,64}") {
        let raw = format!("{SCHEME}:/oauth/callback?code={code}&state={state}");
        match parse_redirect(&raw, Some(SCHEME)).unwrap() {
            Callback::Code { code: parsed, state: parsed_state } => {
                prop_assert_eq!(parsed.expose(), code.as_str());
                prop_assert_eq!(parsed_state, state);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn the_client_message_parser_never_panics(message in message_like(), arbitrary in json_value()) {
        let _ = ClientEvent::parse(message);
        let _ = ClientEvent::parse(arbitrary);
    }

    #[test]
    fn the_config_parser_never_panics(text in toml_like()) {
        let _ = parse_str(&text);
    }

    #[test]
    fn policy_merging_never_panics_and_policy_always_wins(user in toml_like(), policy_text in toml_like()) {
        let (Ok(user), Ok(policy)) = (user.parse::<toml::Table>(), policy_text.parse::<toml::Table>()) else {
            return Ok(());
        };
        let (merged, sources, _) = policy::merge(&[(&policy, "P")], Some((&user, "U")));
        for (key, source) in &sources {
            if let policy::Source::Policy(_) = source {
                let mut expected = Some(toml::Value::Table(policy.clone()));
                let mut actual = Some(toml::Value::Table(merged.clone()));
                for part in key.split('.') {
                    expected = expected.and_then(|v| v.as_table().and_then(|t| t.get(part).cloned()));
                    actual = actual.and_then(|v| v.as_table().and_then(|t| t.get(part).cloned()));
                }
                prop_assert_eq!(actual, expected, "{}", key);
            }
        }
        let _ = agent_shell_core::config::validate_table(merged);
    }
}

#[test]
fn pkce_verifiers_and_states_have_the_rfc_shape_and_never_repeat() {
    let config = parse_str("environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n").unwrap();
    let redirect = format!("{SCHEME}:/oauth/callback");
    let mut states = HashSet::new();
    let mut verifiers = HashSet::new();
    for _ in 0..500 {
        let mut slot = LoginSlot::default();
        let now = Instant::now();
        let request = slot
            .begin(&config, &redirect, now, Duration::from_secs(60))
            .unwrap();
        let param = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap()
        };
        let (state, challenge) = (param("state"), param("code_challenge"));
        assert_eq!(param("code_challenge_method"), "S256");
        // At least 128 bits of randomness, base64url.
        assert!(state.len() >= 22, "{state}");
        assert!(states.insert(state.clone()), "a state repeated");
        let callback =
            parse_redirect(&format!("{redirect}?code=abc&state={state}"), Some(SCHEME)).unwrap();
        let approved = slot.complete(callback, now).unwrap();
        let verifier = approved.verifier.secret().to_string();
        // RFC 7636 4.1: 43-128 characters of [A-Za-z0-9-._~].
        assert!((43..=128).contains(&verifier.len()), "{}", verifier.len());
        assert!(verifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
        // RFC 7636 4.2: the challenge is BASE64URL(SHA256(verifier)), without padding.
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        assert_eq!(challenge, expected);
        assert!(verifiers.insert(verifier), "a verifier repeated");
    }
}
