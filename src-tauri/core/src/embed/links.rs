//! Where the webview may navigate, and which links leave it for the system browser.
//!
//! The main webview shows the app's own page and, in its iframe, the embedded client; nothing
//! else. Any other navigation is cancelled. Links the client opens (window.open,
//! target=_blank) never become webview windows: https links on allowed hosts go to the system
//! browser, everything else is refused with a reason. The optional CRM hook builds its URL
//! from a template the admin configured, once per interaction.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::Url;

use crate::config::{origin_of, CrmTemplate, HostPattern, ShellConfig, AGENT_CLIENT_SCHEME};
use crate::error::{Code, ErrorCode};

/// Where the app's own page is served from on this platform: the custom protocol is
/// `tauri://localhost` on Linux and macOS and `http://tauri.localhost` on Windows (Tauri's
/// default; `useHttpsScheme` is not set). Only this platform's form is admitted: elsewhere
/// `tauri.localhost` is an ordinary host name that may resolve to a local server.
#[cfg(not(windows))]
pub const APP_ORIGIN: &str = "tauri://localhost";
#[cfg(windows)]
pub const APP_ORIGIN: &str = "http://tauri.localhost";

/// At most this many CRM pages per [`CRM_WINDOW`]: a client that floods interaction-end
/// messages cannot flood the agent's browser.
const CRM_MAX_OPENS: usize = 6;
const CRM_WINDOW: Duration = Duration::from_secs(60);
/// Interaction ids remembered so a repeated interaction-end opens nothing.
const CRM_REMEMBERED_IDS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not a valid URL")]
    Invalid,
    #[error("only https links open in the browser; this one is {scheme}")]
    NotHttps { scheme: String },
    #[error("links with a user name or password are never opened")]
    HasCredentials,
    #[error("{host} is not on the list of sites Agent Shell may open (links.allowed_hosts)")]
    HostNotAllowed { host: String },
}

impl ErrorCode for LinkError {
    fn error_code(&self) -> Code {
        match self {
            Self::Invalid => Code::LinkInvalid,
            Self::NotHttps { .. } => Code::LinkNotHttps,
            Self::HasCredentials => Code::LinkHasCredentials,
            Self::HostNotAllowed { .. } => Code::LinkHostNotAllowed,
        }
    }
}

/// What one interaction offers the CRM template: its id (the Genesys conversation id) and
/// what the client reported when it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InteractionFacts {
    pub interaction_id: String,
    pub ani: Option<String>,
    pub queue_name: Option<String>,
    pub attributes: std::collections::BTreeMap<String, String>,
}

impl InteractionFacts {
    pub fn id_only(interaction_id: &str) -> Self {
        Self {
            interaction_id: interaction_id.to_string(),
            ..Self::default()
        }
    }
}

impl CrmTemplate {
    /// The URL for one interaction, every value percent-encoded (an absent one is empty).
    pub fn render(&self, facts: &InteractionFacts) -> Result<Url, LinkError> {
        let encode = oauth_wire::form_encode;
        let text = Self::fill(&self.template, |name| match name {
            "interactionId" => encode(&facts.interaction_id),
            "ani" => facts.ani.as_deref().map(encode).unwrap_or_default(),
            "queueName" => facts.queue_name.as_deref().map(encode).unwrap_or_default(),
            other => other
                .strip_prefix("attribute.")
                .and_then(|key| facts.attributes.get(key))
                .map(|v| encode(v))
                .unwrap_or_default(),
        });
        Url::parse(&text).map_err(|_| LinkError::Invalid)
    }
}

/// What may be shown in the webview and what may leave it for the system browser.
#[derive(Debug, Clone)]
pub struct LinkPolicy {
    client_origins: Vec<String>,
    allowed_hosts: Vec<HostPattern>,
}

impl LinkPolicy {
    pub fn for_config(config: &ShellConfig) -> Self {
        let mut allowed_hosts = config.links.allowed_hosts.clone();
        if let Some(crm) = &config.links.crm_interaction_url {
            allowed_hosts.push(HostPattern::Exact(crm.host().to_string()));
        }
        Self {
            client_origins: config.endpoints.client_origins(),
            allowed_hosts,
        }
    }

    /// Whether the webview may load `url` in the main frame or a subframe. WebKitGTK does not
    /// say which frame is navigating, so this admits the union: the app page, the embedded
    /// client's exact origins (the iframe, which cannot navigate the top window: it is
    /// sandboxed without allow-top-navigation) and blank frames.
    pub fn allows_navigation(&self, url: &Url) -> bool {
        match url.scheme() {
            "about" => matches!(url.path(), "blank" | "srcdoc"),
            "tauri" | "http" | "https" | AGENT_CLIENT_SCHEME => {
                let origin = origin_of(url);
                origin == APP_ORIGIN || self.client_origins.contains(&origin)
            }
            _ => false,
        }
    }

