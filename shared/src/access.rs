//! Who may do what through the Farm API: grants (`submit:gate`, `submit:check`,
//! `submit:select`, `read`, `admin`) given to client certificate names and to bearer
//! tokens, kept only as SHA-256 digests, in the coordinator's access file:
//!
//! ```yaml
//! clients:                      # client certificate name → grants
//!   zuul: [submit:gate, submit:check, read]
//!   alice: [submit:select, read]
//!   ops: [admin, read]
//! tokens:                       # bearer tokens, by the hex SHA-256 of the token
//!   - name: gerrit-bot
//!     sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!     grants: [submit:check, read]
//! ```
//!
//! `submit` alone grants every mode. Reading a run, its logs, profiles and the
//! status is `read`; cancel, drain, quarantine and membership changes are `admin`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;

use crate::config::{locate, yaml_error, ConfigError};
use crate::model::Mode;

/// One thing a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    Submit(Mode),
    Read,
    Admin,
}

impl Grant {
    /// `submit:gate`, `read`, `admin`; `submit` is every mode.
    pub fn parse(text: &str) -> Option<Vec<Grant>> {
        let modes = [Mode::Gate, Mode::Check, Mode::Select];
        match text {
            "read" => Some(vec![Grant::Read]),
            "admin" => Some(vec![Grant::Admin]),
            "submit" => Some(modes.into_iter().map(Grant::Submit).collect()),
            _ => {
                let mode = Mode::parse(text.strip_prefix("submit:").filter(|m| !m.is_empty())?)?;
                Some(vec![Grant::Submit(mode)])
            }
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Submit(mode) => write!(f, "submit:{}", mode.as_str()),
            Grant::Read => f.write_str("read"),
            Grant::Admin => f.write_str("admin"),
        }
    }
}

/// A bearer token's holder and grants.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenHolder {
    pub name: String,
    pub grants: BTreeSet<Grant>,
}

/// The access file, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    clients: BTreeMap<String, BTreeSet<Grant>>,
    /// By the lowercase hex SHA-256 of the token.
    tokens: BTreeMap<String, TokenHolder>,
}

impl Policy {
    /// The grants of the client certificate named `name`; none when it is not listed.
    pub fn client(&self, name: &str) -> BTreeSet<Grant> {
        self.clients.get(name).cloned().unwrap_or_default()
    }

    /// The holder of the token whose SHA-256 is `digest` (lowercase hex).
    pub fn token(&self, digest: &str) -> Option<&TokenHolder> {
        self.tokens.get(digest)
    }

    pub fn has_tokens(&self) -> bool {
        !self.tokens.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    clients: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    tokens: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    sha256: String,
    grants: Vec<String>,
}

/// Parses and checks an access file; `file` names it in errors.
pub fn parse_policy(text: &str, file: &str) -> Result<Policy, ConfigError> {
    let raw: RawPolicy = serde_yaml_ng::from_str(text).map_err(|e| yaml_error(e, text, file))?;
    let error = |path: &[&str], message: String| ConfigError {
        file: file.into(),
        line: locate(text, path),
        field: path.join("."),
        message,
    };
    let grants = |path: &[&str], names: &[String]| -> Result<BTreeSet<Grant>, ConfigError> {
        let mut set = BTreeSet::new();
        for name in names {
            let parsed = Grant::parse(name).ok_or_else(|| {
                error(
                    path,
                    format!("unknown grant `{name}` (grants: submit, submit:gate, submit:check, submit:select, read, admin)"),
                )
            })?;
            set.extend(parsed);
        }
        Ok(set)
    };
    let mut policy = Policy::default();
    for (name, names) in &raw.clients {
        policy
            .clients
            .insert(name.clone(), grants(&["clients", name.as_str()], names)?);
    }
    for (n, token) in raw.tokens.iter().enumerate() {
        let index = n.to_string();
        let path = ["tokens", index.as_str(), "sha256"];
        let digest = token.sha256.to_ascii_lowercase();
        if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(error(
                &path,
                format!(
                    "token `{}`: `{}` is not a SHA-256 in hex (64 digits; `printf %s TOKEN | sha256sum`)",
                    token.name, token.sha256
                ),
            ));
        }
        let holder = TokenHolder {
            name: token.name.clone(),
            grants: grants(&["tokens", index.as_str(), "grants"], &token.grants)?,
        };
        if policy.tokens.insert(digest, holder).is_some() {
            return Err(error(
                &path,
                format!("token `{}`: the same token is listed twice", token.name),
            ));
        }
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "clients:\n  zuul: [submit:gate, read]\n  ops: [admin]\ntokens:\n  - name: bot\n    sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\n    grants: [submit]\n";

    #[test]
    fn grants_of_clients_and_tokens() {
        let p = parse_policy(FILE, "access.yaml").unwrap();
        assert_eq!(
            p.client("zuul"),
            BTreeSet::from([Grant::Submit(Mode::Gate), Grant::Read])
        );
        assert!(p.client("mallory").is_empty());
        let bot = p
            .token("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
            .unwrap();
        assert_eq!(bot.name, "bot");
        assert_eq!(bot.grants.len(), 3, "submit is every mode");
        assert_eq!(Grant::Submit(Mode::Check).to_string(), "submit:check");
    }

    #[test]
    fn a_bad_grant_or_digest_is_named_with_its_line() {
        let e = parse_policy("clients:\n  zuul: [submit:gate, write]\n", "access.yaml").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "clients.zuul"), "{e}");
        assert!(e.message.contains("unknown grant `write`"), "{e}");
        let e = parse_policy(
            "tokens:\n  - name: bot\n    sha256: abc\n    grants: [read]\n",
            "a.yaml",
        )
        .unwrap_err();
        assert!(e.message.contains("not a SHA-256"), "{e}");
        let e = parse_policy("client:\n  zuul: [read]\n", "a.yaml").unwrap_err();
        assert!(e.to_string().contains("client"), "{e}");
    }
}
