//! The binary encoding of what coordinators send each other and keep in the raft
//! log: state-machine commands, their applied results and proposal errors, as
//! MessagePack with field names (self-describing, so the domain's tagged enums and
//! `serde(default)` fields decode as they do from JSON, at about half the bytes).

use serde::{de::DeserializeOwned, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("cannot encode: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    #[error("cannot decode: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    Ok(rmp_serde::to_vec_named(value)?)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    Ok(rmp_serde::from_slice(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Applied, Command};

    #[test]
    fn commands_and_results_survive_the_encoding_smaller_than_json() {
        let command = Command::LoseTask {
            task_id: "r1.j0.s3".into(),
            agent: "a1".into(),
            reason: "lease expired".into(),
            now_ms: 1_700_000_000_000,
        };
        let bytes = encode(&command).unwrap();
        assert_eq!(decode::<Command>(&bytes).unwrap(), command);
        assert!(bytes.len() < serde_json::to_vec(&command).unwrap().len());
        let applied = Applied::Cancelled {
            cancelled: true,
            verdict: "cancelled".into(),
        };
        assert_eq!(decode::<Applied>(&encode(&applied).unwrap()).unwrap(), applied);
        assert!(decode::<Command>(b"\x93garbage").is_err());
    }
}
