//! The documents rendered from the one table of settings ([`super::table::SETTINGS`]): the
//! Group Policy / Intune templates (`installer/windows/admx/AgentShell.admx` and
//! `en-US/AgentShell.adml`) and the reference `docs/policy-reference.md`. The committed files
//! are compared with the rendered ones by the test `policy_documents_are_up_to_date`; after a
//! change to the table, `AGENT_SHELL_REGENERATE=1 cargo test -p agent-shell-core
//! policy_documents` writes them.

use super::table::{Category, Kind, Setting, SETTINGS};

/// The registry key Group Policy writes and the Windows reader reads (under HKLM and HKCU).
pub const REGISTRY_KEY: &str = r"SOFTWARE\Policies\AgentShell";

/// Every generated document: its path from the repository root, and its rendered text.
pub fn documents() -> Vec<(&'static str, String)> {
    vec![
        ("installer/windows/admx/AgentShell.admx", admx()),
        ("installer/windows/admx/en-US/AgentShell.adml", adml()),
        ("docs/policy-reference.md", reference()),
    ]
}

const GENERATED: &str = "Generated from src-tauri/core/src/config/policy/table.rs; do not edit. Regenerate with: AGENT_SHELL_REGENERATE=1 cargo test -p agent-shell-core policy_documents";

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn version_id(version: &str) -> String {
    format!("SUPPORTED_{}", version.replace('.', "_"))
}

fn versions() -> Vec<&'static str> {
    let mut versions: Vec<&str> = SETTINGS.iter().map(|s| s.since).collect();
    versions.sort_unstable();
    versions.dedup();
    versions
}

/// The ADMX: one policy per setting under `HKLM|HKCU\SOFTWARE\Policies\AgentShell`, value
/// name = policy name, in a category per group.
pub fn admx() -> String {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(&format!("<!-- {GENERATED} -->\n"));
    out.push_str("<policyDefinitions xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\" xmlns=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\">\n");
    out.push_str("  <policyNamespaces>\n    <target prefix=\"agentshell\" namespace=\"AgentShell.Policies.AgentShell\" />\n  </policyNamespaces>\n");
    out.push_str("  <resources minRequiredRevision=\"1.0\" />\n");
    out.push_str("  <supportedOn>\n    <definitions>\n");
    for version in versions() {
        let id = version_id(version);
        out.push_str(&format!(
            "      <definition name=\"{id}\" displayName=\"$(string.{id})\" />\n"
        ));
    }
    out.push_str("    </definitions>\n  </supportedOn>\n");
    out.push_str("  <categories>\n    <category name=\"AgentShell\" displayName=\"$(string.AgentShell)\" />\n");
    for category in Category::ALL {
        let id = category.id();
        out.push_str(&format!(
            "    <category name=\"{id}\" displayName=\"$(string.Category_{id})\">\n      <parentCategory ref=\"AgentShell\" />\n    </category>\n"
        ));
    }
    out.push_str("  </categories>\n  <policies>\n");
    for setting in SETTINGS {
        out.push_str(&policy(setting));
    }
    out.push_str("  </policies>\n</policyDefinitions>\n");
    out
}

fn policy(s: &Setting) -> String {
    let name = s.name;
    let head = format!(
        "    <policy name=\"{name}\" class=\"Both\" displayName=\"$(string.{name})\" explainText=\"$(string.{name}_Explain)\" key=\"{REGISTRY_KEY}\"",
    );
    let common = format!(
        "      <parentCategory ref=\"{}\" />\n      <supportedOn ref=\"{}\" />\n",
        s.category.id(),
        version_id(s.since)
    );
    let element = match s.kind {
        // Enabled writes REG_DWORD 1, Disabled REG_DWORD 0, Not configured nothing.
        Kind::Bool => {
            return format!(
                "{head} valueName=\"{name}\">\n{common}      <enabledValue>\n        <decimal value=\"1\" />\n      </enabledValue>\n      <disabledValue>\n        <decimal value=\"0\" />\n      </disabledValue>\n    </policy>\n"
            )
        }
        Kind::Text { allowed } if !allowed.is_empty() => {
            let mut items = String::new();
            for (i, value) in allowed.iter().enumerate() {
                items.push_str(&format!(
                    "          <item displayName=\"$(string.{name}_{i})\">\n            <value>\n              <string>{}</string>\n            </value>\n          </item>\n",
                    xml(value)
                ));
            }
            format!("        <enum id=\"{name}\" valueName=\"{name}\" required=\"true\">\n{items}        </enum>\n")
        }
        Kind::Text { .. } => {
            format!("        <text id=\"{name}\" valueName=\"{name}\" required=\"true\" maxLength=\"1023\" />\n")
        }
        Kind::Integer { min, max } => format!(
            "        <decimal id=\"{name}\" valueName=\"{name}\" required=\"true\" minValue=\"{min}\" maxValue=\"{max}\" />\n"
        ),
        // REG_MULTI_SZ, one entry per line (what the reader reads for a list).
        Kind::TextList | Kind::IntegerList { .. } => {
            format!("        <multiText id=\"{name}\" valueName=\"{name}\" required=\"true\" />\n")
        }
    };
    format!(
        "{head} presentation=\"$(presentation.{name})\">\n{common}      <elements>\n{element}      </elements>\n    </policy>\n"
    )
}

