//! `GET /metrics` (SPEC-2 §15): Prometheus text exposition.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::problema::problem_response;
use crate::error::{AppError, Problema};
use crate::services::{self, AppState};

/// The Prometheus text format's content type.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus metrics of this server.
///
/// HTTP requests by route template and status with latency histograms, tasks by kind and
/// status, lane depths, task durations, journal fsync latency and group-commit size, open
/// event streams, live holds, bookings by outcome and resident memory (README "Metrics").
/// With `--metrics-token` set, requires `Authorization: Bearer <token>` (401 otherwise).
#[utoipa::path(get, path = "/metrics", tag = "sistema",
    responses(
        (status = 200, description = "Exposição em texto do Prometheus", content_type = "text/plain", body = String),
        (status = 401, description = "Token ausente ou inválido", content_type = "application/problem+json", body = Problema),
    ),
)]
pub async fn find_metrics(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !services::metricas::autorizado(&app, auth) {
        let p = Problema {
            tipo: "urn:agendamento:problema:nao_autenticado".into(),
            title: "Não autenticado".into(),
            status: 401,
            detail: "Envie o token de métricas em Authorization: Bearer <token>.".into(),
            code: "nao_autenticado".into(),
            errors: None,
        };
        let mut res = problem_response(StatusCode::UNAUTHORIZED, &p, false);
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Ok(res);
    }
    let text = services::metricas::exposicao(&app)?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS))],
        text,
    )
        .into_response())
}
