//! Who may call what. With TLS, every connection is mutual TLS with a certificate of
//! the farm CA (the handshake refuses anything else), and each service lets in only
//! the roles it serves: raft traffic and forwarded commands only from coordinators,
//! agent calls only from agents, and each agent only under the agent id its
//! certificate names; the Farm API, cluster status and membership from clients (and
//! coordinators). A refusal is
//! PERMISSION_DENIED naming caller and call, and is counted in
//! `farm_calls_refused_total{service}`. Without TLS nothing is checked (and the
//! coordinator says so loudly at start).

use std::collections::BTreeSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use testfarm_proto::tls::{self, Role};
use testfarm_shared::access::{Grant, Policy, TokenHolder};
use tonic::{Request, Status};

/// A service's gate: the roles it lets in.
#[derive(Clone, Copy)]
pub struct Gate {
    /// False without TLS: everything passes.
    enabled: bool,
    service: &'static str,
    roles: &'static [Role],
    /// A call without a certificate may go on to present a bearer token (the Farm
    /// API, when the access file lists tokens); the handler checks it.
    tokens: bool,
}

impl Gate {
    pub fn new(enabled: bool, service: &'static str, roles: &'static [Role]) -> Gate {
        Gate {
            enabled,
            service,
            roles,
            tokens: false,
        }
    }

    /// The same gate, letting calls without a certificate on to their token check.
    pub fn or_token(self, tokens: bool) -> Gate {
        Gate { tokens, ..self }
    }

    /// The role check, as a tonic interceptor in front of the whole service.
    pub fn check(&self, request: Request<()>) -> Result<Request<()>, Status> {
        self.admit(&request)?;
        Ok(request)
    }

    /// The role check of one call.
    pub fn admit<T>(&self, request: &Request<T>) -> Result<(), Status> {
        if !self.enabled {
            return Ok(());
        }
        match tls::peer(request) {
            Some(peer) if self.roles.contains(&peer.role) => Ok(()),
            Some(peer) => Err(self.refuse(format!("{peer} may not call the {} service", self.service))),
            None if self.tokens => Ok(()),
            None => Err(self.refuse(format!(
                "the {} service takes calls only with a farm certificate naming a role",
                self.service
            ))),
        }
    }

    fn refuse(&self, why: String) -> Status {
        crate::metrics::call_refused(self.service);
        tracing::warn!(service = self.service, "call refused: {why}");
        Status::permission_denied(why)
    }
}

/// The agent calls' second check: an agent speaks only for the agent id its
/// certificate names .
pub fn speaks_for<T>(enabled: bool, request: &Request<T>, agent_id: &str) -> Result<(), Status> {
    if !enabled {
        return Ok(());
    }
    match tls::peer(request) {
        Some(peer) if peer.role == Role::Agent && peer.name == agent_id => Ok(()),
        Some(peer) => {
            crate::metrics::call_refused("agent");
            tracing::warn!(%peer, agent_id, "call refused: not this agent's certificate");
            Err(Status::permission_denied(format!(
                "{peer} may not speak for agent `{agent_id}`"
            )))
        }
        None => Err(Status::permission_denied("agent calls need an agent certificate")),
    }
}

pub const FARM_ROLES: &[Role] = &[Role::Client, Role::Coordinator];
pub const AGENT_ROLES: &[Role] = &[Role::Agent];
/// The raft service: cluster status and membership for clients too (`farm cluster`).
pub const CLUSTER_ROLES: &[Role] = &[Role::Coordinator, Role::Client];
/// Raft messages and forwarded commands: members only.
pub const PEER_ROLES: &[Role] = &[Role::Coordinator];

/// What the Farm API checks of each call: with an access file, the grants of the
/// caller's client certificate or bearer token (`authorization: Bearer TOKEN`);
/// without one, any caller the TLS gate let in may do everything.
#[derive(Clone, Default)]
pub struct Access {
    pub tls: bool,
    pub policy: Option<Arc<Policy>>,
}

/// Who called, and what they may do.
pub struct Caller {
    who: String,
    grants: Option<BTreeSet<Grant>>,
}

