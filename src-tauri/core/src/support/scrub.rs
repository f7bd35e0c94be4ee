//! The one scrubber every log line and the diagnostics bundle pass through: the daily log
//! files, stderr, and "Copy diagnostics" / `doctor --bundle` all call [`scrub`].
//!
//! Secrets are kept out of logs by their types (they redact `Debug` and `Display`); this is the
//! second line: anything *shaped* like a credential, and every e-mail address, is replaced
//! before a line reaches a file, stderr or a ticket, so a future `tracing::debug!(?body)`
//! cannot leak a code or a token. The rules (also in docs/configuration.md#logs):
//!
//! 1. **Named values.** The value after a secret's name and a separator is replaced, however
//!    short it is. Names are compared without case, `_` and `-` (`access_token`, `accessToken`,
//!    `X-Api-Key` are one name each): `token`, `secret`, `password`, `passwd`, `pwd`, `api_key`,
//!    `session`, `session_id`, `assertion`, `code_verifier`, `credentials`, `jwt`,
//!    `private_key`, and every name ending in `token`, `secret`, `password`, `apikey`,
//!    `sessionid`, `assertion`, `verifier` or `privatekey` (`access_token`, `refresh_token`,
//!    `id_token`, `client_secret`, `client_assertion`...). Separators: `=`, `:`, JSON's `":"`,
//!    at any level of backslash escaping (`\"`, `\\\"`), and percent-encoded (`%3D`, `%253D`).
//! 2. **`code` and `state` only in URL or form context**: preceded by `?`, `&`, `#` or `;`
//!    (also percent-encoded), or their value followed by `&`. There they are OAuth parameters;
//!    elsewhere (`code=token_network`, `"code":"bad.request"`) they hold the stable codes the
//!    logs exist to show, and are kept.
//! 3. **Headers.** `Authorization` (and any name ending in it): the scheme word is kept
//!    (`Bearer`, `Basic`), what follows is replaced. `Cookie`, `Set-Cookie` (any name ending in
//!    `cookie`): everything to the end of the line or the closing quote. `Bearer x`/`Basic x`
//!    anywhere: `x` is replaced unless it is a plain lower-case word (`Bearer token expired`).
//! 4. **Where a value ends.** A quoted value ends at its closing quote (of the same escaping
//!    level); an unquoted one runs over letters, digits and `-._~+/=%`, percent-encoded bytes
//!    (`%2B`, `%252F`), `\/` and `\u00XX` escapes, and ends at anything else (a space, `&` or
//!    `%26`, `"` or `\"`, `,`, `;`, `}`); a trailing `.` is punctuation.
//! 5. **Opaque runs.** Anywhere, with no name: a run of token characters (`A-Z a-z 0-9 - _ ~
//!    +`, joined by `/`, `.` and percent-encoded bytes, with trailing `=` padding: every base64
//!    alphabet, JWTs, PKCE verifiers) is replaced when one of its `/`/`.`-separated segments is
//!    32 characters or longer (UUIDs excepted: they are ids), or when the whole run is 32 or
//!    longer and a segment is not word-like. Word-like: all lower case, all upper case, or
//!    capitalised words (`Library`, `AgentOne`), digits anywhere, so paths, hosts, file names
//!    and versions stay readable.
//! 6. **E-mail addresses** (`local@domain.tld`, also `local%40domain.tld`) become `[email]`.

use std::borrow::Cow;

/// What replaces a scrubbed value.
pub const REDACTED: &str = "[redacted]";
/// What replaces an e-mail address.
pub const EMAIL: &str = "[email]";

/// A run (or one segment of it) at least this long is an opaque credential: OAuth codes,
/// tokens, PKCE verifiers and states are 32 random bytes or more (43+ characters).
const MIN_OPAQUE_RUN: usize = 32;
/// The longest unquoted value looked at (keeps pathological lines linear enough).
const MAX_VALUE_UNITS: usize = 4096;

/// Replaces every credential-shaped part of `text` and every e-mail address; returns the text
/// itself (borrowed) when there is nothing to replace.
pub fn scrub(text: &str) -> Cow<'_, str> {
    match scrub_credentials(text) {
        Cow::Borrowed(same) => scrub_emails(same),
        Cow::Owned(changed) => Cow::Owned(scrub_emails(&changed).into_owned()),
    }
}

