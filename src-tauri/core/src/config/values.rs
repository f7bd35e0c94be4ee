//! Value types of the configuration that other parts act on: which hosts a link may open, the
//! CRM page template, and how the session refreshes. They live here, in the leaf, so the parts
//! that use them (embed's link routing, the session) depend on config and never the reverse.

use std::fmt;
use std::time::Duration;

use url::{Host, Url};

/// The placeholder a CRM URL template must contain.
pub const INTERACTION_ID_PLACEHOLDER: &str = "{interactionId}";

/// Hosts the embedded client may open in the system browser when the config names none: the
/// Genesys Cloud Resource Center (old and new host), which the client links to from its help menu.
pub const DEFAULT_ALLOWED_HOSTS: [&str; 2] = ["help.mypurecloud.com", "help.genesys.cloud"];

/// One entry of `links.allowed_hosts`: `help.example.com`, or `*.example.com` for any
/// subdomain (not example.com itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    Subdomains(String),
}

impl HostPattern {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let (wildcard, host) = match value.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        if host.contains('*') {
            return Err("a wildcard is allowed only as a leading \"*.\"".into());
        }
        let not_a_host =
            || "give only a host name such as help.example.com, without scheme, port or path";
        let host = match Host::parse(host) {
            Ok(Host::Domain(domain)) if !domain.is_empty() => domain,
            Ok(ip @ (Host::Ipv4(_) | Host::Ipv6(_))) if !wildcard => ip.to_string(),
            _ => return Err(not_a_host().into()),
        };
        if wildcard && host.split('.').filter(|l| !l.is_empty()).count() < 2 {
            return Err(
                "\"*.\" must be followed by a domain of at least two labels, e.g. *.example.com"
                    .into(),
            );
        }
        Ok(if wildcard {
            Self::Subdomains(host)
        } else {
            Self::Exact(host)
        })
    }

    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(exact) => host == exact,
            Self::Subdomains(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(host) => f.write_str(host),
            Self::Subdomains(domain) => write!(f, "*.{domain}"),
        }
    }
}

/// `crm.interaction_url`: an https URL with `{interactionId}` in its path, query or fragment,
/// and optionally `{ani}` (the caller's number), `{queueName}` and `{attribute.NAME}` (a
/// participant attribute of the call) there too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmTemplate {
    pub(crate) template: String,
    host: String,
}

