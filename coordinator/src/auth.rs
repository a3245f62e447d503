//! Who may call what. With TLS, every connection is mutual TLS with a certificate of
//! the farm CA (the handshake refuses anything else), and each service lets in only
//! the roles it serves: raft traffic and forwarded commands only from coordinators,
//! agent calls only from agents, and each agent only under the agent id its
//! certificate names; the Farm API, cluster status and membership from clients (and
//! coordinators). A refusal is
//! PERMISSION_DENIED naming caller and call, and is counted in
//! `farm_calls_refused_total{service}`. Without TLS nothing is checked (and the
//! coordinator says so loudly at start).

use testfarm_proto::tls::{self, Role};
use tonic::{Request, Status};

/// A service's gate: the roles it lets in.
#[derive(Clone, Copy)]
pub struct Gate {
    /// False without TLS: everything passes.
    enabled: bool,
    service: &'static str,
    roles: &'static [Role],
}

impl Gate {
    pub fn new(enabled: bool, service: &'static str, roles: &'static [Role]) -> Gate {
        Gate {
            enabled,
            service,
            roles,
        }
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
