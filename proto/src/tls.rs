//! Mutual TLS on every farm connection: one party's credentials (the farm CA, its
//! certificate and key, as `farm certs issue` writes them into a directory), the
//! tonic server and client configurations made from them, and the role and name a
//! peer's certificate proves.
//!
//! A certificate names its holder in the subject's common name and its role in the
//! organizational unit (`coordinator`, `agent`, `client`). Coordinator certificates
//! also carry [`COORDINATOR_DOMAIN`], the one name every client checks a coordinator
//! against, so that a coordinator's certificate does not depend on the address it
//! is reached at (loopback in tests, a compose service name, a host's IP).

use std::fmt;
use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// The server name in every coordinator certificate, checked by every client.
pub const COORDINATOR_DOMAIN: &str = "coordinator.testfarm";

/// The files of one party's credentials directory.
pub const CA_FILE: &str = "ca.pem";
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";

/// What a certificate lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A raft member: raft and membership traffic, forwarded commands.
    Coordinator,
    /// An agent, under the agent id that is its certificate's name.
    Agent,
    /// A person or a CI system: submit, read, operate.
    Client,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Agent => "agent",
            Role::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Coordinator, Role::Agent, Role::Client]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source} (make credentials with `farm certs issue`)", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {why}", path.display())]
    Invalid { path: PathBuf, why: String },
}

/// One party's credentials: the farm CA it trusts, its certificate and key (PEM).
#[derive(Clone)]
pub struct Tls {
    dir: PathBuf,
    ca: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("Tls").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads `ca.pem`, `cert.pem` and `key.pem` from `dir`, checking that the
    /// certificate parses and names a role.
    pub fn load(dir: &Path) -> Result<Tls, TlsError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| TlsError::Read { path, source })
        };
        let tls = Tls {
            dir: dir.to_path_buf(),
            ca: read(CA_FILE)?,
            cert: read(CERT_FILE)?,
            key: read(KEY_FILE)?,
        };
        let path = dir.join(CERT_FILE);
        let der = pem_der(&tls.cert).ok_or_else(|| TlsError::Invalid {
            path: path.clone(),
            why: "not a PEM certificate".into(),
        })?;
        if identity_of(&der).is_none() {
            return Err(TlsError::Invalid {
                path,
                why: "the certificate names no farm role (organizational unit coordinator, agent or client)".into(),
            });
        }
        if let Some(until) = tls.valid_until() {
            if until.days_left() < 0 {
                return Err(TlsError::Invalid {
                    path,
                    why: format!(
                        "the certificate expired on {} (issue a new one with `farm certs issue`)",
                        until.text
                    ),
                });
            }
        }
        Ok(tls)
    }

    /// When the certificate stops being valid.
    pub fn valid_until(&self) -> Option<ValidUntil> {
        let der = pem_der(&self.cert)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
        let not_after = cert.validity().not_after;
        Some(ValidUntil {
            unix: not_after.timestamp(),
            text: not_after.to_string(),
        })
    }

    /// The server names a coordinator certificate carries (empty for others).
    pub fn server_names(&self) -> Vec<String> {
        let Some(der) = pem_der(&self.cert) else {
            return Vec::new();
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
            return Vec::new();
        };
        let Ok(Some(san)) = cert.subject_alternative_name() else {
            return Vec::new();
        };
        san.value
            .general_names
            .iter()
            .map(|name| match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => dns.to_string(),
                x509_parser::extensions::GeneralName::IPAddress(ip) => match ip.len() {
                    4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap_or_default()).to_string(),
                    16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap_or_default()).to_string(),
                    _ => format!("{ip:?}"),
                },
                other => other.to_string(),
            })
            .collect()
    }

    /// The directory the credentials came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Who these credentials say their holder is.
    pub fn peer(&self) -> Option<Peer> {
        identity_of(&pem_der(&self.cert)?)
    }

    /// The server side: this party's identity, and client certificates checked
    /// against the farm CA — required, unless `tokens_too` (bearer-token clients
    /// present none; every service then refuses a call without one that the token
    /// does not cover).
    pub fn server(&self, tokens_too: bool) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert, &self.key))
            .client_ca_root(Certificate::from_pem(&self.ca))
            .client_auth_optional(tokens_too)
    }

    /// The client side: the coordinator checked against the farm CA under
    /// [`COORDINATOR_DOMAIN`], and this party's certificate presented.
    pub fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .identity(Identity::from_pem(&self.cert, &self.key))
            .domain_name(COORDINATOR_DOMAIN)
    }
}

/// A coordinator's address as a URL: `host:port` becomes `http://host:port`, or
/// `https://host:port` with TLS (a given scheme is switched to match).
pub fn coordinator_url(addr: &str, tls: Option<&Tls>) -> String {
    let rest = addr
        .strip_prefix("http://")
        .or_else(|| addr.strip_prefix("https://"))
        .unwrap_or(addr);
    match tls {
        Some(_) => format!("https://{rest}"),
        None => format!("http://{rest}"),
    }
}

/// An endpoint for a coordinator at `addr`, over TLS with these credentials when
/// given.
pub fn endpoint(addr: &str, tls: Option<&Tls>) -> Result<Endpoint, EndpointError> {
    let url = coordinator_url(addr, tls);
    let endpoint = Endpoint::from_shared(url.clone()).map_err(|e| EndpointError {
        url: url.clone(),
        why: e.to_string(),
    })?;
    match tls {
        Some(tls) => endpoint.tls_config(tls.client()).map_err(|e| EndpointError {
            url,
            why: e.to_string(),
        }),
        None => Ok(endpoint),
    }
}

/// The end of a certificate's validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUntil {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// As the certificate says it, e.g. `Dec  4 03:12:56 2027 +00:00`.
    pub text: String,
}

impl ValidUntil {
    /// Whole days from now to the end (negative once past).
    pub fn days_left(&self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        (self.unix - now).div_euclid(86_400)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("coordinator address `{url}`: {why}")]
pub struct EndpointError {
    pub url: String,
    pub why: String,
}

/// Who is on the other end of a connection, as its certificate proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub role: Role,
    pub name: String,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.role, self.name)
    }
}

/// The peer of a request that came over mutual TLS; None on a plain connection or
/// with a certificate that names no farm role.
pub fn peer<T>(request: &tonic::Request<T>) -> Option<Peer> {
    let certs = request.peer_certs()?;
    identity_of(certs.first()?.as_ref())
}

fn identity_of(der: &[u8]) -> Option<Peer> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let text = |attr: Option<&x509_parser::x509::AttributeTypeAndValue>| attr?.as_str().ok().map(str::to_string);
    let role = Role::parse(&text(subject.iter_organizational_unit().next())?)?;
    let name = text(subject.iter_common_name().next())?;
    Some(Peer { role, name })
}

/// The DER bytes of the first certificate in a PEM text.
fn pem_der(pem: &[u8]) -> Option<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    Some(pem.contents)
}
