//! Reads machine policy from the OS stores that are not files: the Windows registry and macOS
//! managed preferences. Deliberately thin: it hands over `(name, value)` pairs and the store's
//! name; the core maps names to settings, checks kinds and reports errors
//! (`agent_shell_core::policy::table_from_values`), where unit tests run on every OS.
//! On Linux (policy is `/etc/agent-shell/policy.toml`) every reader returns nothing.

/// A value as an OS policy store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredValue {
    /// REG_SZ / REG_EXPAND_SZ (unexpanded), or a plist string.
    Text(String),
    /// REG_DWORD / REG_QWORD, or a plist integer or boolean (true = 1).
    Number(u64),
    /// REG_MULTI_SZ, or a plist array of strings.
    List(Vec<String>),
    /// Anything else (binary, a dictionary, a date...): reported as the wrong kind by the core.
    Unsupported(String),
}

/// The values one store holds, and the name IT knows it by (for messages and `config check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreReading {
    pub store: String,
    pub values: Vec<(String, StoredValue)>,
}

/// A store that exists but could not be read (access denied, a broken key): the core shows it
/// as a policy error naming the store instead of silently running without policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub store: String,
    pub reason: String,
}

/// Where Windows keeps Agent Shell's policy: the machine key first, then the user key.
pub const WINDOWS_POLICY_KEY: &str = r"SOFTWARE\Policies\AgentShell";
/// The macOS managed-preference domain (the bundle identifier).
pub const MACOS_POLICY_DOMAIN: &str = "com.agentshell.desktop";

/// Where Windows says the sign-in scheme is handled: the `shell\open\command` of
/// `Software\Classes\<scheme>`, per user (what the app registers at start) and per machine
/// (what the MSI and a per-machine NSIS install write), as (key, command). Elsewhere: empty.
pub fn scheme_handlers(scheme: &str) -> Vec<(String, String)> {
    imp::scheme_handlers(scheme)
}

/// Reads every policy store of this OS, highest precedence first. `names` are the value names
/// the core knows (macOS can only be asked by name; Windows lists the key's values, so that a
/// misspelt value is reported rather than ignored).
pub fn read(names: &[&str]) -> Result<Vec<StoreReading>, StoreError> {
    imp::read(names)
}

#[cfg(windows)]
mod imp {
    use super::{StoreError, StoreReading, StoredValue, WINDOWS_POLICY_KEY};
    use windows_registry::{Key, Type, Value, CURRENT_USER, LOCAL_MACHINE};

    // ERROR_FILE_NOT_FOUND as an HRESULT: the key does not exist, which is no policy at all.
    const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

    pub fn read(_names: &[&str]) -> Result<Vec<StoreReading>, StoreError> {
        let mut readings = Vec::new();
        for (hive, hive_name) in [(LOCAL_MACHINE, "HKLM"), (CURRENT_USER, "HKCU")] {
            let store = format!(r"{hive_name}\{WINDOWS_POLICY_KEY}");
            if let Some(reading) = read_key(hive, &store)? {
                readings.push(reading);
            }
        }
        Ok(readings)
    }

    fn read_key(hive: &Key, store: &str) -> Result<Option<StoreReading>, StoreError> {
        let failed = |error: windows_registry::Result<()>| StoreError {
            store: store.to_string(),
            reason: error.err().map(|e| e.message()).unwrap_or_default(),
        };
        let key = match hive.options().read().open(WINDOWS_POLICY_KEY) {
            Ok(key) => key,
            Err(error) if error.code().0 == NOT_FOUND => return Ok(None),
            Err(error) => return Err(failed(Err(error))),
        };
        let mut values = Vec::new();
        for (name, value) in key.values().map_err(|e| failed(Err(e)))? {
            values.push((name, convert(value)));
        }
        Ok(Some(StoreReading {
            store: store.to_string(),
            values,
        }))
    }

    pub fn scheme_handlers(scheme: &str) -> Vec<(String, String)> {
        let path = format!(r"Software\Classes\{scheme}\shell\open\command");
        [(CURRENT_USER, "HKCU"), (LOCAL_MACHINE, "HKLM")]
            .into_iter()
            .filter_map(|(hive, name)| {
                let key = hive.options().read().open(&path).ok()?;
                let command = key.get_string("").ok()?;
                Some((format!(r"{name}\{path}"), command))
            })
            .collect()
    }

