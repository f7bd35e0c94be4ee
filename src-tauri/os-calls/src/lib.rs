//! The calls into Windows and macOS that the app makes, kept in one small crate so they can be
//! type-checked and linted for those targets on Linux (`cargo clippy --target`), which the
//! core's TLS stack cannot: machine policy from the OS stores that are not files (the Windows
//! registry, macOS forced managed preferences), the registered scheme handlers, the Windows
//! version, and attaching to the parent console.
//!
//! The policy readers are deliberately thin: they hand over every `(name, value)` pair a store
//! holds (known to this version or not) and the store's name; the core maps names to settings
//! through its one table, checks kinds and ranges, ignores and reports unknown names
//! (`agent_shell_core::config::policy::table_from_values`), where unit tests run on every OS.
//! On Linux (policy is `/etc/agent-shell/policy.toml`) every reader returns nothing.

/// A value as an OS policy store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredValue {
    /// REG_SZ / REG_EXPAND_SZ (unexpanded), or a plist string.
    Text(String),
    /// REG_DWORD / REG_QWORD, or a (non-negative) plist integer.
    Number(u64),
    /// A plist boolean (the registry has none: Group Policy writes a REG_DWORD 0 or 1).
    Bool(bool),
    /// REG_MULTI_SZ, or a plist array of strings (an empty array is an empty list).
    List(Vec<String>),
    /// A plist array of (non-negative) integers (REG_MULTI_SZ holds numbers as strings).
    NumberList(Vec<u64>),
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

/// Reads every policy store of this OS, highest precedence first, with every name it holds.
/// `names` are the names the core knows: macOS is asked for each of them and for every key its
/// managed-preference files hold (so a misspelt or newer key is reported, not lost); Windows
/// lists the key's values.
pub fn read(names: &[&str]) -> Result<Vec<StoreReading>, StoreError> {
    imp::read(names)
}

/// The Windows release, as diagnostics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsVersion {
    /// `ProductName` and `DisplayVersion`, e.g. `Windows 10 Pro 22H2` (Windows 11 still says
    /// "Windows 10" there: the build number tells them apart, 22000 and later is Windows 11).
    pub name: String,
    /// `CurrentMajorVersionNumber.CurrentMinorVersionNumber.CurrentBuildNumber.UBR`, e.g.
    /// `10.0.22631.4317`, what `winver` and `ver` show.
    pub build: String,
}

/// The Windows release from `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` (None
/// elsewhere, or when the key cannot be read).
pub fn windows_version() -> Option<WindowsVersion> {
    #[cfg(windows)]
    {
        use windows_registry::LOCAL_MACHINE;
        let key = LOCAL_MACHINE
            .options()
            .read()
            .open(r"SOFTWARE\Microsoft\Windows NT\CurrentVersion")
            .ok()?;
        let text = |name: &str| key.get_string(name).ok().filter(|v| !v.is_empty());
        let number = |name: &str| key.get_u32(name).ok();
        let product = text("ProductName")?;
        let name = match text("DisplayVersion").or_else(|| text("ReleaseId")) {
            Some(release) => format!("{product} {release}"),
            None => product,
        };
        let build = match (
            number("CurrentMajorVersionNumber"),
            number("CurrentMinorVersionNumber"),
            text("CurrentBuildNumber"),
        ) {
            (Some(major), Some(minor), Some(build)) => match number("UBR") {
                Some(ubr) => format!("{major}.{minor}.{build}.{ubr}"),
                None => format!("{major}.{minor}.{build}"),
            },
            (_, _, Some(build)) => build,
            _ => "unknown".to_string(),
        };
        Some(WindowsVersion { name, build })
    }
    #[cfg(not(windows))]
    None
}

