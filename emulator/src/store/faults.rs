//! Faults queued by the control API, each consumed by the requests of the endpoint it targets.

use oauth_wire::ErrorCode;

use super::Store;

/// What a queued fault does to the request that consumes it. Also the control API's `kind`
/// (`POST /_emulator/faults`): it serialises to the name [`FaultKind::parse`] reads, so the
/// test kit's client sends this very type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    ServerError,
    ServiceUnavailable,
    RateLimited,
    Hang,
    /// Waits `hang_secs`, then answers the token request normally (a slow but working server).
    Slow,
    Malformed,
    InvalidGrant,
    /// Applies to authorize requests.
    AuthorizeError,
    /// Applies to `users/me`: a 401 whatever the token (what the embedded client checks).
    UsersMeUnauthorized,
    /// Applies to the contact centre's Platform API routes: a 401 whatever the token (Genesys
    /// refusing the agent client's token mid-shift).
    ApiUnauthorized,
}

impl FaultKind {
    pub fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "server_error" => Self::ServerError,
            "service_unavailable" => Self::ServiceUnavailable,
            "rate_limited" => Self::RateLimited,
            "hang" => Self::Hang,
            "slow" => Self::Slow,
            "malformed" => Self::Malformed,
            "invalid_grant" => Self::InvalidGrant,
            "authorize_error" => Self::AuthorizeError,
            "users_me_unauthorized" => Self::UsersMeUnauthorized,
            "api_unauthorized" => Self::ApiUnauthorized,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerError => "server_error",
            Self::ServiceUnavailable => "service_unavailable",
            Self::RateLimited => "rate_limited",
            Self::Hang => "hang",
            Self::Slow => "slow",
            Self::Malformed => "malformed",
            Self::InvalidGrant => "invalid_grant",
            Self::AuthorizeError => "authorize_error",
            Self::UsersMeUnauthorized => "users_me_unauthorized",
            Self::ApiUnauthorized => "api_unauthorized",
        }
    }

    /// Every kind, for the name round-trip test.
    #[cfg(test)]
    const ALL: [FaultKind; 10] = [
        Self::ServerError,
        Self::ServiceUnavailable,
        Self::RateLimited,
        Self::Hang,
        Self::Slow,
        Self::Malformed,
        Self::InvalidGrant,
        Self::AuthorizeError,
        Self::UsersMeUnauthorized,
        Self::ApiUnauthorized,
    ];

    /// The endpoint this kind of fault applies to.
    pub fn target(self) -> FaultTarget {
        match self {
            Self::AuthorizeError => FaultTarget::Authorize,
            Self::UsersMeUnauthorized => FaultTarget::UsersMe,
            Self::ApiUnauthorized => FaultTarget::Api,
            _ => FaultTarget::Token,
        }
    }
}

impl serde::Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A queued fault. `remaining` counts the requests it still applies to.
#[derive(Clone, Debug)]
pub struct Fault {
    pub kind: FaultKind,
    pub remaining: u32,
    pub retry_after_secs: u64,
    pub hang_secs: u64,
    /// The OAuth error code of an `authorize_error`.
    pub error: Option<ErrorCode>,
}

/// Which endpoint is asking for a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultTarget {
    Authorize,
    Token,
    UsersMe,
    /// The contact centre's Platform API routes.
    Api,
}

impl Store {
    pub fn push_fault(&mut self, fault: Fault) {
        self.faults.push_back(fault);
    }

    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// Requests the queued faults still apply to.
    pub fn faults_pending(&self) -> u64 {
        self.faults.iter().map(|f| u64::from(f.remaining)).sum()
    }

    /// Consumes one application of the oldest fault queued for `target`.
    pub fn next_fault(&mut self, target: FaultTarget) -> Option<Fault> {
        let index = self.faults.iter().position(|f| f.kind.target() == target)?;
        let fault = self.faults.get_mut(index)?;
        let applied = fault.clone();
        fault.remaining = fault.remaining.saturating_sub(1);
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(applied)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::testing::store;

    #[test]
    fn every_kind_is_sent_by_the_name_the_control_api_reads() {
        for kind in FaultKind::ALL {
            let sent = serde_json::to_value(kind).unwrap();
            assert_eq!(FaultKind::parse(sent.as_str().unwrap()), Some(kind));
        }
        assert_eq!(FaultKind::parse("teapot"), None);
    }

    #[test]
    fn faults_are_consumed_per_target() {
        let mut s = store();
        for kind in [FaultKind::AuthorizeError, FaultKind::ServerError] {
            s.push_fault(Fault {
                kind,
                remaining: 2,
                retry_after_secs: 2,
                hang_secs: 1,
                error: Some(ErrorCode::AccessDenied),
            });
        }
        assert_eq!(s.faults_pending(), 4);
        assert_eq!(
            s.next_fault(FaultTarget::Token).unwrap().kind,
            FaultKind::ServerError
        );
        assert_eq!(
            s.next_fault(FaultTarget::Token).unwrap().kind,
            FaultKind::ServerError
        );
        assert!(s.next_fault(FaultTarget::Token).is_none());
        assert_eq!(s.faults_pending(), 2);
        assert_eq!(
            s.next_fault(FaultTarget::Authorize).unwrap().kind,
            FaultKind::AuthorizeError
        );
        s.push_fault(Fault {
            kind: FaultKind::UsersMeUnauthorized,
            remaining: 1,
            retry_after_secs: 2,
            hang_secs: 1,
            error: None,
        });
        assert!(s.next_fault(FaultTarget::Token).is_none());
        assert!(s.next_fault(FaultTarget::Authorize).is_some());
        assert_eq!(
            s.next_fault(FaultTarget::UsersMe).unwrap().kind,
            FaultKind::UsersMeUnauthorized
        );
        assert!(s.next_fault(FaultTarget::UsersMe).is_none());
    }
}