    /// Checks a link the embedded client wants opened; the URL to hand to the system browser.
    pub fn external_link(&self, url: &Url) -> Result<Url, LinkError> {
        if url.scheme() != "https" {
            return Err(LinkError::NotHttps {
                scheme: url.scheme().to_string(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(LinkError::HasCredentials);
        }
        let Some(host) = url.host().map(|h| h.to_string()) else {
            return Err(LinkError::Invalid);
        };
        if self.allowed_hosts.iter().any(|p| p.matches(&host)) {
            Ok(url.clone())
        } else {
            Err(LinkError::HostNotAllowed { host })
        }
    }

    /// Before any configuration: the app page and nothing else.
    pub fn app_only() -> Self {
        Self {
            client_origins: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }

    /// Microphone and camera for the softphone. The platform's request names no origin, so the
    /// decision rests on what can be loaded at all (the app page, and in its iframe only the
    /// client's origins): granted while the main frame is the app page, an embedded client is
    /// configured and a session is active; refused otherwise.
    pub fn allows_media(&self, main_frame: &Url, session_active: bool) -> bool {
        session_active && !self.client_origins.is_empty() && origin_of(main_frame) == APP_ORIGIN
    }
}

/// Whether a page the main frame started loading is off the app's own origin. The navigation
/// lock has to admit the client's origins for the iframe (WebKitGTK does not say which frame
/// navigates); this catches the main frame landing on one of them, so the window can be sent
/// back to the app page.
pub fn main_frame_strayed(url: &Url) -> bool {
    matches!(
        url.scheme(),
        "tauri" | "http" | "https" | AGENT_CLIENT_SCHEME
    ) && origin_of(url) != APP_ORIGIN
}

/// The app page, where a strayed main frame is sent back.
pub fn app_page() -> Result<Url, url::ParseError> {
    Url::parse(&format!("{APP_ORIGIN}/"))
}

/// The scheme and host of a URL, for logs: paths and queries can carry personal data.
pub fn redacted(url: &Url) -> String {
    match url.host_str() {
        Some(host) => format!("{}://{host}/…", url.scheme()),
        None => format!("{}:…", url.scheme()),
    }
}

/// What the CRM hook does with one interaction-end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrmAction {
    Open(Url),
    /// This interaction already opened its page.
    Duplicate,
    /// Too many pages in the last minute; this one is skipped (and logged).
    RateLimited,
    /// The id does not make a valid URL with the template (cannot happen for ids that passed
    /// `ClientEvent::parse`; logged if it does).
    Invalid,
}

/// The post-interaction hook: one CRM page per interaction, rate limited.
#[derive(Debug)]
pub struct CrmHook {
    template: CrmTemplate,
    recent_ids: Mutex<VecDeque<String>>,
    recent_opens: Mutex<VecDeque<Instant>>,
}

impl CrmHook {
    pub fn new(template: CrmTemplate) -> Self {
        Self {
            template,
            recent_ids: Mutex::new(VecDeque::new()),
            recent_opens: Mutex::new(VecDeque::new()),
        }
    }

    pub fn for_config(config: &ShellConfig) -> Option<Self> {
        config.links.crm_interaction_url.clone().map(Self::new)
    }

    pub fn on_interaction_end(&self, facts: &InteractionFacts, now: Instant) -> CrmAction {
        let interaction_id = facts.interaction_id.as_str();
        let mut ids = self
            .recent_ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if ids.iter().any(|id| id == interaction_id) {
            return CrmAction::Duplicate;
        }
        let mut opens = self
            .recent_opens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while opens
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= CRM_WINDOW)
        {
            opens.pop_front();
        }
        if opens.len() >= CRM_MAX_OPENS {
            return CrmAction::RateLimited;
        }
        let Ok(url) = self.template.render(facts) else {
            return CrmAction::Invalid;
        };
        opens.push_back(now);
        ids.push_back(interaction_id.to_string());
        if ids.len() > CRM_REMEMBERED_IDS {
            ids.pop_front();
        }
        CrmAction::Open(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    const BASE: &str = "environment = \"mypurecloud.ie\"\nclient_id = \"abc\"\n";

    fn policy(extra: &str) -> LinkPolicy {
        LinkPolicy::for_config(&parse_str(&format!("{BASE}{extra}")).unwrap())
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_main_frame_off_the_app_origin_has_strayed() {
        assert!(!main_frame_strayed(&url(&format!(
            "{APP_ORIGIN}/index.html"
        ))));
        assert!(!main_frame_strayed(&app_page().unwrap()));
        assert!(main_frame_strayed(&url(
            "https://api.mypurecloud.ie/embedded-client/"
        )));
        assert!(main_frame_strayed(&url("http://127.0.0.1:8080/")));
        assert!(!main_frame_strayed(&url("about:blank")));
    }

    #[test]
    fn navigation_stays_on_the_app_page_and_the_client_origins() {
        // A page of IT's own: its environment's api and media origins.
        let own = policy("[embed]\nclient_url = \"https://api.mypurecloud.ie/our-client/\"\n");
        for ok in [
            "https://api.mypurecloud.ie/our-client/",
            "https://media.mypurecloud.ie/anything?x=1",
        ] {
            assert!(own.allows_navigation(&url(ok)), "{ok} refused");
        }
        // The agent client (the default): its own origin, and no Genesys host is ever framed.
        let p = policy("");
        for ok in [
            &format!("{APP_ORIGIN}/index.html"),
            "about:blank",
            "about:srcdoc",
            &format!("{}/index.html", crate::config::AGENT_CLIENT_ORIGIN),
        ] {
            assert!(p.allows_navigation(&url(ok)), "{ok} refused");
        }
        assert!(main_frame_strayed(&url(&format!(
            "{}/index.html",
            crate::config::AGENT_CLIENT_ORIGIN
        ))));
        for bad in [
            "https://api.mypurecloud.ie/embedded-client/",
            "https://media.mypurecloud.ie/anything?x=1",
            "agent-client://evil/index.html",
            "https://api.mypurecloud.com/embedded-client/",
            "https://evil.example.net/",
            "http://api.mypurecloud.ie/",
            "https://api.mypurecloud.ie:8443/",
            "https://login.mypurecloud.ie/oauth/authorize",
            "tauri://evil/",
            // The other platforms' app origins: ordinary hosts here.
            #[cfg(not(windows))]
            "http://tauri.localhost/",
            "https://tauri.localhost/x",
            #[cfg(windows)]
            "tauri://localhost/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,hi",
            "about:config",
        ] {
            assert!(!p.allows_navigation(&url(bad)), "{bad} allowed");
        }
    }

    #[test]
    fn media_only_for_the_app_page_with_a_client_and_a_session() {
        let p = policy("");
        let app = url(&format!("{APP_ORIGIN}/index.html"));
        assert!(p.allows_media(&app, true));
        assert!(!p.allows_media(&app, false));
        assert!(!p.allows_media(&url("https://api.mypurecloud.ie/embedded-client/"), true));
        assert!(!p.allows_media(&url("https://evil.example.net/"), true));
        #[cfg(not(windows))]
        assert!(!p.allows_media(&url("http://tauri.localhost/"), true));
        assert!(!LinkPolicy::app_only().allows_media(&app, true));
    }

    #[test]
    fn external_links_must_be_https_on_an_allowed_host() {
        let p = policy("[links]\nallowed_hosts = [\"help.example.com\", \"*.crm.example.org\"]\n");
        assert!(p
            .external_link(&url("https://help.example.com/a?b=c"))
            .is_ok());
        assert!(p
            .external_link(&url("https://eu.crm.example.org/case/1"))
            .is_ok());
        assert_eq!(
            p.external_link(&url("https://crm.example.org/")),
            Err(LinkError::HostNotAllowed {
                host: "crm.example.org".into()
            })
        );
        assert_eq!(
            p.external_link(&url("http://help.example.com/")),
            Err(LinkError::NotHttps {
                scheme: "http".into()
            })
        );
        assert_eq!(
            p.external_link(&url("https://user:pw@help.example.com/")),
            Err(LinkError::HasCredentials)
        );
        for bad in [
            "https://help.example.com.evil.net/",
            "https://evilhelp.example.com/",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "https://help.mypurecloud.com/", // the default list is replaced, not extended
            "https://help.genesys.cloud/",
        ] {
            assert!(p.external_link(&url(bad)).is_err(), "{bad} allowed");
        }
        let defaults = policy("");
        assert!(defaults
            .external_link(&url("https://help.mypurecloud.com/articles/x"))
            .is_ok());
    }

    #[test]
    fn host_patterns_are_plain_hosts_or_a_leading_wildcard() {
        assert_eq!(
            HostPattern::parse("Help.Example.COM"),
            Ok(HostPattern::Exact("help.example.com".into()))
        );
        assert_eq!(
            HostPattern::parse("*.example.com"),
            Ok(HostPattern::Subdomains("example.com".into()))
        );
        for bad in [
            "https://help.example.com",
            "help.example.com/path",
            "help.example.com:443",
            "*.com",
            "a.*.example.com",
            "*",
            "",
            "*.10.0.0.1",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad} accepted");
        }
        let any_sub = HostPattern::Subdomains("example.com".into());
        assert!(any_sub.matches("a.example.com"));
        assert!(any_sub.matches("a.b.example.com"));
        assert!(!any_sub.matches("example.com"));
        assert!(!any_sub.matches("badexample.com"));
    }

    #[test]
    fn crm_template_renders_an_encoded_id_and_adds_its_host() {
        let template =
            CrmTemplate::parse("https://crm.example.com/case?interaction={interactionId}&src=gc")
                .unwrap();
        assert_eq!(template.host(), "crm.example.com");
        assert_eq!(
            template
                .render(&InteractionFacts::id_only("a1:b2@c"))
                .unwrap()
                .as_str(),
            "https://crm.example.com/case?interaction=a1%3Ab2%40c&src=gc"
        );
        // Ids are whole path segments: dots inside one stay put.
        let in_path =
            CrmTemplate::parse("https://crm.example.com/t/acme/case/{interactionId}/view").unwrap();
        assert_eq!(
            in_path
                .render(&InteractionFacts::id_only("a..b"))
                .unwrap()
                .path(),
            "/t/acme/case/a..b/view"
        );
        let p =
            policy("[crm]\ninteraction_url = \"https://crm.example.com/case/{interactionId}\"\n");
        assert!(p
            .external_link(&url("https://crm.example.com/case/1"))
            .is_ok());
        for bad in [
            "https://crm.example.com/case",
            "http://crm.example.com/{interactionId}",
            "https://{interactionId}.example.com/",
            "https://crm.example.com/{interactionId}/{userId}",
            "https://user:pw@crm.example.com/{interactionId}",
            "https://10.0.0.1/{interactionId}",
            "crm.example.com/{interactionId}",
        ] {
            assert!(CrmTemplate::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn crm_template_offers_the_caller_queue_and_attributes() {
        let template = CrmTemplate::parse(
            "https://crm.example.com/screen?c={interactionId}&ani={ani}&q={queueName}&acct={attribute.account_id}",
        )
        .unwrap();
        let facts = InteractionFacts {
            interaction_id: "c-1".into(),
            ani: Some("+1 555 0100".into()),
            queue_name: Some("Sales & Support".into()),
            attributes: [("account_id".to_string(), "42/x".to_string())].into(),
        };
        assert_eq!(
            template.render(&facts).unwrap().as_str(),
            "https://crm.example.com/screen?c=c-1&ani=%2B1+555+0100&q=Sales+%26+Support&acct=42%2Fx"
        );
        // Absent values are empty, never the placeholder.
        assert_eq!(
            template
                .render(&InteractionFacts::id_only("c-2"))
                .unwrap()
                .as_str(),
            "https://crm.example.com/screen?c=c-2&ani=&q=&acct="
        );
        for bad in [
            "https://crm.example.com/{interactionId}/{attribute.}",
            "https://crm.example.com/{interactionId}/{attribute.a b}",
            "https://crm.example.com/{interactionId}/{ani",
            "https://crm.example.com/{interactionId}}",
            "https://{ani}.example.com/{interactionId}",
        ] {
            assert!(CrmTemplate::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn crm_hook_opens_once_per_interaction_and_at_most_six_a_minute() {
        let hook =
            CrmHook::new(CrmTemplate::parse("https://crm.example.com/{interactionId}").unwrap());
        let start = Instant::now();
        assert_eq!(
            hook.on_interaction_end(&InteractionFacts::id_only("i-1"), start),
            CrmAction::Open(url("https://crm.example.com/i-1"))
        );
        assert_eq!(
            hook.on_interaction_end(&InteractionFacts::id_only("i-1"), start),
            CrmAction::Duplicate
        );
        for n in 2..=6 {
            assert!(matches!(
                hook.on_interaction_end(&InteractionFacts::id_only(&format!("i-{n}")), start),
                CrmAction::Open(_)
            ));
        }
        assert_eq!(
            hook.on_interaction_end(
                &InteractionFacts::id_only("i-7"),
                start + Duration::from_secs(10)
            ),
            CrmAction::RateLimited
        );
        // A minute later there is room again, and the skipped interaction can still open.
        assert!(matches!(
            hook.on_interaction_end(
                &InteractionFacts::id_only("i-7"),
                start + Duration::from_secs(61)
            ),
            CrmAction::Open(_)
        ));
    }
}