/// The ProgId of the user's default web browser on Windows (`ChromeHTML`, `MSEdgeHTM`,
/// `FirefoxURL-...`), from the https `UserChoice`; None elsewhere or when unset.
pub fn default_browser_progid() -> Option<String> {
    #[cfg(windows)]
    {
        windows_registry::CURRENT_USER
            .options()
            .read()
            .open(r"Software\Microsoft\Windows\Shell\Associations\UrlAssociations\https\UserChoice")
            .ok()?
            .get_string("ProgId")
            .ok()
            .filter(|id| !id.is_empty())
    }
    #[cfg(not(windows))]
    None
}

/// A string value of a browser's policy key (`key` under HKLM, then HKCU), as (where, text):
/// Chrome and Edge keep `AutoLaunchProtocolsFromOrigins`, Firefox `Handlers`, as JSON text
/// (REG_SZ, or REG_MULTI_SZ lines joined, as Firefox's templates write JSON policies).
/// Empty elsewhere, or when neither hive sets it.
pub fn policy_strings(key: &str, name: &str) -> Vec<(String, String)> {
    #[cfg(windows)]
    {
        use windows_registry::{CURRENT_USER, LOCAL_MACHINE};
        [(LOCAL_MACHINE, "HKLM"), (CURRENT_USER, "HKCU")]
            .into_iter()
            .filter_map(|(hive, hive_name)| {
                let opened = hive.options().read().open(key).ok()?;
                let text = opened
                    .get_string(name)
                    .or_else(|_| opened.get_multi_string(name).map(|lines| lines.join("\n")))
                    .ok()?;
                Some((format!(r"{hive_name}\{key}\{name}"), text))
            })
            .collect()
    }
    #[cfg(not(windows))]
    {
        let _ = (key, name);
        Vec::new()
    }
}

/// The command of a machine-wide `Run` value (`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run`),
/// as "key: command", when the MSI wrote one; None elsewhere or when absent.
pub fn machine_run_entry(name: &str) -> Option<String> {
    #[cfg(windows)]
    {
        const RUN: &str = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run";
        let command = windows_registry::LOCAL_MACHINE
            .options()
            .read()
            .open(RUN)
            .ok()?
            .get_string(name)
            .ok()?;
        Some(format!(r"HKLM\{RUN}\{name}: {command}"))
    }
    #[cfg(not(windows))]
    {
        let _ = name;
        None
    }
}

/// The per-user scheme registration the app writes when no installer did
/// (`HKCU\Software\Classes\<scheme>`): its key name when present, and with `remove` it is
/// deleted with everything under it. Ok(None): not present (and on other OSes).
pub fn user_scheme_key(scheme: &str, remove: bool) -> Result<Option<String>, String> {
    #[cfg(windows)]
    {
        let path = format!(r"Software\Classes\{scheme}");
        let user = windows_registry::CURRENT_USER;
        if user.options().read().open(&path).is_err() {
            return Ok(None);
        }
        if remove {
            user.remove_tree(&path).map_err(|e| e.message())?;
        }
        Ok(Some(format!(r"HKCU\{path}")))
    }
    #[cfg(not(windows))]
    {
        let _ = (scheme, remove);
        Ok(None)
    }
}

/// Whether this desktop session is locked (Windows: the WTS session flags; macOS: the
/// CoreGraphics session's `CGSSessionScreenIsLocked`). None when it cannot be read, and on
/// Linux, where the app asks the screen saver and logind over D-Bus.
pub fn session_locked() -> Option<bool> {
    #[cfg(windows)]
    {
        lock::windows()
    }
    #[cfg(target_os = "macos")]
    {
        lock::macos()
    }
    #[cfg(not(any(windows, target_os = "macos")))]
    None
}