impl Caller {
    /// Ok when the caller holds `grant`; else PERMISSION_DENIED naming both.
    pub fn require(&self, grant: Grant) -> Result<(), Status> {
        match &self.grants {
            None => Ok(()),
            Some(grants) if grants.contains(&grant) => Ok(()),
            Some(_) => {
                crate::metrics::call_refused("farm");
                tracing::warn!(caller = %self.who, %grant, "call refused: grant missing");
                Err(Status::permission_denied(format!(
                    "{} lacks the grant `{grant}`",
                    self.who
                )))
            }
        }
    }
}

/// Every grant: what a coordinator, or anyone without an access file, holds.
fn everything() -> Option<BTreeSet<Grant>> {
    None
}

impl Access {
    /// Whether a Farm call without a certificate may present a token.
    pub fn takes_tokens(&self) -> bool {
        self.policy.as_ref().is_some_and(|p| p.has_tokens())
    }

    /// The holder of a bearer token, by the token's SHA-256.
    fn token_holder(&self, token: &str) -> Option<&TokenHolder> {
        let digest: String = Sha256::digest(token.trim().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.policy.as_ref()?.token(&digest)
    }

    /// Whether the HTTP side's run pages are open to anyone: only on a farm without
    /// TLS or an access file. Otherwise (plain HTTP carries no client certificate)
    /// they take a bearer token with the `read` grant.
    pub fn http_open(&self) -> bool {
        !self.tls && self.policy.is_none()
    }

    /// The HTTP side's check of a token: Ok when it holds `read`.
    pub fn http_reader(&self, token: Option<&str>) -> Result<(), HttpRefusal> {
        if self.http_open() {
            return Ok(());
        }
        let Some(token) = token else {
            return Err(HttpRefusal::NoToken);
        };
        match self.token_holder(token) {
            Some(holder) if holder.grants.contains(&Grant::Read) => Ok(()),
            Some(holder) => Err(HttpRefusal::NoRead(holder.name.clone())),
            None => Err(HttpRefusal::UnknownToken),
        }
    }

    /// The caller of `request`, by certificate, else by bearer token.
    pub fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        if let Some(peer) = tls::peer(request) {
            let grants = match (&self.policy, peer.role) {
                (_, Role::Coordinator) | (None, _) => everything(),
                (Some(policy), _) => Some(policy.client(&peer.name)),
            };
            return Ok(Caller {
                who: peer.to_string(),
                grants,
            });
        }
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(bearer);
        match (&self.policy, token) {
            (Some(_), Some(token)) => match self.token_holder(token) {
                Some(holder) => Ok(Caller {
                    who: format!("token `{}`", holder.name),
                    grants: Some(holder.grants.clone()),
                }),
                None => {
                    crate::metrics::call_refused("farm");
                    Err(Status::unauthenticated("unknown bearer token"))
                }
            },
            // The TLS gate let a call without a certificate in only to show a token.
            (Some(_), None) if self.tls => Err(Status::unauthenticated(
                "a client certificate or a bearer token (authorization: Bearer TOKEN) is needed",
            )),
            (Some(_), None) => Err(Status::unauthenticated(
                "this coordinator takes calls with a bearer token (authorization: Bearer TOKEN)",
            )),
            (None, _) => Ok(Caller {
                who: "anyone".into(),
                grants: everything(),
            }),
        }
    }

    /// The caller, checked for `grant`.
    pub fn require<T>(&self, request: &Request<T>, grant: Grant) -> Result<Caller, Status> {
        let caller = self.caller(request)?;
        caller.require(grant)?;
        Ok(caller)
    }
}

/// Why the HTTP side refused a page.
#[derive(Debug, thiserror::Error)]
pub enum HttpRefusal {
    #[error(
        "this farm's run pages take a bearer token with the `read` grant: \
         `Authorization: Bearer TOKEN`, or `?token=TOKEN` once in a browser (a cookie keeps it)"
    )]
    NoToken,
    #[error("unknown token")]
    UnknownToken,
    #[error("token `{0}` lacks the grant `read`")]
    NoRead(String),
}

/// The token of an `authorization` value `Bearer TOKEN` (gRPC metadata or HTTP header).
pub fn bearer(value: &str) -> Option<&str> {
    value.strip_prefix("Bearer ")
}