/// One logical character of the text: percent-encoding and backslash escapes undone, so that
/// `%2B`, `%252B`, `\"`, `\\\"` and `\u0026` are read as the character they stand for.
#[derive(Debug, Clone, Copy)]
struct Unit {
    start: usize,
    end: usize,
    /// The ASCII character it stands for; `NON_ASCII` for anything else.
    c: u8,
}

const NON_ASCII: u8 = 0x80;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex2(bytes: &[u8], at: usize) -> Option<u8> {
    Some(hex(*bytes.get(at)?)? * 16 + hex(*bytes.get(at + 1)?)?)
}

/// `%XX`, and `%25XX...` (encoded again, any number of times).
fn percent(bytes: &[u8], at: usize) -> Option<(u8, usize)> {
    let mut value = hex2(bytes, at + 1)?;
    let mut len = 3;
    while value == b'%' {
        match hex2(bytes, at + len) {
            Some(next) => {
                value = next;
                len += 2;
            }
            None => break,
        }
    }
    Some((if value < 0x80 { value } else { NON_ASCII }, len))
}

/// Backslash escapes at any level: `\"`, `\\\"`, `\/`, `\u00XX`, `\n`.
fn escape(bytes: &[u8], at: usize) -> (u8, usize) {
    let slashes = bytes[at..].iter().take_while(|&&b| b == b'\\').count();
    let next = at + slashes;
    match bytes.get(next) {
        Some(b'"') => (b'"', slashes + 1),
        Some(b'\'') => (b'\'', slashes + 1),
        Some(b'/') => (b'/', slashes + 1),
        Some(b'n' | b'r' | b't') => (b'\n', slashes + 1),
        Some(b'u') => {
            let code = (|| {
                Some(u32::from(hex2(bytes, next + 1)?) * 256 + u32::from(hex2(bytes, next + 3)?))
            })();
            match code {
                Some(code) if code < 0x80 && code != u32::from(b'\\') => (code as u8, slashes + 5),
                Some(_) => (NON_ASCII, slashes + 5),
                None => (b'\\', slashes),
            }
        }
        _ => (b'\\', slashes),
    }
}

fn units(text: &str) -> Vec<Unit> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let (c, len) = match bytes[at] {
            b'%' => percent(bytes, at).unwrap_or((b'%', 1)),
            b'\\' => escape(bytes, at),
            b if b < 0x80 => (b, 1),
            _ => {
                // A whole UTF-8 character (its length from the leading byte).
                let len = text[at..].chars().next().map_or(1, char::len_utf8);
                (NON_ASCII, len)
            }
        };
        // Escapes and percent sequences never split a UTF-8 character: they are ASCII.
        let end = (at + len).min(bytes.len());
        out.push(Unit { start: at, end, c });
        at = end;
    }
    out
}

fn is_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn is_run(c: u8) -> bool {
    is_name(c) || c == b'~' || c == b'+'
}

fn is_joiner(c: u8) -> bool {
    c == b'/' || c == b'.'
}

fn is_value(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/=%".contains(&c) || c == NON_ASCII
}

fn is_space(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// How a secret's value is found after its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Always a secret.
    Plain,
    /// `code`, `state`: a secret only in URL or form context.
    UrlOnly,
    /// `Authorization`: keep the scheme word, replace what follows.
    Header,
    /// `Cookie`, `Set-Cookie`: to the end of the line.
    Cookie,
    /// `Bearer`, `Basic`: a secret after a space.
    Scheme,
}

const SECRET_NAMES: [&str; 13] = [
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "apikey",
    "session",
    "sessionid",
    "assertion",
    "codeverifier",
    "credentials",
    "jwt",
    "privatekey",
];

const SECRET_SUFFIXES: [&str; 8] = [
    "token",
    "secret",
    "password",
    "apikey",
    "sessionid",
    "assertion",
    "verifier",
    "privatekey",
];

