//! `Idempotency-Key` (SPEC §1): the rules for stored answers. The key of the request being
//! handled travels in the request's [`super::Contexto`], so the store can journal the first
//! answer together with its change.

use crate::error::AppError;
use crate::repositories::{Db, IdemEntry, Op};

/// How long a stored answer is replayed.
pub const TTL_SECS: i64 = 24 * 3600;

/// Expired answers each new answer forgets in its own journal entry: more than one, so
/// pruning outpaces any sustained rate of new keys (housekeeping takes the rest in bulk).
pub const PRUNE_PER_WRITE: usize = 4;

/// The key an answer is stored under: the client's key scoped by the caller's user id
/// (SPEC-2 §10), or the bare key for the system (single-user mode, part 1). A user id is a
/// UUID, so the separator cannot be forged into another user's scope.
pub fn escopada(usuario_id: Option<&str>, key: &str) -> String {
    match usuario_id {
        Some(u) => format!("{u}:{key}"),
        None => key.to_owned(),
    }
}

/// Whether a stored answer is still replayed at `now` (Unix seconds).
pub fn live(e: &IdemEntry, now: i64) -> bool {
    now - e.created < TTL_SECS
}

/// Deletions of the oldest expired answers, at most [`PRUNE_PER_WRITE`].
pub fn expired(db: &Db, now: i64) -> Vec<Op> {
    db.idem
        .iter()
        .take_while(|e| !live(e, now))
        .take(PRUNE_PER_WRITE)
        .map(|e| Op::DelIdem(e.key.clone()))
        .collect()
}

/// 429 `idempotency_limit` when `max` answers are stored and live even after forgetting
/// `pruned` expired ones; `Retry-After` says when the oldest one expires.
pub fn check_room(db: &Db, max: usize, pruned: usize, now: i64) -> Result<(), AppError> {
    if db.idem.len().saturating_sub(pruned) < max {
        return Ok(());
    }
    let oldest = db.idem.iter().next().map_or(now, |e| e.created);
    Err(AppError::Busy {
        status: 429,
        code: "idempotency_limit",
        detail: format!(
            "O limite de {max} respostas guardadas para Idempotency-Key foi atingido; nada foi alterado. Tente novamente mais tarde ou envie a requisição sem a chave."
        ),
        retry_after_secs: u64::try_from(oldest + TTL_SECS - now).unwrap_or(0).max(1),
    })
}

/// The key and body fingerprint of the request being handled.
#[derive(Debug, Clone)]
pub struct IdemCtx {
    /// The client's key.
    pub key: String,
    /// sha256 (hex) of method, path and canonical body.
    pub fingerprint: String,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::infra::store::StoreState;

    fn entry(key: &str, created: i64) -> Op {
        Op::PutIdem(Arc::new(IdemEntry {
            key: key.into(),
            fingerprint: String::new(),
            status: 201,
            body: "{}".into(),
            created,
        }))
    }

    #[test]
    fn each_new_answer_forgets_several_expired_ones_and_the_cap_counts_live_ones() {
        let now = 1_000_000;
        let mut db = Db::empty();
        for i in 0..10 {
            db.apply(entry(&format!("velha-{i}"), now - TTL_SECS - 10 + i));
        }
        db.apply(entry("viva", now - 5));
        let prune = expired(&db, now);
        assert_eq!(prune.len(), PRUNE_PER_WRITE);
        const { assert!(PRUNE_PER_WRITE > 1, "pruning must outpace new answers") };
        // 11 stored, 4 forgotten by this write: room under a cap of 8, none under 7.
        assert!(check_room(&db, 8, prune.len(), now).is_ok());
        assert!(check_room(&db, 7, prune.len(), now).is_err());
        // Only live answers left: the cap holds, Retry-After is when the oldest expires.
        let mut live_db = Db::empty();
        live_db.apply(entry("a", now - 100));
        live_db.apply(entry("b", now - 50));
        assert!(expired(&live_db, now).is_empty());
        match check_room(&live_db, 2, 0, now) {
            Err(AppError::Busy {
                status,
                retry_after_secs,
                ..
            }) => {
                assert_eq!(status, 429);
                assert_eq!(retry_after_secs, (TTL_SECS - 100) as u64);
            }
            other => panic!("expected 429, got {other:?}"),
        }
    }
}
