//! The scrubber every log line and the diagnostics bundle pass through, on any text: it never
//! panics, and a token planted in the text (raw, percent-encoded, in a URL, a form, JSON,
//! Debug-escaped JSON, a header) never comes out, nor any 8 characters of it, whatever the
//! text around it. The first byte picks where the token goes; the rest is the text around it.
#![no_main]
use agent_shell_core::support::scrub::scrub;
use libfuzzer_sys::fuzz_target;

/// Standard base64 (with `/`, `+` and padding), as a sealed secret would be written.
const TOKEN: &str = "q3J0h8vO1yA9/kPz+x7LmN2b/C4dE5fG6hI7jK8lM9n0wQ==";
/// The same, percent-encoded.
const ENCODED: &str = "q3J0h8vO1yA9%2FkPz%2Bx7LmN2b%2FC4dE5fG6hI7jK8lM9n0wQ%3D%3D";

/// Where the token goes (`choice` picks one).
fn context(choice: u8) -> String {
    let json = format!("{{\"access_token\":\"{TOKEN}\",\"expires_in\":7200}}");
    match choice % 12 {
        0 => TOKEN.to_string(),
        1 => ENCODED.to_string(),
        2 => format!("GET /oauth/callback?code={ENCODED}&state={ENCODED} HTTP/1.1"),
        3 => format!("grant_type=refresh_token&refresh_token={ENCODED}"),
        4 => format!("code={ENCODED}&grant_type=authorization_code"),
        5 => json,
        6 => format!("{json:?}"),
        7 => format!("{:?}", format!("{json:?}")),
        8 => format!("Authorization: Bearer {TOKEN}"),
        9 => format!("Bearer {TOKEN}"),
        10 => format!("Cookie: theme=dark; session={TOKEN}"),
        _ => format!(
            "https://idp.example/login?return_to=https%3A%2F%2Fapp%2Fcb%3Fcode%3D{}%26state%3Dx",
            ENCODED.replace('%', "%25")
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = scrub(&text);

    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let rest = String::from_utf8_lossy(rest);
    let mut mid = rest.len() / 2;
    while !rest.is_char_boundary(mid) {
        mid -= 1;
    }
    let (before, after) = rest.split_at(mid);
    let line = format!("{before} {} {after}", context(choice));
    let out = scrub(&line);
    for secret in [TOKEN, ENCODED] {
        for start in 0..=secret.len() - 8 {
            let window = &secret[start..start + 8];
            // Only what was planted counts: the surrounding text may hold the same 8
            // characters by itself (short runs are not secrets and pass unchanged).
            if rest.contains(window) {
                continue;
            }
            assert!(
                !out.contains(window),
                "{window:?} survived\n input: {line:?}\noutput: {out:?}"
            );
        }
    }
});
