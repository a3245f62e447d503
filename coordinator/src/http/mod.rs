//! The coordinator's HTTP side: Prometheus `/metrics`, and the reports for release
//! engineers (`/runs/ID`, `/profiles/PROJECT` and their JSON under `/api/`).
//! Handlers only read state and render; see [`reports`].

pub mod reports;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
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
    /// Who may read the run pages ([`crate::auth::Access::http_reader`]).
    pub access: crate::auth::Access,
}

/// `/metrics` is open (Prometheus scrapes it; it holds counts, no run's content);
/// the run pages and their JSON go through [`readers_only`].
pub fn router(state: HttpState) -> Router {
    let reports = reports::routes().layer(middleware::from_fn_with_state(state.clone(), readers_only));
    Router::new()
        .route("/metrics", get(metrics))
        .merge(reports)
        .with_state(state)
}

/// The cookie a browser keeps the token in after `?token=`.
const TOKEN_COOKIE: &str = "farm_token";

/// Lets a request through when its token (header, `?token=`, or the cookie a first
/// `?token=` set) holds `read`, or the farm's pages are open; else 401 or 403 naming
/// why. Refusals count in `farm_calls_refused_total{service="http"}`.
async fn readers_only(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let header_token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::bearer)
        .map(str::to_string);
    let query_token = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    });
    let cookie_token = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("farm_token=").map(str::to_string));
    let token = header_token.or(query_token.clone()).or(cookie_token);
    match state.access.http_reader(token.as_deref()) {
        Ok(()) => {
            let mut response = next.run(request).await;
            if let Some(token) = query_token.filter(|_| !state.access.http_open()) {
                let cookie = format!("{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
                if let Ok(value) = header::HeaderValue::from_str(&cookie) {
                    response.headers_mut().insert(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(why) => {
            crate::metrics::call_refused("http");
            let code = match why {
                crate::auth::HttpRefusal::NoRead(_) => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            };
            (code, format!("{why}\n")).into_response()
        }
    }
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
