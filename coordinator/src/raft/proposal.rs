//! Which caller a committed entry answers. Each proposal's entry carries, in its
//! context, the proposing node's id, that process's incarnation (random at start) and
//! a sequence number: a node answers an entry only when all three are its own. A
//! counter alone restarts at 1 with the process and repeats across nodes, so after a
//! leader change an entry another leader proposed could be matched to a local caller
//! waiting on the same number, handing it someone else's result (another client's
//! run id).

/// The context of one proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProposalId {
    pub node: u64,
    pub incarnation: u64,
    pub seq: u64,
}

impl ProposalId {
    pub const BYTES: usize = 24;

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::BYTES);
        out.extend_from_slice(&self.node.to_be_bytes());
        out.extend_from_slice(&self.incarnation.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// None for any context that is not one (an empty entry, an older format).
    pub fn decode(bytes: &[u8]) -> Option<ProposalId> {
        if bytes.len() != Self::BYTES {
            return None;
        }
        let word = |i: usize| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Some(ProposalId {
            node: word(0),
            incarnation: word(1),
            seq: word(2),
        })
    }
}

/// Hands out this process's proposal ids.
#[derive(Debug)]
pub struct Proposals {
    node: u64,
    incarnation: u64,
    next: u64,
}

impl Proposals {
    pub fn new(node: u64) -> Proposals {
        Proposals::with_incarnation(node, incarnation())
    }

    pub fn with_incarnation(node: u64, incarnation: u64) -> Proposals {
        Proposals {
            node,
            incarnation,
            next: 1,
        }
    }

    pub fn next_id(&mut self) -> ProposalId {
        let seq = self.next;
        self.next += 1;
        ProposalId {
            node: self.node,
            incarnation: self.incarnation,
            seq,
        }
    }

    /// Whether this process proposed the entry with `context`.
    pub fn ours(&self, context: &[u8]) -> Option<ProposalId> {
        ProposalId::decode(context).filter(|id| id.node == self.node && id.incarnation == self.incarnation)
    }
}

/// A number no earlier start of this node used: random bits from the OS, mixed with
/// the clock and the process id should the OS have none to give.
fn incarnation() -> u64 {
    let mut bytes = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok()
    {
        return u64::from_be_bytes(bytes);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The misrouted reply as it happened with a per-node counter: the old leader's
    /// caller waits on its proposal 1, the new leader commits its own proposal 1, and
    /// the old leader applies that entry. With the node and incarnation in the
    /// context, the entry is not the waiting caller's.
    #[test]
    fn another_leaders_entry_with_the_same_number_is_not_ours() {
        let mut old_leader = Proposals::new(1);
        let mut new_leader = Proposals::new(2);
        let waiting = old_leader.next_id();
        let committed = new_leader.next_id();
        assert_eq!(waiting.seq, committed.seq, "the counters collide, as before");
        assert_eq!(old_leader.ours(&committed.encode()), None);
        assert_eq!(new_leader.ours(&committed.encode()), Some(committed));
    }

    #[test]
    fn a_restarted_node_does_not_answer_its_former_self() {
        let mut before = Proposals::with_incarnation(3, 7);
        let id = before.next_id();
        let after = Proposals::with_incarnation(3, 8);
        assert_eq!(after.ours(&id.encode()), None);
        assert_ne!(incarnation(), incarnation(), "each start draws a new incarnation");
    }

    #[test]
    fn contexts_round_trip_and_junk_is_nobodys() {
        let mut p = Proposals::with_incarnation(u64::MAX, 0);
        let id = p.next_id();
        assert_eq!(ProposalId::decode(&id.encode()), Some(id));
        assert_eq!(p.ours(&[]), None);
        assert_eq!(p.ours(&1u64.to_be_bytes()), None, "an old 8-byte context");
        assert_eq!(p.ours(&[0u8; 25]), None);
    }
}