#[cfg(any(windows, target_os = "macos"))]
#[allow(unsafe_code)]
mod lock {
    #[cfg(windows)]
    pub fn windows() -> Option<bool> {
        use windows_sys::Win32::System::RemoteDesktop::{
            WTSFreeMemory, WTSQuerySessionInformationW, WTSSessionInfoEx, WTSINFOEXW,
            WTS_CURRENT_SERVER_HANDLE, WTS_CURRENT_SESSION, WTS_SESSIONSTATE_LOCK,
            WTS_SESSIONSTATE_UNLOCK,
        };
        let mut buffer: windows_sys::core::PWSTR = std::ptr::null_mut();
        let mut bytes = 0u32;
        // SAFETY: the out-pointers are ours and valid; on success the buffer is allocated by
        // WTS, checked for size before it is read as WTSINFOEXW, and freed with WTSFreeMemory.
        unsafe {
            let ok = WTSQuerySessionInformationW(
                WTS_CURRENT_SERVER_HANDLE,
                WTS_CURRENT_SESSION,
                WTSSessionInfoEx,
                &mut buffer,
                &mut bytes,
            );
            if ok == 0 || buffer.is_null() {
                return None;
            }
            let flags = if bytes as usize >= std::mem::size_of::<WTSINFOEXW>() {
                let info = &*(buffer as *const WTSINFOEXW);
                (info.Level == 1).then_some(info.Data.WTSInfoExLevel1.SessionFlags as u32)
            } else {
                None
            };
            WTSFreeMemory(buffer.cast());
            match flags {
                Some(WTS_SESSIONSTATE_LOCK) => Some(true),
                Some(WTS_SESSIONSTATE_UNLOCK) => Some(false),
                _ => None,
            }
        }
    }

    #[cfg(target_os = "macos")]
    pub fn macos() -> Option<bool> {
        use core_foundation::base::TCFType;
        use core_foundation::boolean::CFBoolean;
        use core_foundation::dictionary::{CFDictionary, CFDictionaryRef};
        use core_foundation::string::CFString;
        #[link(name = "CoreGraphics", kind = "framework")]
        extern "C" {
            fn CGSessionCopyCurrentDictionary() -> CFDictionaryRef;
        }
        // SAFETY: a Copy function: we own the returned dictionary (or get null, without a
        // window server session), and wrap_under_create_rule releases it.
        let session: CFDictionary = unsafe {
            let raw = CGSessionCopyCurrentDictionary();
            if raw.is_null() {
                return None;
            }
            CFDictionary::wrap_under_create_rule(raw)
        };
        let key = CFString::from_static_string("CGSSessionScreenIsLocked");
        let locked = session
            .find(key.as_concrete_TypeRef().cast())
            // SAFETY: the value of this key is a CFBoolean; it is retained for the wrapper.
            .map(|value| unsafe { CFBoolean::wrap_under_get_rule((*value).cast()) })
            .is_some_and(bool::from);
        Some(locked)
    }
}

/// Attaches this process to the console of the program that started it (cmd, PowerShell), so
/// what a command line subcommand prints reaches it: release builds use the Windows GUI
/// subsystem and start without a console. True when attached; false when there is no parent
/// console (started from Explorer, a shortcut) or on other OSes, where nothing is needed.
/// Call it before the first print.
pub fn attach_parent_console() -> bool {
    #[cfg(windows)]
    {
        console::attach_parent()
    }
    #[cfg(not(windows))]
    false
}

#[cfg(windows)]
#[allow(unsafe_code)]
mod console {
    use windows_sys::Win32::System::Console::{AttachConsole, ATTACH_PARENT_PROCESS};

    pub fn attach_parent() -> bool {
        // SAFETY: AttachConsole takes a process id by value and touches no memory of ours; it
        // fails harmlessly (returns 0) when the parent has no console or one is attached.
        unsafe { AttachConsole(ATTACH_PARENT_PROCESS) != 0 }
    }
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
    use core_foundation::data::CFData;
    use core_foundation::dictionary::CFDictionary;
    use core_foundation::number::CFNumber;
    use core_foundation::propertylist::{create_with_data, CFPropertyList};
    use core_foundation::string::CFString;
    use core_foundation_sys::preferences::{
        CFPreferencesAppValueIsForced, CFPreferencesCopyAppValue,
    };

    pub fn scheme_handlers(_scheme: &str) -> Vec<(String, String)> {
        // Launch Services decides from the installed bundles' Info.plist; not read here.
        Vec::new()
    }

