//! Writes through an instance that does not lead go to the leader (SPEC-2 §16, several
//! instances): see `infra::encaminhamento`. The leader answers; this instance waits until it
//! has applied the leader's position (so its own reads show the write) and passes the answer
//! on. Reads, streams, restores and uploads stay here.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::infra::encaminhamento::ENCAMINHADA;
use crate::infra::metricas;
use crate::services::AppState;

use super::middleware::{POSICAO, long_work};

/// Headers that belong to one connection, not to the request or answer carried over it.
const DA_CONEXAO: [HeaderName; 7] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::HOST,
    header::CONTENT_LENGTH,
];
/// `Keep-Alive` and `Proxy-Connection` (no constants in `http`).
const DA_CONEXAO_EXTRA: [&str; 2] = ["keep-alive", "proxy-connection"];
/// The client address this instance saw, for the leader's limits and audit trail.
const CLIENTE: &str = "x-forwarded-for";

/// Forwards a write to the leader when this instance does not lead; takes a request another
/// instance forwarded (with the clinic's token) as coming from the client it names.
pub async fn encaminhar(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(v) = req.headers_mut().remove(ENCAMINHADA)
        && app.encaminhamento.confere(&app.segredo, v.as_bytes())
    {
        // From another instance (a header anyone else sends is dropped above): the client it
        // saw, and never forwarded again (the leadership may have moved meanwhile; the write
        // is then made here).
        if let Some(ip) = req
            .headers_mut()
            .remove(CLIENTE)
            .and_then(|v| v.to_str().ok()?.trim().parse::<IpAddr>().ok())
        {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(ip, 0)));
        }
        return next.run(req).await;
    }
    let escrita = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::DELETE | Method::PATCH
    );
    if !escrita
        || !app.compartilhado()
        || !app.config.encaminhar_escritas
        || app.lider()
        || long_work(&req)
    {
        return next.run(req).await;
    }
    let (Some(lider), Some(cliente)) = (
        app.encaminhamento.lider(),
        app.encaminhamento
            .cliente(Duration::from_secs(app.config.timeout_ocioso_secs)),
    ) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, app.config.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => return AppError::PayloadTooLarge.into_response(),
    };
    let caminho = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut cabecalhos = sem_os_da_conexao(parts.headers.clone());
    cabecalhos.remove(CLIENTE);
    if let Some(ConnectInfo(quem)) = parts.extensions.get::<ConnectInfo<SocketAddr>>()
        && let Ok(v) = HeaderValue::from_str(&quem.ip().to_string())
    {
        cabecalhos.insert(CLIENTE, v);
    }
    if let Ok(v) = HeaderValue::from_str(app.encaminhamento.token()) {
        cabecalhos.insert(ENCAMINHADA, v);
    }
    let enviada = cliente
        .request(parts.method.clone(), format!("{lider}{caminho}"))
        .headers(cabecalhos)
        .body(bytes.clone())
        .send()
        .await;
    let resposta = match enviada {
        Ok(r) => r,
        Err(e) if e.is_connect() => {
            // The leader is gone (or not yet reachable): nothing was sent, so the write is
            // made here, under the append lock, and the address is read again at the next
            // leadership tick.
            // Without the URL: its path can carry a public link's token.
            let e = e.without_url();
            tracing::warn!(target: "agendamento::store", lider = %lider, error = %e, "the leader could not be reached; writing here");
            app.encaminhamento.definir_lider(None);
            metrics::counter!(metricas::ENCAMINHADAS, "resultado" => "feita_aqui").increment(1);
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
        }
        Err(e) => return sem_resposta(&lider, e),
    };
    let status = resposta.status();
    let cabecalhos = resposta.headers().clone();
    let corpo = match resposta.bytes().await {
        Ok(b) => b,
        Err(e) => return sem_resposta(&lider, e),
    };
    // The leader's position covers its write: reads here show it once this has applied it.
    if let Some(n) = cabecalhos
        .get(POSICAO)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        app.alcancar(n, Duration::from_secs(1)).await;
    }
    metrics::counter!(metricas::ENCAMINHADAS, "resultado" => "respondida").increment(1);
    let mut r = Response::new(Body::from(corpo));
    *r.status_mut() = status;
    let mut cabecalhos = sem_os_da_conexao(cabecalhos);
    // This instance's own layers set these: its position, and CORS for the caller.
    cabecalhos.remove(POSICAO);
    cabecalhos.remove(header::VARY);
    let cors: Vec<HeaderName> = cabecalhos
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for k in cors {
        cabecalhos.remove(k);
    }
    *r.headers_mut() = cabecalhos;
    r
}

/// `h` without the headers that belong to one connection.
fn sem_os_da_conexao(mut h: HeaderMap) -> HeaderMap {
    for k in DA_CONEXAO {
        h.remove(k);
    }
    for k in DA_CONEXAO_EXTRA {
        h.remove(k);
    }
    h
}

/// 503 when the leader took the request but its answer did not arrive: the write may or
/// may not have been made (an `Idempotency-Key` makes the retry safe).
fn sem_resposta(lider: &str, e: reqwest::Error) -> Response {
    // Without the URL: its path can carry a public link's token.
    let e = e.without_url();
    tracing::warn!(target: "agendamento::store", lider = %lider, error = %e, "no answer from the leader to a forwarded write");
    metrics::counter!(metricas::ENCAMINHADAS, "resultado" => "sem_resposta").increment(1);
    AppError::Busy {
        status: 503,
        code: "lider_sem_resposta",
        detail: "A instância que grava as alterações (a líder) não respondeu; a alteração pode ter sido feita ou não. Confira antes de repetir, ou repita com o mesmo Idempotency-Key."
            .into(),
        retry_after_secs: 1,
    }
    .into_response()
}
