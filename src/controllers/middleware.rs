//! Cross-cutting request handling: `x-request-id`, panic catching, `Idempotency-Key`,
//! and problem+json for unknown routes and methods.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::infra::metricas;
use crate::services::AppState;
use crate::services::idempotency::{self, IdemCtx};

/// The header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Marks a request whose id this server made (a fresh UUID, unlike a client's, which may be
/// reused): a forwarded write's id can then be looked up in the audit trail.
#[derive(Clone, Copy, Debug)]
pub struct IdGerado;

/// Echoes the client's `x-request-id` or makes one, on the request (for logs) and the
/// response; catches a handler's panic and answers 500 without taking the server down; and
/// logs one line per request: method, route template (never the path's values or the query
/// string, which can carry a name or a CPF), status, duration and request id.
pub async fn request_id_and_panics(mut req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    // Set by the router before this layer runs (it wraps each route); absent for 404s.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let dado = req
        .headers()
        .get(REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .cloned();
    let id = match dado {
        Some(id) => id,
        None => {
            req.extensions_mut().insert(IdGerado);
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("-"))
        }
    };
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let method = req.method().clone();
    let span = tracing::info_span!("http", request_id = %id.to_str().unwrap_or("-"));
    let mut res = match AssertUnwindSafe(tracing::Instrument::instrument(next.run(req), span))
        .catch_unwind()
        .await
    {
        Ok(res) => res,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            tracing::error!(
                target: "agendamento::http",
                request_id = %id.to_str().unwrap_or("-"),
                method = %method,
                route = route.as_ref().map_or("-", MatchedPath::as_str),
                "handler panicked: {msg}"
            );
            AppError::Internal(msg).into_response()
        }
    };
    let elapsed = started.elapsed();
    let route_label = route.as_ref().map_or("-", MatchedPath::as_str);
    // The matched template is the label (never the path's values), so label sets stay
    // bounded however many ids are requested.
    metricas::registrar_requisicao(
        method.as_str(),
        route_label,
        res.status().as_u16(),
        elapsed.as_secs_f64(),
    );
    tracing::info!(
        target: "agendamento::http",
        method = %method,
        route = route_label,
        status = res.status().as_u16(),
        duration_ms = %format_args!("{:.3}", elapsed.as_secs_f64() * 1000.0),
        request_id = id.to_str().unwrap_or("-"),
        "request"
    );
    res.headers_mut().insert(REQUEST_ID, id);
    res
}

/// `Idempotency-Key` on POST (SPEC §1): replays the first 2xx answer for the same key and
/// body, 422 for the same key with another body, 409 while the first is still running.
/// The answer itself is journaled by the store together with the change it answers.
pub async fn idempotency(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
    else {
        return next.run(req).await;
    };
    if key.len() > 255 {
        return AppError::campo("Idempotency-Key", "deve ter no máximo 255 caracteres")
            .into_response();
    }
    // Answers are per user (SPEC-2 §10): the stored key carries the caller's user id, so
    // one user's key never replays another's answer. The system (single-user mode) keeps
    // the bare key, as in part 1. A caller without a sign-in (the public links, the sign-in
    // itself) gets no stored answers: nobody could tell whose they would be.
    let Some(chamador) = req.extensions().get::<crate::services::Chamador>() else {
        return next.run(req).await;
    };
    let key = idempotency::escopada(chamador.usuario_id.as_deref(), &key);
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, app.config.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => return AppError::PayloadTooLarge.into_response(),
    };
    let fingerprint = {
        let mut h = Sha256::new();
        h.update(parts.method.as_str());
        h.update(b" ");
        h.update(parts.uri.path().trim_end_matches('/'));
        h.update(b"\n");
        // Canonical JSON when it parses, so formatting differences are the same body.
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) => h.update(v.to_string()),
            Err(_) => h.update(&bytes),
        }
        hex::encode(h.finalize())
    };
    let now = jiff::Timestamp::now().as_second();
    let stored = match app.resposta_guardada(&key, now) {
        Some(e) => Some(e),
        None if !app.idem_inflight.lock().insert(key.clone()) => {
            return idempotency::in_progress().into_response();
        }
        // A request with this key may have ended between the look above and the insert (it
        // leaves the in-flight set once its answer is stored and durable): replay that
        // answer instead of running the request a second time.
        None => {
            let e = app.resposta_guardada(&key, now);
            if e.is_some() {
                app.idem_inflight.lock().remove(&key);
            }
            e
        }
    };
    if let Some(e) = stored {
        if e.fingerprint != fingerprint {
            return idempotency::reused().into_response();
        }
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::OK);
        let mut res = if status == StatusCode::NO_CONTENT {
            status.into_response()
        } else {
            (status, e.body.clone()).into_response()
        };
        if status != StatusCode::NO_CONTENT {
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return res;
    }
    let mut req = Request::from_parts(parts, Body::from(bytes));
    // The handler's `Requisicao` extractor puts it into the request's `Contexto`.
    req.extensions_mut().insert(IdemCtx {
        key: key.clone(),
        fingerprint,
    });
    let res = AssertUnwindSafe(next.run(req)).catch_unwind().await;
    app.idem_inflight.lock().remove(&key);
    match res {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Whether a request's work must never be cut loose behind a timeout answer (issue 8): a
/// restore or a backup upload, once started, runs to its end and answers what happened.
pub(crate) fn long_work(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == axum::http::Method::POST
        && (path.starts_with("/backup/restaurar/") || path == "/backup/enviar")
}

/// Bounds the time to a response's head (`--request-timeout-secs`): past it the handler
/// is dropped and the client gets 503 problem+json `request_timeout` with `Retry-After`,
/// never an empty body. Only the head counts, so a stream's body (SSE, downloads) is not cut.
/// [`long_work`] is exempt: it answers what it did, however long it takes.
pub async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    if long_work(&req) {
        return next.run(req).await;
    }
    let method = req.method().clone();
    // The route's template, never the path: a path can carry a link's token (`/c/{token}`).
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "-".to_owned(), |m| m.as_str().to_owned());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(target: "agendamento::http", %method, %route, limit_secs = limit.as_secs(), "request timed out");
            AppError::Busy {
                status: 503,
                code: "request_timeout",
                detail: format!(
                    "A requisição excedeu o tempo limite de {} s e foi interrompida; tente novamente em instantes.",
                    limit.as_secs()
                ),
                retry_after_secs: 5,
            }
            .into_response()
        }
    }
}