fn explain(s: &Setting) -> String {
    let range = s.kind.range();
    let mut text = format!("{}\n\n", s.description);
    text.push_str(&format!("Configuration key: {}\n", s.key));
    text.push_str(&format!(
        "Type: {} ({}){}\n",
        s.kind.label(),
        s.kind.registry_kind(),
        if range.is_empty() || s.kind == Kind::Bool {
            String::new()
        } else {
            format!(", {range}")
        }
    ));
    text.push_str(&format!("Default: {}\n", s.default));
    if matches!(s.kind, Kind::TextList | Kind::IntegerList { .. }) {
        text.push_str("Enter one value per line.\n");
    }
    if s.policy_only() {
        text.push_str("Machine policy only: it decides where sign-in tokens are sent, so a user's own file cannot set it.\n");
    }
    text.push_str(&format!(
        "\nRead by Agent Shell {} and later; an older version ignores it (and reports it as unknown). Enabled: the value is set and locked for the user. Disabled or Not configured: the user's file or the default applies.",
        s.since
    ));
    text
}

fn presentation(s: &Setting) -> Option<String> {
    let name = s.name;
    let label = xml(s.key);
    let element = match s.kind {
        Kind::Bool => return None,
        Kind::Text { allowed } if !allowed.is_empty() => {
            let default = allowed
                .iter()
                .position(|a| *a == s.default)
                .map(|i| format!(" defaultItem=\"{i}\""))
                .unwrap_or_default();
            format!(
                "<dropdownList refId=\"{name}\" noSort=\"true\"{default}>{label}</dropdownList>"
            )
        }
        Kind::Text { .. } => format!(
            "<textBox refId=\"{name}\">\n          <label>{label}</label>\n        </textBox>"
        ),
        Kind::Integer { .. } => format!(
            "<decimalTextBox refId=\"{name}\" defaultValue=\"{}\">{label}</decimalTextBox>",
            s.default
        ),
        Kind::TextList | Kind::IntegerList { .. } => {
            format!("<multiTextBox refId=\"{name}\">{label}</multiTextBox>")
        }
    };
    Some(format!(
        "      <presentation id=\"{name}\">\n        {element}\n      </presentation>\n"
    ))
}