    /// Where macOS keeps the forced managed preferences a profile installs: per device, then
    /// per user. Read only for the key names they hold; values come from CFPreferences.
    fn managed_files() -> Vec<std::path::PathBuf> {
        let base = std::path::Path::new("/Library/Managed Preferences");
        let file = format!("{MACOS_POLICY_DOMAIN}.plist");
        let mut files = vec![base.join(&file)];
        if let Some(user) = std::env::var_os("USER").filter(|u| !u.is_empty()) {
            files.push(base.join(user).join(&file));
        }
        files
    }

    /// The top-level keys of a property-list file (none when it is absent or not a dictionary).
    fn keys_in(path: &std::path::Path) -> Vec<String> {
        let Ok(bytes) = std::fs::read(path) else {
            return Vec::new();
        };
        let Ok((raw, _format)) = create_with_data(CFData::from_buffer(&bytes), 0) else {
            return Vec::new();
        };
        // SAFETY: non-null on success, owned (create rule): wrapping takes over the reference.
        let list = unsafe { CFPropertyList::wrap_under_create_rule(raw) };
        let Some(dictionary) = list.downcast_into::<CFDictionary>() else {
            return Vec::new();
        };
        let (keys, _values) = dictionary.get_keys_and_values();
        keys.into_iter()
            .filter_map(|key| {
                // SAFETY: the dictionary holds CF objects; get rule: it keeps them alive.
                let key = unsafe { CFType::wrap_under_get_rule(key) };
                key.downcast::<CFString>().map(|k| k.to_string())
            })
            .collect()
    }

    /// Only *forced* values are policy (a configuration profile's Forced payload, as Chrome
    /// reads them); a value the user set with `defaults write` is not. CFPreferences matches
    /// key names exactly, so the keys the managed files hold are asked for as they are spelt
    /// there (the core compares names without regard to case, and reports unknown ones).
    pub fn read(names: &[&str]) -> Result<Vec<StoreReading>, StoreError> {
        let domain = CFString::new(MACOS_POLICY_DOMAIN);
        let mut asked: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        for file in managed_files() {
            for key in keys_in(&file) {
                if !asked.contains(&key) {
                    asked.push(key);
                }
            }
        }
        let mut values = Vec::new();
        for name in &asked {
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
                values.push((name.clone(), convert(&value)));
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
            return StoredValue::Bool(bool::from(flag));
        }
        if let Some(number) = value.downcast::<CFNumber>() {
            return match whole(&number) {
                Some(n) => StoredValue::Number(n),
                None => StoredValue::Unsupported("a negative or fractional number".into()),
            };
        }
        if let Some(array) = value.downcast::<CFArray>() {
            let mut texts = Vec::new();
            let mut numbers = Vec::new();
            for item in array.iter() {
                // SAFETY: the array holds CF objects; get rule: the array keeps them alive.
                let item = unsafe { CFType::wrap_under_get_rule(*item) };
                if let Some(text) = item.downcast::<CFString>() {
                    texts.push(text.to_string());
                } else if let Some(n) = item.downcast::<CFNumber>().as_ref().and_then(whole) {
                    numbers.push(n);
                } else {
                    return StoredValue::Unsupported(
                        "an array of other than strings or integers".into(),
                    );
                }
            }
            return match (texts.is_empty(), numbers.is_empty()) {
                (_, true) => StoredValue::List(texts),
                (true, false) => StoredValue::NumberList(numbers),
                (false, false) => {
                    StoredValue::Unsupported("an array of strings and integers".into())
                }
            };
        }
        StoredValue::Unsupported("a dictionary, date or data value".into())
    }

    /// A non-negative whole number (CFNumberGetValue refuses a lossy conversion, so a
    /// fractional number is refused, not rounded).
    fn whole(number: &CFNumber) -> Option<u64> {
        number.to_i64().and_then(|n| u64::try_from(n).ok())
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
