//! The edge between the wire and the domain: every message that carries a
//! testfarm-shared type converts here, both ways. Domain to wire cannot fail
//! (`From`); wire to domain can (`TryFrom`): a message from the network may lack a
//! required part or carry an enum value this build does not know, and the error
//! names the field.

mod profile;
pub mod run;
mod task;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A wire message that does not make a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConvertError {
    /// Dotted path of the field, e.g. `spec.kind` or `run.jobs.3.state`.
    pub field: String,
    pub problem: String,
}

impl ConvertError {
    pub(crate) fn missing(field: &str) -> ConvertError {
        ConvertError {
            field: field.into(),
            problem: "missing".into(),
        }
    }

    pub(crate) fn unknown(field: &str, value: i32) -> ConvertError {
        ConvertError {
            field: field.into(),
            problem: format!("unknown value {value}"),
        }
    }

    /// The same error under `prefix` (`jobs.3` + `state` → `jobs.3.state`).
    pub(crate) fn within(self, prefix: &str) -> ConvertError {
        ConvertError {
            field: format!("{prefix}.{}", self.field),
            problem: self.problem,
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, ConvertError>;

/// A required message field.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| ConvertError::missing(field))
}

/// Converts every item, naming the failing one by its index.
pub(crate) fn each<P, D>(items: Vec<P>, field: &str) -> Result<Vec<D>>
where
    D: TryFrom<P, Error = ConvertError>,
{
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| D::try_from(item).map_err(|e| e.within(&format!("{field}.{i}"))))
        .collect()
}

pub(crate) fn sorted(map: HashMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter().collect()
}

pub(crate) fn hashed(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub(crate) fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod tests;