/// The ADML (en-US): display names, explanations and the presentation of each policy.
pub fn adml() -> String {
    let mut strings = vec![("AgentShell".to_string(), "Agent Shell".to_string())];
    for version in versions() {
        strings.push((
            version_id(version),
            format!("Agent Shell {version} and later"),
        ));
    }
    for category in Category::ALL {
        strings.push((
            format!("Category_{}", category.id()),
            category.title().to_string(),
        ));
    }
    let mut presentations = String::new();
    for s in SETTINGS {
        strings.push((s.name.to_string(), format!("{} ({})", s.key, s.name)));
        strings.push((format!("{}_Explain", s.name), explain(s)));
        if let Kind::Text { allowed } = s.kind {
            for (i, value) in allowed.iter().enumerate() {
                strings.push((format!("{}_{i}", s.name), (*value).to_string()));
            }
        }
        presentations.push_str(&presentation(s).unwrap_or_default());
    }
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(&format!("<!-- {GENERATED} -->\n"));
    out.push_str("<policyDefinitionResources xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\" xmlns=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\">\n");
    out.push_str("  <displayName>Agent Shell</displayName>\n");
    out.push_str("  <description>Machine policy of Agent Shell (Genesys Cloud agent desktop)</description>\n");
    out.push_str("  <resources>\n    <stringTable>\n");
    for (id, text) in strings {
        out.push_str(&format!(
            "      <string id=\"{id}\">{}</string>\n",
            xml(&text)
        ));
    }
    out.push_str("    </stringTable>\n    <presentationTable>\n");
    out.push_str(&presentations);
    out.push_str("    </presentationTable>\n  </resources>\n</policyDefinitionResources>\n");
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// docs/policy-reference.md: every setting, grouped as in the Group Policy editor.
pub fn reference() -> String {
    let mut out = String::new();
    out.push_str(&format!("<!-- {GENERATED} -->\n\n"));
    out.push_str("# Policy reference\n\n");
    out.push_str(concat!(
        "Every setting machine policy can set, with its key in the configuration file (and the Linux\n",
        "policy file `/etc/agent-shell/policy.toml`), its policy name (the Windows registry value under\n",
        "`HKLM\\SOFTWARE\\Policies\\AgentShell`, then `HKCU\\SOFTWARE\\Policies\\AgentShell`, and the\n",
        "key of the macOS forced managed preferences of `com.agentshell.desktop`), its type in each\n",
        "store, its default and range, and the first version that reads it. How to deploy it:\n",
        "[deployment.md](deployment.md); what each key does in the file: [configuration.md](configuration.md).\n\n",
        "- **Names** (policy names and the policy file's keys) are compared without regard to ASCII case,\n",
        "  on every OS: `ClientId`, `clientid` and `CLIENTID` are the same policy.\n",
        "- **Version skew**: a name a desktop's version does not know (a policy of a newer version, or a\n",
        "  misspelt one) is ignored, logged as a warning (its name only), and listed by\n",
        "  `agent-shell config check` and `agent-shell doctor` (`policy.ignored_names`); it never stops the\n",
        "  app. A known name with a value of the wrong type or out of range is an error naming the\n",
        "  store and the name (the configuration error screen).\n",
        "- **Booleans** may also be REG_DWORD/integer 0 or 1, or the text `1`, `0`, `true`, `false`;\n",
        "  **integers** may also be decimal text (REG_SZ), as the MSI writes them; **lists of integers**\n",
        "  are REG_MULTI_SZ with one decimal number per line, or a plist array of integers.\n",
        "- **Machine policy only** (where tokens go): a user's own file cannot set these.\n",
        "- Templates for Group Policy and Intune: `installer/windows/admx/` (AgentShell.admx, en-US/AgentShell.adml);\n",
        "  an example macOS profile: `installer/macos/agent-shell.mobileconfig`.\n",
        "- `[local_emulator]` is for development only and is not a policy.\n\n",
    ));
    for category in Category::ALL {
        out.push_str(&format!("## {}\n\n", category.title()));
        out.push_str("| config key | policy name | type | registry | plist | default | range / values | since | description |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|\n");
        for s in SETTINGS.iter().filter(|s| s.category == category) {
            let range = s.kind.range();
            let mut description = s.description.to_string();
            if s.policy_only() {
                description.push_str(" **Machine policy only.**");
            }
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
                s.key,
                s.name,
                s.kind.label(),
                s.kind.registry_kind(),
                s.kind.plist_type(),
                if s.default.starts_with('(') {
                    cell(s.default.trim_start_matches('(').trim_end_matches(')'))
                } else {
                    format!("`{}`", cell(s.default))
                },
                cell(&range),
                s.since,
                cell(&description)
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn policy_documents_are_up_to_date() {
        let regenerate = std::env::var_os("AGENT_SHELL_REGENERATE").is_some_and(|v| v == "1");
        for (path, rendered) in documents() {
            let file = root().join(path);
            if regenerate {
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, &rendered).unwrap();
                continue;
            }
            let committed = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(
                committed == rendered,
                "{path} differs from what src-tauri/core/src/config/policy/table.rs renders; regenerate it with\n  AGENT_SHELL_REGENERATE=1 cargo test -p agent-shell-core policy_documents"
            );
        }
    }

    /// Every `attr="..."` value in `text`.
    fn values_of(text: &str, attr: &str) -> Vec<String> {
        text.split(&format!(" {attr}=\""))
            .skip(1)
            .filter_map(|rest| rest.split('"').next().map(str::to_string))
            .collect()
    }

    #[test]
    fn policy_documents_admx_and_adml_agree_and_cover_the_table() {
        let (admx, adml) = (admx(), adml());
        for reference in admx.split("$(string.").skip(1) {
            let id = reference.split(')').next().unwrap();
            assert!(adml.contains(&format!("<string id=\"{id}\">")), "{id}");
        }
        for reference in admx.split("$(presentation.").skip(1) {
            let id = reference.split(')').next().unwrap();
            assert!(
                adml.contains(&format!("<presentation id=\"{id}\">")),
                "{id}"
            );
        }
        let value_names = values_of(&admx, "valueName");
        for setting in SETTINGS {
            assert!(
                value_names.iter().any(|v| v == setting.name),
                "{}",
                setting.name
            );
        }
        assert_eq!(admx.matches("<policy ").count(), SETTINGS.len());
        assert_eq!(
            values_of(&admx, "key"),
            vec![REGISTRY_KEY; SETTINGS.len()],
            "every policy under the key the reader reads"
        );
        assert_eq!(REGISTRY_KEY, agent_shell_os_calls::WINDOWS_POLICY_KEY);
        // Balanced, the simple way: every opened element of these kinds is closed.
        for tag in [
            "policy",
            "elements",
            "enum",
            "item",
            "category",
            "presentation",
        ] {
            let opened = admx.matches(&format!("<{tag} ")).count()
                + admx.matches(&format!("<{tag}>")).count()
                + adml.matches(&format!("<{tag} ")).count();
            let closed = admx.matches(&format!("</{tag}>")).count()
                + adml.matches(&format!("</{tag}>")).count();
            let self_closed = if tag == "category" { 1 } else { 0 };
            assert_eq!(opened, closed + self_closed, "<{tag}>");
        }
        let reference = reference();
        for setting in SETTINGS {
            assert!(reference.contains(&format!("| `{}` | `{}` |", setting.key, setting.name)));
        }
    }

    fn read(path: &str) -> String {
        std::fs::read_to_string(root().join(path)).unwrap()
    }

    #[test]
    fn policy_documents_the_msi_fragment_writes_known_names_of_a_kind_text_can_carry() {
        let fragment = read("installer/windows/policy-fragment.wxs");
        let written: Vec<String> = fragment
            .split("<RegistryValue ")
            .skip(1)
            .filter_map(|tag| values_of(&format!(" {tag}"), "Name").into_iter().next())
            .collect();
        assert!(written.len() >= 7, "{written:?}");
        for name in written {
            let setting = super::super::table::by_name(&name)
                .unwrap_or_else(|| panic!("the MSI writes {name}, not in the table"));
            assert_eq!(setting.name, name, "spelt as in the table");
            assert!(
                !matches!(setting.kind, Kind::TextList | Kind::IntegerList { .. }),
                "{name}: the MSI writes REG_SZ, which a list cannot be"
            );
        }
    }

    #[test]
    fn policy_documents_the_example_profile_uses_table_names_and_plist_types() {
        let profile = read("installer/macos/agent-shell.mobileconfig");
        let settings = profile
            .split("<key>mcx_preference_settings</key>")
            .nth(1)
            .unwrap();
        // Commented-out examples too: uncommented as they are, they must work.
        let settings = settings.replace("<!--", "").replace("-->", "");
        let mut checked = 0;
        for rest in settings.split("<key>").skip(1) {
            let (key, after) = rest.split_once("</key>").unwrap();
            if key.starts_with("Payload") {
                break;
            }
            let setting = super::super::table::by_name(key)
                .unwrap_or_else(|| panic!("the profile sets {key}, not in the table"));
            assert_eq!(setting.name, key, "spelt as in the table");
            let element = after.trim_start();
            let ok = match setting.kind {
                Kind::Text { .. } => element.starts_with("<string>"),
                Kind::Integer { .. } => element.starts_with("<integer>"),
                Kind::Bool => element.starts_with("<true/>") || element.starts_with("<false/>"),
                Kind::TextList => {
                    element.starts_with("<array>")
                        && !element
                            .split("</array>")
                            .next()
                            .unwrap_or_default()
                            .contains("<integer>")
                }
                Kind::IntegerList { .. } => {
                    element.starts_with("<array>")
                        && !element
                            .split("</array>")
                            .next()
                            .unwrap_or_default()
                            .contains("<string>")
                }
            };
            assert!(ok, "{key}: expected plist {}", setting.kind.plist_type());
            checked += 1;
        }
        assert!(checked >= 8, "{checked}");
    }
}
