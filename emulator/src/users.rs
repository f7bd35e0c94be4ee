//! The emulator's tiny user directory: one well-known agent plus deterministic users made up
//! on the fly, so `users/me` always has an answer and the same login gives the same id.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The user signed in by auto-approve and pre-filled on the login page.
pub const DEFAULT_USERNAME: &str = "agent@example.com";
const DEFAULT_USER_ID: &str = "a1b2c3d4-0000-4000-8000-000000000001";
const DEFAULT_USER_NAME: &str = "Alex Agent";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub username: String,
}

/// Looks up (or deterministically invents) the user for a login name.
pub fn user_for(username: &str) -> User {
    let username = username.trim().to_lowercase();
    if username == DEFAULT_USERNAME {
        return User {
            id: DEFAULT_USER_ID.to_owned(),
            name: DEFAULT_USER_NAME.to_owned(),
            email: DEFAULT_USERNAME.to_owned(),
            username,
        };
    }
    let email = if username.contains('@') {
        username.clone()
    } else {
        format!("{username}@example.com")
    };
    User {
        id: uuid_from(&username),
        name: display_name(&username),
        email,
        username,
    }
}

/// A v4-shaped UUID derived from the name, so restarts and repeated logins agree.
fn uuid_from(username: &str) -> String {
    let digest = Sha256::digest(format!("genesys-emulator-user:{username}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    crate::http::uuid_v4_shaped(b)
}

/// "jane.doe@corp.example" -> "Jane Doe".
fn display_name(username: &str) -> String {
    let local = username.split('@').next().unwrap_or(username);
    let words: Vec<String> = local
        .split(['.', '_', '-', '+'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect();
    if words.is_empty() {
        "Emulated User".to_owned()
    } else {
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_agent_is_fixed() {
        let u = user_for(" Agent@Example.com ");
        assert_eq!(u.id, DEFAULT_USER_ID);
        assert_eq!(u.name, "Alex Agent");
        assert_eq!(u.email, "agent@example.com");
    }

    #[test]
    fn other_users_are_deterministic() {
        let a = user_for("jane.doe@corp.example");
        assert_eq!(a, user_for("jane.doe@corp.example"));
        assert_eq!(a.name, "Jane Doe");
        assert_eq!(a.id.len(), 36);
        assert_eq!(&a.id[14..15], "4");
        assert_ne!(a.id, user_for("john@corp.example").id);
        assert_eq!(user_for("bob").email, "bob@example.com");
    }
}
