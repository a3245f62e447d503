//! The coordinator's HTTP side: Prometheus `/metrics`, and the reports for release
//! engineers (`/runs/ID`, `/profiles/PROJECT` and their JSON under `/api/`).
//! Handlers only read state and render; see [`reports`].

pub mod reports;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::node::Node;
use crate::scheduler::Agents;

#[derive(Clone)]
pub struct HttpState {
    pub node: Arc<Node>,
    pub agents: Arc<Agents>,
    pub metrics: Option<PrometheusHandle>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .merge(reports::routes())
        .with_state(state)
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    crate::metrics::refresh_gauges(&state.node, &state.agents);
    let body = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// Serves HTTP on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, state: HttpState, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
