//! Checks on the files that ship: tauri.conf.json's CSP and the capability list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn read_json(path: &str) -> Value {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap()
}

#[test]
fn shipped_csp_is_the_builders_policy_for_all_known_environments() {
    let conf = read_json("tauri.conf.json");
    let shipped = conf["app"]["security"]["csp"].as_str().unwrap();
    let expected = agent_shell_core::csp::shipped_policy().unwrap().to_string();
    assert_eq!(
        shipped, expected,
        "tauri.conf.json app.security.csp is out of date; set it to:\n{expected}"
    );
}

#[test]
fn shipped_csp_is_locked_down() {
    let conf = read_json("tauri.conf.json");
    let csp = conf["app"]["security"]["csp"].as_str().unwrap();
    for forbidden in [
        "unsafe-inline",
        "unsafe-eval",
        "127.0.0.1",
        "[::1]",
        "*",
        "http://localhost",
        "data:",
    ] {
        assert!(!csp.contains(forbidden), "shipped CSP contains {forbidden}");
    }
    for required in [
        "default-src 'self'",
        "script-src 'self';",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(required), "shipped CSP lacks {required}");
    }
    assert_eq!(
        conf["app"]["security"]["dangerousDisableAssetCspModification"],
        Value::Null
    );
    assert_eq!(conf["app"]["withGlobalTauri"], Value::Bool(false));
}

#[test]
fn capabilities_are_an_explicit_local_list_for_the_main_window() {
    let conf = read_json("tauri.conf.json");
    assert_eq!(
        conf["app"]["security"]["capabilities"],
        serde_json::json!(["main-window"])
    );
    let dir = format!("{}/src-tauri/capabilities", env!("CARGO_MANIFEST_DIR"));
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert_eq!(files.len(), 1, "one capability file expected");
    let cap = read_json("src-tauri/capabilities/main-window.json");
    assert_eq!(cap["windows"], serde_json::json!(["main"]));
    assert!(cap.get("remote").is_none(), "no remote URLs may reach IPC");
    assert!(cap.get("webviews").is_none());
    for permission in cap["permissions"].as_array().unwrap() {
        let name = permission.as_str().unwrap();
        assert!(
            name.starts_with("allow-") || name.starts_with("core:event:allow-"),
            "unexpected permission {name}"
        );
    }
}

#[test]
fn the_shipped_build_carries_no_emulator() {
    // Installers and `cargo tauri build` use the default features: the emulator (axum, a fake
    // OAuth server, its pages) must not be among them. scripts/demo.sh and the tests opt in.
    let manifest: toml::Table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let features = manifest["features"].as_table().unwrap();
    let default: Vec<&str> = features["default"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert!(!default.contains(&"demo"), "default features: {default:?}");
    assert_eq!(
        features["demo"].as_array().unwrap()[0].as_str(),
        Some("dep:genesys-emulator"),
        "the emulator is optional and only behind `demo`"
    );
    let tauri_conf = read_json("tauri.conf.json");
    let build = &tauri_conf["build"];
    for command in ["beforeBuildCommand", "beforeBundleCommand"] {
        let text = build[command].as_str().unwrap_or_default();
        assert!(!text.contains("demo"), "{command}: {text}");
    }
    assert!(build
        .get("features")
        .is_none_or(|f| !f.to_string().contains("demo")));
}