/// Whether a name (lower case, without `_` and `-`) names a secret, and how.
fn classify(name: &str) -> Option<Kind> {
    match name {
        "code" | "state" => Some(Kind::UrlOnly),
        "bearer" | "basic" => Some(Kind::Scheme),
        _ if name.ends_with("authorization") => Some(Kind::Header),
        _ if name.ends_with("cookie") => Some(Kind::Cookie),
        _ if SECRET_NAMES.contains(&name)
            || SECRET_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) =>
        {
            Some(Kind::Plain)
        }
        _ => None,
    }
}

/// The separator after a name: where the value starts and the quote it opens with, if any.
enum Separator {
    /// `=`, `:`, `":"`, `: "` ...
    Assign { value: usize, quote: Option<u8> },
    /// One or more spaces: `Bearer x`.
    Space { value: usize },
}

fn separator(u: &[Unit], name_end: usize) -> Option<Separator> {
    let at = |k: usize| u.get(k).map_or(0, |unit| unit.c);
    let mut k = name_end;
    // The closing quote of a quoted name ("access_token": ...).
    while matches!(at(k), b'"' | b'\'') {
        k += 1;
    }
    let quoted_name = k > name_end;
    let spaced = k;
    while is_space(at(k)) {
        k += 1;
    }
    if matches!(at(k), b'=' | b':') && at(k + 1) != at(k) {
        k += 1;
        while is_space(at(k)) {
            k += 1;
        }
        let quote = match at(k) {
            q @ (b'"' | b'\'') => {
                k += 1;
                Some(q)
            }
            _ => None,
        };
        return Some(Separator::Assign { value: k, quote });
    }
    if quoted_name {
        return None;
    }
    let mut k = spaced;
    while is_space(at(k)) {
        k += 1;
    }
    (k > spaced).then_some(Separator::Space { value: k })
}

/// The end of an unquoted value starting at `from`.
fn plain_value_end(u: &[Unit], from: usize) -> usize {
    let limit = u.len().min(from + MAX_VALUE_UNITS);
    let mut end = from;
    while end < limit && is_value(u[end].c) {
        end += 1;
    }
    while end > from && u[end - 1].c == b'.' {
        end -= 1;
    }
    end
}

/// The end of a quoted value: its closing quote, or the end of the line.
fn quoted_value_end(u: &[Unit], from: usize, quote: u8) -> usize {
    u[from..]
        .iter()
        .position(|unit| unit.c == quote || unit.c == b'\n' || unit.c == b'\r')
        .map_or(u.len(), |p| from + p)
}

/// A letters-only word at `from` followed by spaces: the scheme of an `Authorization` value.
fn after_scheme(u: &[Unit], from: usize, end: usize) -> usize {
    let word = u[from..end]
        .iter()
        .take_while(|unit| unit.c.is_ascii_alphabetic())
        .count();
    let mut k = from + word;
    if word == 0 || k >= end || !is_space(u[k].c) {
        return from;
    }
    while k < end && is_space(u[k].c) {
        k += 1;
    }
    if k < end {
        k
    } else {
        from
    }
}

/// True for what follows `Bearer `/`Basic ` in prose rather than a credential.
fn is_prose_word(u: &[Unit]) -> bool {
    let inner_equals = u
        .iter()
        .rposition(|unit| unit.c != b'=')
        .is_some_and(|last| u[..last].iter().any(|unit| unit.c == b'='));
    inner_equals || (u.len() < 20 && u.iter().all(|unit| unit.c.is_ascii_lowercase()))
}

