//! `Idempotency-Key` (SPEC §1): the key of the request being handled, carried in a
//! task-local so the store can journal the first answer together with its change.

use crate::error::AppError;

/// How long a stored answer is replayed.
pub const TTL_SECS: i64 = 24 * 3600;

/// The key and body fingerprint of the request being handled.
#[derive(Debug, Clone)]
pub struct IdemCtx {
    /// The client's key.
    pub key: String,
    /// sha256 (hex) of method, path and canonical body.
    pub fingerprint: String,
}

tokio::task_local! {
    /// Set by the idempotency middleware around a handler.
    pub static IDEM: IdemCtx;
}

/// The current request's idempotency context, if any.
pub fn current() -> Option<IdemCtx> {
    IDEM.try_with(Clone::clone).ok()
}

/// 409: the first request with this key is still running.
pub fn in_progress() -> AppError {
    AppError::conflict(
        "idempotency_in_progress",
        "Uma requisição com esta Idempotency-Key ainda está em andamento; tente novamente em instantes.",
    )
}

/// 422: the key was used with another body.
pub fn reused() -> AppError {
    AppError::Unprocessable {
        code: "idempotency_key_reused",
        detail: "Esta Idempotency-Key já foi usada com outro corpo de requisição.".into(),
    }
}
