//! [`AppError`] as an HTTP answer: problem+json with its status, `Retry-After` where the
//! error says when to come back. The error type itself (`crate::error`) knows no HTTP types.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, Problema};

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Storage(e) => {
                tracing::error!(target: "agendamento::http", error = %e, "write refused by storage")
            }
            AppError::Internal(e) => {
                tracing::error!(target: "agendamento::http", error = %e, "internal error")
            }
            _ => {}
        }
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = problem_response(
            status,
            &self.problema(),
            matches!(self, AppError::Storage(_)),
        );
        if let AppError::Busy {
            retry_after_secs, ..
        } = &self
        {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let AppError::Unauthorized { .. } = &self {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// Serializes a problem with the right content type (and `Retry-After` for 503).
pub fn problem_response(status: StatusCode, p: &Problema, retry_after: bool) -> Response {
    let body = serde_json::to_vec(p).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    res
}