/// If the word `u[start..name_end]` names a secret that has a value, the value's range.
fn named_value(u: &[Unit], start: usize, name_end: usize) -> Option<(usize, usize)> {
    let name: String = u[start..name_end]
        .iter()
        .filter(|unit| unit.c.is_ascii_alphanumeric())
        .map(|unit| char::from(unit.c.to_ascii_lowercase()))
        .collect();
    let kind = classify(&name)?;
    let (value, quote) = match (separator(u, name_end)?, kind) {
        (Separator::Space { value }, Kind::Scheme) => {
            let end = plain_value_end(u, value);
            return (end > value && !is_prose_word(&u[value..end])).then_some((value, end));
        }
        (Separator::Space { .. }, _) => return None,
        (Separator::Assign { value, quote }, _) => (value, quote),
    };
    if kind == Kind::UrlOnly {
        let url_before = start > 0 && matches!(u[start - 1].c, b'?' | b'&' | b'#' | b';');
        if !url_before {
            if quote.is_some() {
                return None;
            }
            let end = plain_value_end(u, value);
            return (end > value && u.get(end).is_some_and(|unit| unit.c == b'&'))
                .then_some((value, end));
        }
    }
    let (from, end) = match (kind, quote) {
        (Kind::Cookie, None) => {
            let end = u[value..]
                .iter()
                .position(|unit| unit.c == b'\n' || unit.c == b'\r')
                .map_or(u.len(), |p| value + p);
            (value, end)
        }
        (Kind::Header, Some(q)) => {
            let end = quoted_value_end(u, value, q);
            (after_scheme(u, value, end), end)
        }
        (Kind::Header, None) => {
            let line_end = quoted_value_end(u, value, b'\n');
            let from = after_scheme(u, value, line_end);
            (from, plain_value_end(u, from))
        }
        (_, Some(q)) => (value, quoted_value_end(u, value, q)),
        (_, None) => (value, plain_value_end(u, value)),
    };
    (end > from).then_some((from, end))
}

/// The end of the run of token characters and joiners starting at `from` (without a trailing
/// `.`, which is punctuation).
fn compound_end(u: &[Unit], from: usize) -> usize {
    let mut end = from;
    while end < u.len() && (is_run(u[end].c) || is_joiner(u[end].c)) {
        end += 1;
    }
    while end > from && u[end - 1].c == b'.' {
        end -= 1;
    }
    end
}

