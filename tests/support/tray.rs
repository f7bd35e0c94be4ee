//! The tray icon, read the way a desktop panel reads it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::instance::app_pids;
use super::wait_until;

/// Where libayatana-appindicator exports the tray icon of the app (tray id "agent-shell").
const TRAY_ITEM_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_agent_shell";

/// What the tray shows: the status line (the menu's first entry) and the colour of the dot at
/// the icon's lower right.
#[derive(Debug, PartialEq)]
pub struct TrayView {
    pub status: String,
    pub dot_rgb: [u8; 3],
}

/// One bounded `gdbus call` on the session bus; None when it fails.
fn gdbus_call(dest: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("gdbus")
        .args([
            "call",
            "--session",
            "-t",
            "3",
            "--dest",
            dest,
            "--object-path",
            path,
        ])
        .args(["--method", method, "--"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first `'...'` string after `key` in gdbus output.
fn quoted_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let rest = &text[text.find(key)? + key.len()..];
    let start = rest.find('\'')? + 1;
    let end = start + rest[start..].find('\'')?;
    Some(&rest[start..end])
}

/// The app's StatusNotifierItem (exported on the session bus even when no panel watches it):
/// its menu's status line, and the dot colour of the icon file it names.
pub fn tray_view() -> Option<TrayView> {
    let bus = "org.freedesktop.DBus";
    let names = gdbus_call(
        bus,
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.ListNames",
        &[],
    )?;
    let app = app_pids();
    for name in names.split('\'').filter(|n| n.starts_with(':')) {
        let owner = gdbus_call(
            bus,
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            &[name],
        );
        let pid = owner.and_then(|o| {
            o.trim_start_matches("(uint32 ")
                .trim_end_matches(",)\n")
                .parse::<u32>()
                .ok()
        });
        if !pid.is_some_and(|pid| app.contains(&pid)) {
            continue;
        }
        let menu_path = format!("{TRAY_ITEM_PATH}/Menu");
        let Some(layout) = gdbus_call(
            name,
            &menu_path,
            "com.canonical.dbusmenu.GetLayout",
            &["0", "-1", "[]"],
        ) else {
            continue;
        };
        let status = quoted_after(&layout, "'label': <")?.to_string();
        let icon = gdbus_call(
            name,
            TRAY_ITEM_PATH,
            "org.freedesktop.DBus.Properties.Get",
            &["org.kde.StatusNotifierItem", "IconName"],
        )?;
        let dot_rgb = badge_colour(Path::new(quoted_after(&icon, "<")?))?;
        return Some(TrayView { status, dot_rgb });
    }
    None
}

/// The colour at the centre of the status dot (lower right, see tray::badged).
fn badge_colour(png_path: &Path) -> Option<[u8; 3]> {
    let file = std::io::BufReader::new(std::fs::File::open(png_path).ok()?);
    let mut reader = png::Decoder::new(file).read_info().ok()?;
    let mut pixels = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut pixels).ok()?;
    if frame.color_type != png::ColorType::Rgba || frame.bit_depth != png::BitDepth::Eight {
        return None;
    }
    let size = frame.width.min(frame.height) as f32;
    let ring = size * 0.27;
    let (x, y) = (
        (frame.width as f32 - ring) as usize,
        (frame.height as f32 - ring) as usize,
    );
    let at = (y * frame.width as usize + x) * 4;
    let px = pixels.get(at..at + 3)?;
    Some([px[0], px[1], px[2]])
}

/// The dot colours of tray::Tone::Ok and Tone::Attention.
pub const TRAY_GREEN: [u8; 3] = [0x1f, 0x9d, 0x55];

pub const TRAY_RED: [u8; 3] = [0xd6, 0x33, 0x2f];

/// Waits until the tray shows `status` with a dot of `dot_rgb`.
pub async fn wait_for_tray(status: &str, dot_rgb: [u8; 3]) {
    let expected = TrayView {
        status: status.to_string(),
        dot_rgb,
    };
    wait_until(Duration::from_secs(10), "the tray", async || {
        let shown = tokio::task::spawn_blocking(tray_view).await.unwrap();
        match shown.as_ref() == Some(&expected) {
            true => Ok(()),
            false => Err(format!("tray shows {shown:?}, expected {expected:?}")),
        }
    })
    .await;
}
