//! Report pages and their JSON API: `/` (recent runs), `/runs/{id}`,
//! `/api/runs/{id}`, `/profiles/{project}`, `/api/profiles/{project}`. Handlers only
//! read records ([`crate::report_data`]) and render with `testfarm_shared::report`;
//! the JSON is documented field by field in docs/api.md.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use testfarm_shared::report::html::{self, Links};
use testfarm_shared::report::profile::ProfileOptions;

use super::HttpState;
use crate::report_data;

/// Runs listed on the index page.
const INDEX_RUNS: usize = 100;

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/", get(index))
        .route("/runs/{id}", get(run_page))
        .route("/api/runs/{id}", get(run_json))
        .route("/profiles/{project}", get(profile_page))
        .route("/api/profiles/{project}", get(profile_json))
}

/// Optional knobs of the profile report, as query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct ProfileQuery {
    pub recent_runs: Option<usize>,
    pub stable_runs: Option<usize>,
}

impl ProfileQuery {
    fn options(&self) -> ProfileOptions {
        report_data::profile_options(self.recent_runs.unwrap_or(0), self.stable_runs.unwrap_or(0))
    }
}

fn html_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// What went wrong, as a page or as JSON `{"error": "..."}`.
enum Failure {
    NotFound(String),
    Internal(String),
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::NotFound(_) => StatusCode::NOT_FOUND,
            Failure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::NotFound(m) | Failure::Internal(m) => m,
        }
    }

    fn page(self) -> Response {
        let title = match self {
            Failure::NotFound(_) => "not found",
            Failure::Internal(_) => "error",
        };
        html_response(self.status(), html::message_page(title, self.message()))
    }

    fn json(self) -> Response {
        let body = serde_json::json!({ "error": self.message() }).to_string();
        json_response(self.status(), body)
    }
}

/// Runs a blocking read off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Failure> + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Failure::Internal(format!("report task failed: {e}"))))
}

async fn load_run(state: HttpState, id: String) -> Result<testfarm_shared::report::run::RunReport, Failure> {
    let slots = report_data::agent_slots(&state.agents);
    blocking(move || {
        report_data::run_report(&state.node, &id, &slots)
            .map_err(|e| Failure::Internal(e.to_string()))?
            .ok_or_else(|| {
                Failure::NotFound(format!(
                    "no run `{id}` on this coordinator (run ids look like r12; see the list of runs at /)"
                ))
            })
    })
    .await
}

async fn load_profile(
    state: HttpState,
    project: String,
    query: ProfileQuery,
) -> Result<testfarm_shared::report::profile::ProfileReport, Failure> {
    let slots = report_data::agent_slots(&state.agents);
    blocking(move || {
        report_data::profile_report(&state.node, &project, &query.options(), &slots)
            .map_err(|e| Failure::Internal(e.to_string()))?
            .ok_or_else(|| {
                Failure::NotFound(format!(
                    "no runs or timing profiles for project `{project}` (a pipeline's project is its \
                     `project:` field, else its name)"
                ))
            })
    })
    .await
}

async fn index(State(state): State<HttpState>) -> Response {
    let node = state.node.clone();
    match blocking(move || report_data::index(&node, INDEX_RUNS).map_err(|e| Failure::Internal(e.to_string()))).await {
        Ok(entries) => html_response(StatusCode::OK, html::index_page(&entries)),
        Err(f) => f.page(),
    }
}

async fn run_page(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    match load_run(state, id).await {
        Ok(report) => html_response(StatusCode::OK, html::run_page(&report, &Links { enabled: true })),
        Err(f) => f.page(),
    }
}

async fn run_json(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    match load_run(state, id).await {
        Ok(report) => json_response(
            StatusCode::OK,
            serde_json::to_string(&report).expect("reports serialize"),
        ),
        Err(f) => f.json(),
    }
}

async fn profile_page(
    State(state): State<HttpState>,
    Path(project): Path<String>,
    Query(query): Query<ProfileQuery>,
) -> Response {
    match load_profile(state, project, query).await {
        Ok(report) => html_response(StatusCode::OK, html::profile_page(&report, &Links { enabled: true })),
        Err(f) => f.page(),
    }
}

async fn profile_json(
    State(state): State<HttpState>,
    Path(project): Path<String>,
    Query(query): Query<ProfileQuery>,
) -> Response {
    match load_profile(state, project, query).await {
        Ok(report) => json_response(
            StatusCode::OK,
            serde_json::to_string(&report).expect("reports serialize"),
        ),
        Err(f) => f.json(),
    }
}