/// The placeholders of a template, in order; an unknown or malformed one is an error.
fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "a `{` without its `}`".to_string())?;
        let name = &after[..close];
        let known = name == "interactionId"
            || name == "ani"
            || name == "queueName"
            || name
                .strip_prefix("attribute.")
                .is_some_and(is_attribute_name);
        if !known {
            return Err(format!(
                "unknown placeholder {{{name}}}: use {INTERACTION_ID_PLACEHOLDER}, {{ani}}, {{queueName}} or {{attribute.NAME}}"
            ));
        }
        found.push(name);
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` without its `{`".into());
    }
    Ok(found)
}

/// A participant attribute's name as a template may use it.
pub fn is_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

impl CrmTemplate {
    pub fn parse(value: &str) -> Result<Self, String> {
        let template = value.trim().to_string();
        let names = placeholders(&template)?;
        if !names.contains(&"interactionId") {
            return Err(format!("must contain {INTERACTION_ID_PLACEHOLDER}"));
        }
        let sample_id = "00000000-0000-4000-8000-000000000000";
        let sample_text = Self::fill(&template, |name| match name {
            "interactionId" => sample_id.to_string(),
            _ => "sample".to_string(),
        });
        let sample = Url::parse(&sample_text).map_err(|e| format!("not a URL: {e}"))?;
        if sample.scheme() != "https" {
            return Err("must be an https URL".into());
        }
        if !sample.username().is_empty() || sample.password().is_some() {
            return Err("credentials in a URL are not allowed".into());
        }
        let host = match sample.host() {
            Some(Host::Domain(domain)) => domain.to_string(),
            _ => return Err("must name the CRM by its host name".into()),
        };
        let authority_end = template
            .find("://")
            .map(|i| i + 3)
            .and_then(|start| {
                template[start..]
                    .find(['/', '?', '#'])
                    .map(|end| start + end)
            })
            .unwrap_or(template.len());
        if template[..authority_end].contains('{') {
            return Err("placeholders may appear only in the path, query or fragment".into());
        }
        Ok(Self { template, host })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Replaces every placeholder with `value(name)`.
    pub(crate) fn fill(template: &str, value: impl Fn(&str) -> String) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[open..]);
                return out;
            };
            out.push_str(&value(&after[..close]));
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }
}

impl fmt::Display for CrmTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template)
    }
}

/// How the session engine refreshes. All of it is configuration, none of it is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Attempts per refresh episode, the first included (the guide: three at most).
    pub max_attempts: usize,
    /// Delay before the second attempt; doubles after that, with jitter up to the same again.
    pub first_delay: Duration,
    /// Ceiling of any single delay.
    pub max_delay: Duration,
    /// A hung token endpoint is abandoned after this long.
    pub attempt_timeout: Duration,
    /// The longest Retry-After that is honoured.
    pub max_retry_after: Duration,
    /// Refresh this long before the access token expires.
    pub margin: Duration,
    /// The shortest token lifetime believed (`expires_in` below it is raised to it), so an
    /// `expires_in` of 0 cannot make the keep-alive loop renew without pause.
    pub min_lifetime: Duration,
}

/// The floor of believed lifetimes for real environments (Genesys issues 300 s at least).
pub const MIN_LIFETIME: Duration = Duration::from_secs(30);
/// The floor against the local emulator, whose tests compress a shift into seconds.
pub const EMULATOR_MIN_LIFETIME: Duration = Duration::from_secs(1);

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(4),
            attempt_timeout: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(10),
            // Three timed-out attempts plus backoff take about 40 s; leave room to spare.
            margin: Duration::from_secs(120),
            min_lifetime: MIN_LIFETIME,
        }
    }
}

impl RefreshPolicy {
    /// The margin actually used for a token of `lifetime`: never more than a third of it, so
    /// very short-lived tokens (tests, aggressive org settings) do not refresh constantly.
    pub fn margin_for(&self, lifetime: Duration) -> Duration {
        self.margin.min(lifetime / 3)
    }

    /// Upper bound of one whole episode: what the margin must leave room for.
    pub fn worst_case(&self) -> Duration {
        let attempts = u32::try_from(self.max_attempts).unwrap_or(u32::MAX);
        let waits = attempts.saturating_sub(1);
        self.attempt_timeout * attempts + self.max_delay.max(self.max_retry_after) * waits
    }
}

/// `[network] proxy`: which proxy outgoing requests use.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// The OS's proxy settings (the default).
    #[default]
    System,
    /// No proxy, whatever the system says.
    Direct,
    /// This proxy for every request.
    Explicit(ProxyUrl),
}

impl ProxySetting {
    /// Parses `system`, `direct` or an `http://[user:password@]host:port` URL. The error is
    /// the reason only: it never repeats the value, which may carry a password.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "" | "system" => Ok(Self::System),
            "direct" => Ok(Self::Direct),
            other => ProxyUrl::parse(other).map(Self::Explicit),
        }
    }

    /// The setting in words, credentials redacted.
    pub fn describe(&self) -> String {
        match self {
            Self::System => "system".into(),
            Self::Direct => "direct".into(),
            Self::Explicit(url) => url.to_string(),
        }
    }
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A proxy URL that may carry `user:password`: it prints as `http://***@host:port`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(Url);

impl ProxyUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|_| {
            "must be system, direct, or a proxy URL like http://proxy.example.com:8080".to_string()
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("the proxy URL must start with http:// or https://".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the proxy URL needs a host".into());
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(
                "the proxy URL is scheme://[user:password@]host:port, nothing after".into(),
            );
        }
        Ok(Self(url))
    }

    /// The URL with its credentials, for the HTTP client only.
    pub(crate) fn expose(&self) -> &str {
        self.0.as_str()
    }

    pub fn has_credentials(&self) -> bool {
        !self.0.username().is_empty() || self.0.password().is_some()
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.0.host_str().unwrap_or_default();
        let port = self.0.port_or_known_default().unwrap_or(80);
        let auth = if self.has_credentials() { "***@" } else { "" };
        write!(f, "{}://{auth}{host}:{port}", self.0.scheme())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
