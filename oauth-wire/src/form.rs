//! `application/x-www-form-urlencoded` bodies and query strings with RFC 6749 3.1 semantics:
//! a parameter sent without a value counts as absent, and a parameter must not be repeated.

use std::fmt;

/// The media type of a token request body (RFC 6749 4.1.3).
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Decoded parameters in the order sent, those with an empty value left out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

/// A parameter was sent more than once (with a value each time).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} was sent more than once")]
pub struct Repeated(pub String);

impl Params {
    /// Parses a form body or a query string (without the `?`). Never fails: bytes that are not
    /// UTF-8 after percent-decoding become U+FFFD, as the URL standard says.
    pub fn parse(input: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(input)
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `name`: `Ok(None)` when absent or empty, `Err` when repeated.
    pub fn single(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut values = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let first = values.next();
        if values.next().is_some() {
            return Err(Repeated(name.to_owned()));
        }
        Ok(first.map(String::as_str))
    }

    /// The value of `name`, or `None` when it is absent, empty or repeated. For use after
    /// [`Params::first_repeated`] or [`Params::repeated`] has ruled repetition out.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.single(name).ok().flatten()
    }

    /// The first of `names` that is repeated, if any.
    pub fn first_repeated<'a>(&self, names: &[&'a str]) -> Option<&'a str> {
        names.iter().copied().find(|n| self.single(n).is_err())
    }

    /// The first parameter, of any name, sent a second time.
    pub fn repeated(&self) -> Option<&str> {
        self.0
            .iter()
            .enumerate()
            .find(|(i, (k, _))| self.0[..*i].iter().any(|(earlier, _)| earlier == k))
            .map(|(_, (k, _))| k.as_str())
    }

    /// The parameters as a map, refusing any repeated one (RFC 6749 3.1).
    pub fn into_unique(self) -> Result<std::collections::BTreeMap<String, String>, Repeated> {
        let mut map = std::collections::BTreeMap::new();
        for (k, v) in self.0 {
            if map.contains_key(&k) {
                return Err(Repeated(k));
            }
            map.insert(k, v);
        }
        Ok(map)
    }
}

/// Parameter values may be credentials: `Debug` shows the names only.
impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

/// Whether a `Content-Type` value names [`FORM_CONTENT_TYPE`] (any case, any parameters).
pub fn is_form_urlencoded(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(FORM_CONTENT_TYPE))
}

/// Form-urlencodes one value (`' '` as `+`, everything but `*-._` and alphanumerics escaped).
pub fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Decodes one form-urlencoded value (`+` is a space); invalid UTF-8 becomes U+FFFD.
pub fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn params_follow_rfc6749_rules() {
        let p = Params::parse(b"a=1&b=&c=x%20y&a=2&d=+&e&b=");
        assert_eq!(p.single("a"), Err(Repeated("a".into())));
        assert_eq!(
            p.single("b").unwrap(),
            None,
            "empty values are absent, even twice"
        );
        assert_eq!(p.single("e").unwrap(), None);
        assert_eq!(p.single("c").unwrap(), Some("x y"));
        assert_eq!(p.single("d").unwrap(), Some(" "));
        assert_eq!(p.single("zz").unwrap(), None);
        assert_eq!(p.first_repeated(&["c", "a"]), Some("a"));
        assert_eq!(p.first_repeated(&["c", "b"]), None);
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(p.repeated(), Some("a"));
        assert_eq!(Params::parse(b"a=1&b=2&b=").repeated(), None);
    }

    #[test]
    fn duplicated_parameters_are_refused() {
        let err = Params::parse(b"grant_type=refresh_token&code=1&code=2")
            .into_unique()
            .unwrap_err();
        assert_eq!(err.to_string(), "code was sent more than once");
        let map = Params::parse(b"grant_type=authorization_code&code=a%2Bb+c")
            .into_unique()
            .unwrap();
        assert_eq!(map["code"], "a+b c");
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn odd_bytes_do_not_break_parsing() {
        let p = Params::parse(b"a=%FF%FE&b=%zz&%3D=1&c");
        assert_eq!(p.get("a"), Some("\u{fffd}\u{fffd}"));
        assert_eq!(p.get("b"), Some("%zz"));
        assert_eq!(p.get("="), Some("1"));
        assert_eq!(p.get("c"), None);
    }

    #[test]
    fn debug_hides_values() {
        let p = Params::parse(b"client_secret=hunter2&code=abc");
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("abc"),
            "{shown}"
        );
        assert!(shown.contains("client_secret"));
    }

    #[test]
    fn content_type_check() {
        for ok in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
            " application/x-www-form-urlencoded ;charset=utf-8",
        ] {
            assert!(is_form_urlencoded(ok), "{ok}");
        }
        for bad in [
            "application/json",
            "",
            "multipart/form-data",
            "application/x-www-form-urlencodedx",
        ] {
            assert!(!is_form_urlencoded(bad), "{bad}");
        }
    }

    #[test]
    fn form_encoding_round_trips() {
        for text in ["id:1", "p+w/=", "my app", "é%~*", ""] {
            assert_eq!(form_decode(&form_encode(text)), text);
        }
        assert_eq!(form_encode("id:1 x"), "id%3A1+x");
        assert_eq!(form_decode("a+b%2Bc"), "a b+c");
        assert_eq!(form_decode("%E9"), "\u{fffd}");
    }
}
