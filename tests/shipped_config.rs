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
    let expected = agent_shell_core::embed::csp::shipped_policy()
        .unwrap()
        .to_string();
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

fn read_text(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every `attr="..."` value in `text` on elements that start with `element`.
fn attribute_values(text: &str, element: &str, attr: &str) -> Vec<String> {
    text.split(&format!("<{element} "))
        .skip(1)
        .filter_map(|rest| {
            let tag = format!(" {}", &rest[..rest.find('>')?]);
            let start = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
            Some(tag[start..start + tag[start..].find('"')?].to_string())
        })
        .collect()
}

fn known_policy_names() -> Vec<&'static str> {
    agent_shell_core::config::policy::table::names()
}

/// The MSI writes only values the policy reader knows (an unknown one would be ignored), each
/// behind a Secure property that is remembered across repairs.
#[test]
fn the_msi_fragment_writes_known_policy_values_from_secure_remembered_properties() {
    let fragment = read_text("installer/windows/policy-fragment.wxs");
    let known = known_policy_names();
    let written = attribute_values(&fragment, "RegistryValue", "Name");
    assert!(written.len() >= 7, "{written:?}");
    for name in &written {
        assert!(
            known.contains(&name.as_str()),
            "the MSI writes unknown policy value {name}"
        );
    }
    let searched = attribute_values(&fragment, "RegistrySearch", "Name");
    assert_eq!(
        searched, written,
        "every written value is remembered (RegistrySearch)"
    );
    let properties = attribute_values(&fragment, "Property", "Id");
    let secure = fragment.matches("Secure=\"yes\"").count();
    assert_eq!(secure, properties.len(), "every public property is Secure");
    assert!(fragment.contains(r#"Key="$(var.PolicyKey)""#));
    assert!(fragment.contains(r#"PolicyKey = "SOFTWARE\Policies\AgentShell""#));

    let conf = read_json("tauri.conf.json");
    let wix = &conf["bundle"]["windows"]["wix"];
    assert_eq!(
        wix["fragmentPaths"][0],
        "installer/windows/policy-fragment.wxs"
    );
    assert_eq!(wix["componentGroupRefs"][0], "AgentShellPolicy");
    // Pinned: Tauri's default is derived from the product name, which may change one day.
    assert_eq!(wix["upgradeCode"], "41892700-d077-50cd-986a-4407a94326f2");
    assert_eq!(conf["bundle"]["windows"]["nsis"]["installMode"], "both");
}

/// Machine-wide start at login, installer side: the MSI's HKLM Run value (with AUTOSTART=1),
/// the .deb's XDG system entry and the macOS launch agent all run the installed program with
/// --autostart (which quits unless autostart is on), under the names the app looks for.
#[test]
fn machine_wide_autostart_entries_run_the_installed_program_with_the_flag() {
    use agent_shell_core::platform::autostart::{
        AUTOSTART_FLAG, LINUX_MACHINE_ENTRY, MACOS_MACHINE_AGENT, WINDOWS_RUN_VALUE,
    };
    let conf = read_json("tauri.conf.json");
    let binary = conf["mainBinaryName"].as_str().unwrap();
    let wix = &conf["bundle"]["windows"]["wix"];
    assert_eq!(
        wix["fragmentPaths"][1],
        "installer/windows/autostart-fragment.wxs"
    );
    assert_eq!(wix["componentGroupRefs"][1], "AgentShellAutostart");
    let fragment = read_text("installer/windows/autostart-fragment.wxs");
    assert!(fragment.contains(r#"<ComponentGroup Id="AgentShellAutostart""#));
    assert!(fragment.contains(r#"<Condition>AUTOSTART="1"</Condition>"#));
    assert!(fragment.contains(r#"Root="HKLM" Key="SOFTWARE\Microsoft\Windows\CurrentVersion\Run""#));
    assert_eq!(
        attribute_values(&fragment, "RegistryValue", "Name"),
        vec![WINDOWS_RUN_VALUE.to_string()]
    );
    assert!(
        fragment.contains(&format!(
            "&quot;[INSTALLDIR]{binary}.exe&quot; {AUTOSTART_FLAG}\""
        )),
        "{fragment}"
    );
    // The property it depends on is the policy fragment's (Secure, remembered).
    assert!(read_text("installer/windows/policy-fragment.wxs")
        .contains(r#"<Property Id="AUTOSTART" Secure="yes">"#));

    let files = &conf["bundle"]["linux"]["deb"]["files"];
    let source = files[format!("/{LINUX_MACHINE_ENTRY}")].as_str().unwrap();
    let entry = read_text(source);
    assert!(
        entry
            .lines()
            .any(|l| l == format!("Exec={binary} {AUTOSTART_FLAG}")),
        "{entry}"
    );

    let agent = read_text("installer/macos/com.agentshell.desktop.autostart.plist");
    let installed_as = MACOS_MACHINE_AGENT.rsplit('/').next().unwrap();
    assert_eq!(installed_as, "com.agentshell.desktop.autostart.plist");
    assert!(agent.contains("<string>com.agentshell.desktop.autostart</string>"));
    assert!(agent.contains(&format!("Contents/MacOS/{binary}</string>")));
    assert!(agent.contains(&format!("<string>{AUTOSTART_FLAG}</string>")));
    assert!(agent.contains("<key>RunAtLoad</key>\n  <true/>"));
}

#[test]
fn the_example_mdm_profile_forces_only_known_keys_for_the_bundle_identifier() {
    let profile = read_text("installer/macos/agent-shell.mobileconfig");
    let conf = read_json("tauri.conf.json");
    let identifier = conf["identifier"].as_str().unwrap();
    assert!(profile.contains(&format!("<key>{identifier}</key>")));
    assert!(profile.contains("<key>Forced</key>"));
    let settings = profile
        .split("<key>mcx_preference_settings</key>")
        .nth(1)
        .unwrap();
    let known = known_policy_names();
    let keys: Vec<&str> = settings
        .split("<key>")
        .skip(1)
        .filter_map(|rest| rest.split("</key>").next())
        .take_while(|key| !key.starts_with("Payload"))
        .collect();
    assert!(keys.len() >= 5, "{keys:?}");
    for key in keys {
        assert!(
            known.contains(&key),
            "the profile sets unknown policy key {key}"
        );
    }
}

#[test]
fn the_deb_desktop_entry_passes_the_url_and_claims_the_scheme() {
    let conf = read_json("tauri.conf.json");
    let template = conf["bundle"]["linux"]["deb"]["desktopTemplate"]
        .as_str()
        .unwrap();
    let text = read_text(template);
    assert!(text.contains("\nExec={{exec}} %u\n"), "{text}");
    let scheme = conf["plugins"]["deep-link"]["desktop"]["schemes"][0]
        .as_str()
        .unwrap();
    assert!(text.contains(&format!("\nMimeType=x-scheme-handler/{scheme};\n")));
}

/// The agent client is served only from its own origin (`agent-client:`): its files are in
/// ui/dist-agent, compiled into the binary, and never in ui/dist, the app page's origin that
/// holds the IPC rights.
#[test]
fn the_agent_client_is_never_served_from_the_app_origin() {
    let root = env!("CARGO_MANIFEST_DIR");
    let app_dist = std::path::Path::new(root).join("ui/dist");
    let agent_dist = std::path::Path::new(root).join("ui/dist-agent");
    assert!(
        agent_dist.join("index.html").is_file(),
        "run `npm run build` in ui/"
    );
    assert!(
        !app_dist.join("agent").exists(),
        "ui/dist/agent must not exist"
    );
    for file in ["agent.js", "agent.css", "softphone.js"] {
        assert!(!app_dist.join(file).exists(), "{file} in ui/dist");
        assert!(
            agent_dist.join(file).is_file(),
            "{file} missing in ui/dist-agent"
        );
    }
}
