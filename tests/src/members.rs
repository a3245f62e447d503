//! What `farm cluster status --json` says of each coordinator: its raft role, and
//! which node a majority follows.

use serde_json::Value;

/// One node's view of the cluster (`Role` of coordinator/src/raft/mod.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: u64,
    pub leader_id: u64,
    pub is_leader: bool,
    pub term: u64,
    pub commit: u64,
    pub applied: u64,
    pub log_first: u64,
    pub log_last: u64,
    pub voters: Vec<u64>,
}

impl Role {
    /// Parses one node's `status` of `farm cluster status --json`; None for an error row.
    pub fn from_json(v: &Value) -> Option<Role> {
        let n = |k: &str| v[k].as_u64();
        Some(Role {
            id: n("id")?,
            leader_id: n("leader_id")?,
            is_leader: v["is_leader"].as_bool()?,
            term: n("term")?,
            commit: n("commit")?,
            applied: n("applied")?,
            log_first: n("log_first")?,
            log_last: n("log_last")?,
            voters: v["voters"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default(),
        })
    }
}

/// What `farm cluster status` said of every node, by node index: its role, or None
/// when it did not answer.
#[derive(Debug, Clone)]
pub struct Members(pub Vec<Option<Role>>);

impl Members {
    pub fn role(&self, node: usize) -> Option<&Role> {
        self.0.get(node).and_then(Option::as_ref)
    }

    /// The node that leads with the agreement of a majority of all nodes (itself
    /// included): it claims leadership and enough nodes name it in the same term. A
    /// deposed leader that has not noticed yet is not it.
    pub fn leader(&self) -> Option<usize> {
        let majority = self.0.len() / 2 + 1;
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().filter(|r| r.is_leader).map(|r| (i, r)))
            .filter(|(_, l)| {
                let followers = self
                    .0
                    .iter()
                    .flatten()
                    .filter(|r| r.leader_id == l.id && r.term == l.term)
                    .count();
                followers >= majority
            })
            .max_by_key(|(_, l)| l.term)
            .map(|(i, _)| i)
    }

    /// Nodes that claim to lead, whatever the others think.
    pub fn claimed_leaders(&self) -> Vec<usize> {
        (0..self.0.len())
            .filter(|&i| self.role(i).is_some_and(|r| r.is_leader))
            .collect()
    }
}