/// The position header every answer carries (SPEC-2 §16).
pub const POSICAO: &str = "x-posicao";
/// The header with which a request asks for at least a position.
pub const POSICAO_MINIMA: &str = "x-posicao-minima";

/// A journal position carried in a header (`x-posicao`, `x-posicao-minima`): a whole number.
pub(crate) fn posicao_de(v: &HeaderValue) -> Option<u64> {
    v.to_str().ok()?.trim().parse().ok()
}

/// SPEC-2 §16: a request with `x-posicao-minima: N` waits up to 1 s for this instance to have
/// applied journal position N (else 503 with `Retry-After`), so a client behind a load
/// balancer reads its own writes; every answer carries `x-posicao`, the position this
/// instance had applied when it answered.
pub async fn posicao(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let minima = req.headers().get(POSICAO_MINIMA).cloned();
    let mut r = match alcancada(&app, minima).await {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    // A write forwarded to the leader answers with the leader's position, which covers it:
    // the larger of that and this instance's.
    let aqui = app.posicao();
    let n = r
        .headers()
        .get(POSICAO)
        .and_then(posicao_de)
        .map_or(aqui, |n| n.max(aqui));
    r.headers_mut().insert(POSICAO, HeaderValue::from(n));
    r
}

/// Waits for the position `x-posicao-minima` asks for, if any: 422 when it is not a
/// number, 503 with `Retry-After` when this instance does not reach it within 1 s.
async fn alcancada(app: &AppState, minima: Option<HeaderValue>) -> Result<(), AppError> {
    let Some(v) = minima else {
        return Ok(());
    };
    let Some(n) = posicao_de(&v) else {
        return Err(AppError::campo(
            POSICAO_MINIMA,
            "Deve ser uma posição do diário: um número inteiro não negativo.",
        ));
    };
    if app.alcancar(n, Duration::from_secs(1)).await {
        return Ok(());
    }
    Err(AppError::Busy {
        status: 503,
        code: "posicao_nao_alcancada",
        detail: format!(
            "Esta instância ainda não tem as alterações até a posição {n}; tente novamente em instantes."
        ),
        retry_after_secs: 1,
    })
}

/// 404 problem for unknown routes.
pub async fn fallback() -> AppError {
    AppError::NotFound("Recurso não encontrado.".into())
}

/// Turns axum's bare 405 into problem+json.
pub async fn method_not_allowed(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() == StatusCode::METHOD_NOT_ALLOWED
        && !res.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = res.headers().get(header::ALLOW).cloned();
        let mut p = AppError::MethodNotAllowed.into_response();
        if let Some(a) = allow {
            p.headers_mut().insert(header::ALLOW, a);
        }
        return p;
    }
    res
}
