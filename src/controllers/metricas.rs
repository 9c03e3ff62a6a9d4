//! `GET /metrics` (SPEC-2 §15): Prometheus text exposition.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::models::Papel;
use crate::services::{self, AppState, Chamador};

/// The Prometheus text format's content type.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus metrics of this server.
///
/// HTTP requests by route template and status with latency histograms, tasks by kind and
/// status, lane depths, task durations, journal fsync latency and group-commit size, open
/// event streams, live holds, bookings by outcome and resident memory (README "Metrics").
/// Callers: an administrator's session, or `--metrics-token` as a bearer (for a scraper
/// that should not hold a user). In single-user mode (`--auth off`) the metrics are open
/// unless a `--metrics-token` is set. Otherwise 401 `nao_autenticado`; a signed-in user who
/// is not an administrator gets 403 `sem_permissao`.
#[utoipa::path(get, path = "/metrics", tag = "sistema",
    responses(
        (status = 200, description = "Exposição em texto do Prometheus", content_type = "text/plain", body = String),
    ),
)]
pub async fn find_metrics(
    State(app): State<AppState>,
    chamador: Option<Extension<Chamador>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let permitido = services::metricas::token_confere(&app, auth)
        || match chamador {
            // Single-user mode: every caller is the system, unless a token was asked for.
            Some(_) if !app.auth_ligada() => services::metricas::token(&app).is_none(),
            Some(Extension(c)) if c.papel == Papel::Admin => true,
            Some(_) => return Err(AppError::Forbidden),
            None => false,
        };
    if !permitido {
        return Err(AppError::Unauthorized {
            code: "nao_autenticado",
            detail: "Envie o token de um administrador ou o token de métricas em \
                     Authorization: Bearer <token>."
                .into(),
        });
    }
    let text = services::metricas::exposicao(&app)?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS))],
        text,
    )
        .into_response())
}