/// A canonical UUID (8-4-4-4-12 hex): an id (conversation, user), not a secret.
fn is_uuid(segment: &[u8]) -> bool {
    let groups: Vec<&[u8]> = segment.split(|&c| c == b'-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.iter().all(u8::is_ascii_hexdigit))
}

/// A word as people write them: all lower case, all upper case, or capitalised words
/// (`Library`, `AgentOne`: each capital followed by at least two lower-case letters).
fn is_plain_word(word: &[u8]) -> bool {
    if !word.iter().any(u8::is_ascii_lowercase) || !word.iter().any(u8::is_ascii_uppercase) {
        return true;
    }
    word.iter().enumerate().all(|(i, c)| {
        !c.is_ascii_uppercase()
            || (word.get(i + 1).is_some_and(u8::is_ascii_lowercase)
                && (i == 0 || word.get(i + 2).is_some_and(u8::is_ascii_lowercase)))
    })
}

fn is_plain_segment(segment: &[u8]) -> bool {
    is_uuid(segment)
        || segment
            .split(|c| !c.is_ascii_alphanumeric())
            .all(is_plain_word)
}

/// Whether a run of token characters is an opaque credential (rule 5).
fn is_opaque(run: &[u8]) -> bool {
    let mut segments = run.split(|&c| is_joiner(c));
    if segments
        .clone()
        .any(|s| s.len() >= MIN_OPAQUE_RUN && !is_uuid(s))
    {
        return true;
    }
    run.len() >= MIN_OPAQUE_RUN && !segments.all(is_plain_segment)
}

fn scrub_credentials(text: &str) -> Cow<'_, str> {
    let u = units(text);
    let mut out = String::new();
    let mut copied = 0;
    let mut redact = |from: usize, to: usize, out: &mut String| {
        out.push_str(&text[copied..from]);
        out.push_str(REDACTED);
        copied = to;
    };
    let mut i = 0;
    // Runs already found not to be opaque: their later words are not checked again.
    let mut plain_until = 0;
    while i < u.len() {
        let c = u[i].c;
        if !is_run(c) && !is_joiner(c) {
            i += 1;
            continue;
        }
        let word_end = u[i..]
            .iter()
            .position(|unit| !is_name(unit.c))
            .map_or(u.len(), |p| i + p);
        if word_end > i {
            if let Some((from, to)) = named_value(&u, i, word_end) {
                redact(u[from].start, u[to - 1].end, &mut out);
                i = to;
                continue;
            }
        }
        if i >= plain_until {
            let end = compound_end(&u, i);
            let run: Vec<u8> = u[i..end].iter().map(|unit| unit.c).collect();
            if is_opaque(&run) {
                // Base64 padding belongs to the run.
                let mut to = end;
                while to < u.len() && to < end + 2 && u[to].c == b'=' {
                    to += 1;
                }
                redact(u[i].start, u[to - 1].end, &mut out);
                i = to;
                continue;
            }
            plain_until = end;
        }
        i = word_end.max(i + 1);
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Replaces every e-mail address (`local@domain.tld`, or `%40` for `@`) with `[email]`.
fn scrub_emails(text: &str) -> Cow<'_, str> {
    if !text.contains('@') && !text.contains("%40") {
        return Cow::Borrowed(text);
    }
    let is_part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '%');
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    for word in text.split_inclusive(|c: char| !is_part(c) && c != '@') {
        let (core, tail) = match word.char_indices().last() {
            Some((at, c)) if !is_part(c) && c != '@' => word.split_at(at),
            _ => (word, ""),
        };
        let at_sign = core.split_once('@').or_else(|| core.split_once("%40"));
        let email = at_sign.is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
        if email {
            out.push_str(EMAIL);
            changed = true;
        } else {
            out.push_str(core);
        }
        out.push_str(tail);
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    use crate::error::Code;

    const TOKEN: &str = "q3J0h8vO1yA9ZkPz_x-7LmN2bC4dE5fG6hI7jK8lM9n";

    fn check(input: &str, expected: &str) {
        assert_eq!(scrub(input), expected, "input: {input}");
    }

    #[test]
    fn the_defects_of_issue_19_are_closed() {
        // A `%` no longer ends the value.
        check(
            "refresh_token=abc%2Bdef%2Fghi%3D%3D&grant_type=refresh_token",
            "refresh_token=[redacted]&grant_type=refresh_token",
        );
        // Debug-escaped JSON, once and twice.
        let json = format!(r#"{{"access_token":"{TOKEN}","expires_in":7200}}"#);
        check(
            &format!("{json:?}"),
            r#""{\"access_token\":\"[redacted]\",\"expires_in\":7200}""#,
        );
        let twice = format!("{:?}", format!("{json:?}"));
        assert!(!scrub(&twice).contains(&TOKEN[..8]), "{}", scrub(&twice));
        assert!(scrub(&twice).contains("expires_in"));
        // Standard base64 is one run, `/`, `+` and padding included.
        check(
            "sealed q3J0h8vO1yA9/kPz+x7LmN2b/C4dE5fG6hI7jK8lM9n0w== stored",
            "sealed [redacted] stored",
        );
        // The names that were not covered.
        for name in [
            "token",
            "api_key",
            "session",
            "secret",
            "authorization",
            "password",
            "client_secret",
            "id_token",
            "assertion",
            "code_verifier",
            "X-Api-Key",
            "accessToken",
        ] {
            check(
                &format!("{name}=s3cr3t next"),
                &format!("{name}=[redacted] next"),
            );
        }
        check("GET /cb?code=abc", "GET /cb?code=[redacted]");
        // E-mail addresses, in log files too.
        check(
            "signed in as agent.one+x@example.com, queue 3",
            "signed in as [email], queue 3",
        );
    }

    #[test]
    fn values_end_where_they_end() {
        let cases = [
            // query and form
            (
                "https://app/cb?code=a1%2Fb&state=xy#frag",
                "https://app/cb?code=[redacted]&state=[redacted]#frag",
            ),
            (
                "code=abc&grant_type=authorization_code&code_verifier=v-v.v~v",
                "code=[redacted]&grant_type=authorization_code&code_verifier=[redacted]",
            ),
            (
                "password=my+pass+w%C3%B6rd&user=x",
                "password=[redacted]&user=x",
            ),
            // a redirect inside a redirect, percent-encoded once more
            (
                "login?return_to=https%3A%2F%2Fapp%2Fcb%3Fcode%3Dabc%252Bd%26state%3Ds1%26lang%3Den",
                "login?return_to=https%3A%2F%2Fapp%2Fcb%3Fcode%3D[redacted]%26state%3D[redacted]%26lang%3Den",
            ),
            // JSON, Debug of a struct, tracing's quoted fields
            (
                r#"{"refresh_token": "a b", "scope": "users"}"#,
                r#"{"refresh_token": "[redacted]", "scope": "users"}"#,
            ),
            (
                r#"TokenSet { access_token: "abc", expires_in: 7200 }"#,
                r#"TokenSet { access_token: "[redacted]", expires_in: 7200 }"#,
            ),
            (r#"secret="with space" ok"#, r#"secret="[redacted]" ok"#),
            // headers
            ("Authorization: Bearer short", "Authorization: Bearer [redacted]"),
            (
                "authorization: Basic dXNlcjpwYXNz",
                "authorization: Basic [redacted]",
            ),
            (
                r#"{"authorization": "Bearer eyJ.x.y", "accept": "*/*"}"#,
                r#"{"authorization": "Bearer [redacted]", "accept": "*/*"}"#,
            ),
            (
                "Cookie: theme=dark; session=abc\nnext line",
                "Cookie: [redacted]\nnext line",
            ),
            ("sent Bearer Zm9vYmFy9 upstream", "sent Bearer [redacted] upstream"),
            // JWT-like dotted tokens, after a name and alone
            (
                "id_token=eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl, next",
                "id_token=[redacted], next",
            ),
            (
                "got eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2J5dGVz.",
                "got [redacted].",
            ),
        ];
        for (input, expected) in cases {
            check(input, expected);
        }
    }

    #[test]
    fn stable_codes_and_ordinary_lines_are_left_alone() {
        for code in Code::ALL {
            for line in [
                format!("input not accepted code={}", code.as_str()),
                format!(
                    "redirect not accepted code=\"{}\" status=400",
                    code.as_str()
                ),
                format!(r#"{{"code":"{}","message":"x"}}"#, code.as_str()),
            ] {
                assert!(matches!(scrub(&line), Cow::Borrowed(_)), "{line}");
            }
        }
        let lines = [
            "token refreshed; next renewal in 3540 s expires_in=7200",
            "conversation 5f0c7e0e-3c7a-4a47-8d5e-9a7f3c1b2d4e connected",
            "opening https://login.mypurecloud.ie/oauth/authorize?client_id=5f0c7e0e-3c7a-4a47-8d5e-9a7f3c1b2d4e&response_type=code in the browser",
            "/home/agent/.local/state/agent-shell/logs/agent-shell.2026-12-01.log",
            "/Users/AgentOne/Library/Logs/Agent Shell/agent-shell.2026-12-01.log",
            "the code exchange failed: invalid_grant",
            "state mismatch: the redirect was not for this sign-in state=signing_in",
            "state mismatch: the redirect was not for this sign-in",
            "Bearer token expired; Basic checks passed",
            "grant_type=refresh_token token_type=bearer",
            r#"{"code":"bad.request","status":400,"message":"Invalid token"}"#,
            "client=agent-shell:auth-error len=37 sha256=1a2b3c4d",
            "GET https://api.mypurecloud.ie/api/v2/users/me?expand=presence,station 200",
            "user@localhost @handle a@.b 100%40",
        ];
        for line in lines {
            assert!(
                matches!(scrub(line), Cow::Borrowed(_)),
                "{line} -> {}",
                scrub(line)
            );
        }
    }

    #[test]
    fn emails_are_replaced() {
        check("<a@b.co>", "<[email]>");
        check(
            "login_hint=agent%40example.com&x=1",
            "login_hint=[email]&x=1",
        );
    }

    /// How the code could write a token's value.
    #[derive(Debug, Clone, Copy)]
    enum Encoding {
        Raw,
        Percent,
        PercentTwice,
        Form,
        Base64,
        Base64Url,
        Base64UrlPadded,
    }

    fn percent_encode(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    fn form_encode(text: &str) -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    fn encode(token: &str, encoding: Encoding) -> String {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        match encoding {
            Encoding::Raw => token.to_string(),
            Encoding::Percent => percent_encode(token),
            Encoding::PercentTwice => percent_encode(&percent_encode(token)),
            Encoding::Form => form_encode(token),
            Encoding::Base64 => STANDARD.encode(token),
            Encoding::Base64Url => URL_SAFE_NO_PAD.encode(token),
            Encoding::Base64UrlPadded => URL_SAFE.encode(token),
        }
    }

    /// Names that are always secret, as the code and its libraries spell them.
    const NAMES: [&str; 16] = [
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "client_secret",
        "secret",
        "password",
        "api_key",
        "X-Api-Key",
        "apiKey",
        "session",
        "session_id",
        "assertion",
        "client_assertion",
        "code_verifier",
        "accessToken",
    ];
    /// Query and form parameters: the names above and the OAuth ones.
    const PARAMS: [&str; 6] = [
        "code",
        "state",
        "access_token",
        "code_verifier",
        "client_secret",
        "refresh_token",
    ];

    /// Where a value can stand; `long`: contexts without a name need a token of 32+.
    fn place(context: usize, name: &str, param: &str, value: &str) -> String {
        let json = serde_json::json!({ name: value, "expires_in": 7200 }).to_string();
        match context {
            0 => format!("{name}={value}"),
            1 => format!("{name}=\"{value}\""),
            2 => format!("https://login.example.com/oauth/callback?{param}={value}&lang=en"),
            3 => format!("https://login.example.com/oauth/callback?foo=bar&{param}={value}"),
            4 => format!(
                "grant_type=authorization_code&{param}={value}&redirect_uri=http%3A%2F%2F127.0.0.1%3A47615%2Foauth%2Fcallback"
            ),
            5 => format!("{param}={value}&grant_type=authorization_code"),
            6 => json,
            7 => format!("{json:?}"),
            8 => format!("{:?}", format!("{json:?}")),
            9 => format!("Authorization: Bearer {value}"),
            10 => format!("authorization: Basic {value}"),
            11 => format!("Cookie: theme=dark; {name}={value}; lang=en"),
            12 => format!("Set-Cookie: sid={value}; Path=/; HttpOnly"),
            13 => format!(
                "https://idp.example.com/login?return_to={}",
                form_encode(&format!("https://app.example.com/cb?{param}={value}&state=x"))
            ),
            14 => format!("TokenSet {{ {name}: \"{value}\", expires_in: 7200 }}"),
            // Without a name: only long tokens.
            15 => format!("Bearer {value}"),
            _ => value.to_string(),
        }
    }

    fn long_token() -> impl Strategy<Value = String> {
        prop_oneof![
            // base64url: OAuth codes, access and refresh tokens
            "[A-Za-z0-9_-]{32,90}",
            // hex
            "[0-9a-f]{32,64}",
            // standard base64
            "[A-Za-z0-9+/]{32,88}={0,2}",
            // JWT
            "eyJ[A-Za-z0-9_-]{16,40}\\.eyJ[A-Za-z0-9_-]{16,80}\\.[A-Za-z0-9_-]{32,43}",
            // PKCE verifier
            "[A-Za-z0-9._~-]{43,96}",
        ]
    }

    fn encoding() -> impl Strategy<Value = Encoding> {
        prop::sample::select(vec![
            Encoding::Raw,
            Encoding::Percent,
            Encoding::PercentTwice,
            Encoding::Form,
            Encoding::Base64,
            Encoding::Base64Url,
            Encoding::Base64UrlPadded,
        ])
    }

    /// Arbitrary text around the line, set off by a separator.
    fn surrounding() -> impl Strategy<Value = (String, String, &'static str, &'static str)> {
        let separator = prop::sample::select(vec![" ", "\n", "\t", ", ", "; "]);
        ("\\PC{0,24}", "\\PC{0,24}", separator.clone(), separator)
    }

    /// Neither the token nor its encoding, nor any 8 characters of either, is left.
    fn assert_gone(out: &str, token: &str, value: &str, input: &str) -> Result<(), TestCaseError> {
        for secret in [token, value] {
            let chars: Vec<char> = secret.chars().collect();
            for window in chars.windows(8) {
                let window: String = window.iter().collect();
                prop_assert!(
                    !out.contains(&window),
                    "{window:?} of {secret:?} survived\n input: {input}\noutput: {out}"
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn long_tokens_never_survive_in_any_encoding_or_context(
            token in long_token(),
            encoding in encoding(),
            context in 0usize..17,
            name in prop::sample::select(NAMES.to_vec()),
            param in prop::sample::select(PARAMS.to_vec()),
            (before, after, sep1, sep2) in surrounding(),
        ) {
            let value = encode(&token, encoding);
            let input = format!("{before}{sep1}{}{sep2}{after}", place(context, name, param, &value));
            let out = scrub(&input);
            assert_gone(&out, &token, &value, &input)?;
        }

        #[test]
        fn short_named_values_never_survive(
            token in "[A-Za-z0-9_-]{8,31}",
            encoding in encoding(),
            context in 0usize..15,
            name in prop::sample::select(NAMES.to_vec()),
            param in prop::sample::select(PARAMS.to_vec()),
            (before, after, sep1, sep2) in surrounding(),
        ) {
            let value = encode(&token, encoding);
            let input = format!("{before}{sep1}{}{sep2}{after}", place(context, name, param, &value));
            let out = scrub(&input);
            assert_gone(&out, &token, &value, &input)?;
        }

        #[test]
        fn ordinary_log_text_passes_unchanged(pieces in prop::collection::vec(ordinary_piece(), 1..14)) {
            let line = pieces.join(" ");
            let out = scrub(&line);
            prop_assert!(matches!(out, Cow::Borrowed(_)), "{line}\n -> {out}");
        }

        #[test]
        fn scrub_never_panics(text in "\\PC{0,200}", noisy in "[%\\\\\"'=:&?#;a-zA-Z0-9 /+.@_~-]{0,300}") {
            let _ = scrub(&text);
            let _ = scrub(&noisy);
        }
    }

    /// A piece of an ordinary log line: words, stable codes, ids, hosts, paths, counts.
    fn ordinary_piece() -> impl Strategy<Value = String> {
        const WORDS: [&str; 36] = [
            "token",
            "refreshed",
            "next",
            "renewal",
            "in",
            "3540",
            "s",
            "the",
            "code",
            "exchange",
            "failed:",
            "invalid_grant",
            "state",
            "mismatch",
            "sign-in",
            "session",
            "ended",
            "cookie",
            "store",
            "password",
            "prompt",
            "secret",
            "service",
            "unavailable",
            "embedded",
            "client",
            "event",
            "loopback",
            "redirect",
            "not",
            "accepted",
            "INFO",
            "WARN",
            "agent_shell_core::session::auth:",
            "keychain",
            "probe",
        ];
        const FIXED: [&str; 10] = [
            "2026-12-01T10:00:00.123456Z",
            "login.mypurecloud.ie",
            "https://api.mypurecloud.ie/api/v2/users/me",
            "https://login.mypurecloud.ie/oauth/authorize?response_type=code&redirect_uri=com.agentshell.desktop%3A%2Foauth%2Fcallback",
            "/home/agent/.local/state/agent-shell/logs/agent-shell.2026-12-01.log",
            "/Users/AgentOne/Library/Logs/Agent",
            "grant_type=refresh_token",
            "state=signed_in",
            r#"{"code":"bad.request","status":400}"#,
            "trigger=\"token-expiring\"",
        ];
        let uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
        prop_oneof![
            prop::sample::select(WORDS.to_vec()).prop_map(str::to_string),
            prop::sample::select(FIXED.to_vec()).prop_map(str::to_string),
            prop::sample::select(Code::ALL.to_vec()).prop_map(|c| format!("code={}", c.as_str())),
            (0u32..100_000).prop_map(|n| format!("expires_in={n}")),
            uuid.prop_map(|id| format!("conversation={id}")),
            uuid.prop_map(|id| format!("/api/v2/conversations/{id}/participants")),
            ("[0-9a-f]{8}", 0usize..4096).prop_map(|(hash, len)| format!(
                "client=agent-shell:auth-error len={len} sha256={hash}"
            )),
        ]
    }
}
