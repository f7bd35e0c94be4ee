//! Genesys Cloud environments (regions) and the hosts derived from them.

use std::fmt;

/// The public Genesys Cloud environments, as listed in the platform SDKs' region table.
pub const KNOWN_ENVIRONMENTS: [&str; 17] = [
    "mypurecloud.com",
    "mypurecloud.ie",
    "mypurecloud.com.au",
    "mypurecloud.jp",
    "mypurecloud.de",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "apne2.pure.cloud",
    "euw2.pure.cloud",
    "aps1.pure.cloud",
    "use2.us-gov-pure.cloud",
    "sae1.pure.cloud",
    "mec1.pure.cloud",
    "apne3.pure.cloud",
    "euc2.pure.cloud",
    "mxc1.pure.cloud",
    "apse1.pure.cloud",
];

/// A validated Genesys Cloud environment such as `mypurecloud.ie`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenesysEnvironment(&'static str);

impl GenesysEnvironment {
    /// Looks the name up in the known list (case-insensitive, surrounding dots ignored).
    pub fn parse(name: &str) -> Option<Self> {
        let wanted = name.trim().trim_matches('.').to_ascii_lowercase();
        KNOWN_ENVIRONMENTS
            .iter()
            .find(|known| **known == wanted)
            .map(|known| Self(known))
    }

    pub fn name(&self) -> &'static str {
        self.0
    }

    /// `https://login.{env}`: authorize and token.
    pub fn login_base(&self) -> String {
        format!("https://login.{}", self.0)
    }

    /// `https://api.{env}`: REST API, and the origin the guide serves the embedded client from.
    pub fn api_base(&self) -> String {
        format!("https://api.{}", self.0)
    }

    /// `https://media.{env}`: media origin named by the guide's CSP and origin checks.
    pub fn media_base(&self) -> String {
        format!("https://media.{}", self.0)
    }

    /// `wss://streaming.{env}`: the notification channels' websockets (and the WebRTC SDK's
    /// signalling).
    pub fn streaming_base(&self) -> String {
        format!("wss://streaming.{}", self.0)
    }

    /// `https://apps.{env}`: where Genesys hosts its web apps, including embeddable clients.
    pub fn apps_base(&self) -> String {
        format!("https://apps.{}", self.0)
    }
}

impl fmt::Display for GenesysEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_environment_case_insensitively() {
        let env = GenesysEnvironment::parse(" MyPureCloud.IE ");
        assert_eq!(env.map(|e| e.name()), Some("mypurecloud.ie"));
    }

    #[test]
    fn rejects_unknown_and_lookalike_environments() {
        for bad in [
            "",
            "example.com",
            "mypurecloud.com.evil.com",
            "pure.cloud",
            "*.pure.cloud",
        ] {
            assert!(GenesysEnvironment::parse(bad).is_none(), "{bad} accepted");
        }
    }

    #[test]
    fn derives_hosts_from_the_environment() {
        let env = GenesysEnvironment::parse("usw2.pure.cloud").unwrap();
        assert_eq!(env.login_base(), "https://login.usw2.pure.cloud");
        assert_eq!(env.api_base(), "https://api.usw2.pure.cloud");
        assert_eq!(env.media_base(), "https://media.usw2.pure.cloud");
    }
}