    fn convert(value: Value) -> StoredValue {
        match value.ty() {
            Type::String | Type::ExpandString => String::try_from(value)
                .map(StoredValue::Text)
                .unwrap_or_else(|e| StoredValue::Unsupported(e.message())),
            Type::U32 => u32::try_from(value)
                .map(|n| StoredValue::Number(n.into()))
                .unwrap_or_else(|e| StoredValue::Unsupported(e.message())),
            Type::U64 => u64::try_from(value)
                .map(StoredValue::Number)
                .unwrap_or_else(|e| StoredValue::Unsupported(e.message())),
            Type::MultiString => Vec::<String>::try_from(value)
                .map(StoredValue::List)
                .unwrap_or_else(|e| StoredValue::Unsupported(e.message())),
            other => StoredValue::Unsupported(format!("{other:?}")),
        }
    }
}

#[cfg(target_os = "macos")]
#[allow(unsafe_code)]
mod imp {
    use super::{StoreError, StoreReading, StoredValue, MACOS_POLICY_DOMAIN};
    use core_foundation::array::CFArray;
    use core_foundation::base::{CFType, TCFType};
    use core_foundation::boolean::CFBoolean;
    use core_foundation::number::CFNumber;
    use core_foundation::propertylist::CFPropertyList;
    use core_foundation::string::CFString;
    use core_foundation_sys::preferences::{
        CFPreferencesAppValueIsForced, CFPreferencesCopyAppValue,
    };

    pub fn scheme_handlers(_scheme: &str) -> Vec<(String, String)> {
        // Launch Services decides from the installed bundles' Info.plist; not read here.
        Vec::new()
    }

    /// Only *forced* values are policy (a configuration profile's Forced payload, as Chrome
    /// reads them); a value the user set with `defaults write` is not.
    pub fn read(names: &[&str]) -> Result<Vec<StoreReading>, StoreError> {
        let domain = CFString::new(MACOS_POLICY_DOMAIN);
        let mut values = Vec::new();
        for name in names {
            let key = CFString::new(name);
            // SAFETY: both arguments are live CFStrings; the result follows the create rule
            // (we own it) and may be null when the key is absent.
            let raw = unsafe {
                CFPreferencesCopyAppValue(key.as_concrete_TypeRef(), domain.as_concrete_TypeRef())
            };
            if raw.is_null() {
                continue;
            }
            // SAFETY: non-null, owned (copy rule): wrapping takes over the one reference.
            let value = unsafe { CFPropertyList::wrap_under_create_rule(raw) };
            // SAFETY: both arguments are live CFStrings.
            let forced = unsafe {
                CFPreferencesAppValueIsForced(
                    key.as_concrete_TypeRef(),
                    domain.as_concrete_TypeRef(),
                )
            } != 0;
            if forced {
                values.push((name.to_string(), convert(&value)));
            }
        }
        if values.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![StoreReading {
            store: format!("managed preferences {MACOS_POLICY_DOMAIN}"),
            values,
        }])
    }

    fn convert(value: &CFPropertyList) -> StoredValue {
        if let Some(text) = value.downcast::<CFString>() {
            return StoredValue::Text(text.to_string());
        }
        if let Some(flag) = value.downcast::<CFBoolean>() {
            return StoredValue::Number(u64::from(bool::from(flag)));
        }
        if let Some(number) = value.downcast::<CFNumber>() {
            return match number.to_i64().and_then(|n| u64::try_from(n).ok()) {
                Some(n) => StoredValue::Number(n),
                None => StoredValue::Unsupported("a negative or fractional number".into()),
            };
        }
        if let Some(array) = value.downcast::<CFArray>() {
            let mut items = Vec::new();
            for item in array.iter() {
                // SAFETY: the array holds CF objects; get rule: the array keeps them alive.
                let item = unsafe { CFType::wrap_under_get_rule(*item) };
                match item.downcast::<CFString>() {
                    Some(text) => items.push(text.to_string()),
                    None => return StoredValue::Unsupported("an array of non-strings".into()),
                }
            }
            return StoredValue::List(items);
        }
        StoredValue::Unsupported("a dictionary, date or data value".into())
    }
}

#[cfg(not(any(windows, target_os = "macos")))]
mod imp {
    use super::{StoreError, StoreReading};

    pub fn read(_names: &[&str]) -> Result<Vec<StoreReading>, StoreError> {
        Ok(Vec::new())
    }

    pub fn scheme_handlers(_scheme: &str) -> Vec<(String, String)> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(not(any(windows, target_os = "macos")))]
    #[test]
    fn linux_has_no_store_but_the_file() {
        assert_eq!(super::read(&["Environment"]), Ok(Vec::new()));
    }
}
