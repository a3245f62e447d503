//! Report pages and their JSON API (filled in by the reports work).

use axum::Router;

use super::HttpState;

pub fn routes() -> Router<HttpState> {
    Router::new()
}
