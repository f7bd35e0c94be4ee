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

/// A validated Genesys Cloud environment such as `mypurecloud.ie`: one of the listed regions,
/// or a region machine policy defines (`custom_environment`) for a region newer than this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesysEnvironment {
    name: String,
    listed: bool,
}

/// Why a policy-defined environment's name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("it is empty")]
    Empty,
    #[error("it is longer than 253 characters")]
    TooLong,
    #[error("a Genesys region is a domain of at least two labels, such as euc3.pure.cloud")]
    SingleLabel,
    #[error("each label is 1-63 letters, digits or inner hyphens (no wildcards, ports, paths or schemes)")]
    BadLabel,
    #[error("it is an IP address or a local name, not a Genesys region")]
    NotPublic,
}

impl GenesysEnvironment {
    /// Looks the name up in the known list (case-insensitive, surrounding dots ignored).
    pub fn parse(name: &str) -> Option<Self> {
        let wanted = normalise(name);
        KNOWN_ENVIRONMENTS
            .iter()
            .find(|known| **known == wanted)
            .map(|known| Self {
                name: known.to_string(),
                listed: true,
            })
    }

    /// A region machine policy defines: a public DNS name under which Genesys's hosts
    /// (`login.`, `api.`, `apps.`, `streaming.`, `media.`) live, checked as strictly as a
    /// hostname can be. A listed name is returned as listed.
    pub fn defined_by_policy(domain: &str) -> Result<Self, DomainError> {
        if let Some(listed) = Self::parse(domain) {
            return Ok(listed);
        }
        let name = normalise(domain);
        if name.is_empty() {
            return Err(DomainError::Empty);
        }
        if name.len() > 253 {
            return Err(DomainError::TooLong);
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 2 {
            return Err(DomainError::SingleLabel);
        }
        let label_ok = |label: &&str| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !labels.iter().all(label_ok) {
            return Err(DomainError::BadLabel);
        }
        let top = labels.last().copied().unwrap_or_default();
        let local_suffix = ["localhost", "local", "internal", "lan", "home", "arpa"];
        if top.bytes().all(|b| b.is_ascii_digit()) || local_suffix.contains(&top) {
            return Err(DomainError::NotPublic);
        }
        Ok(Self {
            name,
            listed: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this build lists the region (false: machine policy defined it).
    pub fn is_listed(&self) -> bool {
        self.listed
    }

    /// `https://login.{env}`: authorize and token.
    pub fn login_base(&self) -> String {
        format!("https://login.{}", self.name)
    }

    /// `https://api.{env}`: REST API, and the origin the guide serves the embedded client from.
    pub fn api_base(&self) -> String {
        format!("https://api.{}", self.name)
    }

    /// `https://media.{env}`: media origin named by the guide's CSP and origin checks.
    pub fn media_base(&self) -> String {
        format!("https://media.{}", self.name)
    }

    /// `wss://streaming.{env}`: the notification channels' websockets (and the WebRTC SDK's
    /// signalling).
    pub fn streaming_base(&self) -> String {
        format!("wss://streaming.{}", self.name)
    }

    /// `https://apps.{env}`: where Genesys hosts its web apps, including embeddable clients.
    pub fn apps_base(&self) -> String {
        format!("https://apps.{}", self.name)
    }
}

fn normalise(name: &str) -> String {
    name.trim().trim_matches('.').to_ascii_lowercase()
}

impl fmt::Display for GenesysEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_environment_case_insensitively() {
        let env = GenesysEnvironment::parse(" MyPureCloud.IE ");
        assert_eq!(env.as_ref().map(|e| e.name()), Some("mypurecloud.ie"));
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

    #[test]
    fn a_policy_defined_region_is_a_public_domain_and_derives_the_same_hosts() {
        let env = GenesysEnvironment::defined_by_policy(" EUC3.Pure.Cloud ").unwrap();
        assert_eq!(env.name(), "euc3.pure.cloud");
        assert!(!env.is_listed());
        assert_eq!(env.login_base(), "https://login.euc3.pure.cloud");
        assert_eq!(env.api_base(), "https://api.euc3.pure.cloud");
        assert_eq!(env.streaming_base(), "wss://streaming.euc3.pure.cloud");
        assert_eq!(env.apps_base(), "https://apps.euc3.pure.cloud");
        // A listed name stays listed.
        assert!(GenesysEnvironment::defined_by_policy("mypurecloud.ie")
            .unwrap()
            .is_listed());
    }

    #[test]
    fn a_policy_defined_region_refuses_anything_but_a_hostname() {
        for (bad, why) in [
            ("", DomainError::Empty),
            ("cloud", DomainError::SingleLabel),
            ("*.pure.cloud", DomainError::BadLabel),
            ("https://euc3.pure.cloud", DomainError::BadLabel),
            ("euc3.pure.cloud:443", DomainError::BadLabel),
            ("euc3.pure.cloud/x", DomainError::BadLabel),
            ("euc3..cloud", DomainError::BadLabel),
            ("-bad.pure.cloud", DomainError::BadLabel),
            ("ex ample.cloud", DomainError::BadLabel),
            ("10.0.0.1", DomainError::NotPublic),
            ("genesys.localhost", DomainError::NotPublic),
            ("genesys.internal", DomainError::NotPublic),
        ] {
            assert_eq!(
                GenesysEnvironment::defined_by_policy(bad),
                Err(why),
                "{bad:?}"
            );
        }
        let long = format!("{}.cloud", ["a"; 130].join("."));
        assert_eq!(
            GenesysEnvironment::defined_by_policy(&long),
            Err(DomainError::TooLong)
        );
    }
}
