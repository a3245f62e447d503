//! Every way a `farm` command can fail, mapped exhaustively to the documented exit
//! codes: 1 for test failures, 2 for usage and infrastructure errors.

use testfarm_shared::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error(
        "cannot reach the coordinator at {url}: {message} (hint: start one with `farm coordinator`, or use `farm up`)"
    )]
    Connect { url: String, message: String },
    #[error("the coordinator refused: {0}")]
    Rejected(String),
    #[error("{0}")]
    Infrastructure(String),
    #[error("run {run_id} failed: {message}")]
    TestsFailed { run_id: String, message: String },
    #[error("{}", testfarm_agent::cgroup::error_chain_of(.0))]
    Image(#[from] testfarm_agent::image::ImageError),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::TestsFailed { .. } => 1,
            CliError::Usage(_)
            | CliError::Config(_)
            | CliError::Connect { .. }
            | CliError::Rejected(_)
            | CliError::Infrastructure(_)
            | CliError::Image(_) => 2,
        }
    }
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        match status.code() {
            tonic::Code::InvalidArgument | tonic::Code::NotFound | tonic::Code::FailedPrecondition => {
                CliError::Rejected(status.message().to_string())
            }
            tonic::Code::PermissionDenied => CliError::Rejected(status.message().to_string()),
            // A plain client at a TLS port gets no gRPC answer at all.
            // A status made on this side from a transport failure carries its cause
            // (one the coordinator sent has none).
            _ if !crate::submit::tls_in_use() && std::error::Error::source(&status).is_some() => {
                CliError::Infrastructure(format!(
                    "coordinator: {} (does the coordinator use TLS? give this command --tls DIR)",
                    status.message()
                ))
            }
            _ if crate::submit::tls_in_use() && std::error::Error::source(&status).is_some() => {
                CliError::Infrastructure(format!(
                    "coordinator: {} (over TLS: was this command's certificate issued by the farm's CA?)",
                    status.message()
                ))
            }
            _ => CliError::Infrastructure(format!("coordinator: {}", status.message())),
        }
    }
}
