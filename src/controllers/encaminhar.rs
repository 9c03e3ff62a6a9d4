//! Writes through an instance that does not lead go to the leader (SPEC-2 §16, several
//! instances): see `infra::encaminhamento`. The leader answers; this instance waits until it
//! has applied the leader's position (so its own reads show the write) and passes the answer
//! on. Reads, streams, restores and uploads stay here.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::infra::encaminhamento::{ENCAMINHADA, assinar, cliente_de, confere};
use crate::infra::metricas;
use crate::services::AppState;

use super::middleware::{POSICAO, POSICAO_MINIMA, long_work, posicao_de};

/// Headers that belong to one connection, not to the request or answer carried over it.
const DA_CONEXAO: [HeaderName; 8] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::HOST,
    header::CONTENT_LENGTH,
    header::EXPECT,
];
/// `Keep-Alive` and `Proxy-Connection` (no constants in `http`).
const DA_CONEXAO_EXTRA: [&str; 2] = ["keep-alive", "proxy-connection"];
/// The client address this instance saw, for the leader's limits and audit trail.
const CLIENTE: &str = "x-forwarded-for";

fn agora() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The last time (Unix seconds) a refused forwarding signature was logged.
static RECUSA_AVISADA: AtomicI64 = AtomicI64::new(i64::MIN);

/// Counts a refused forwarding signature and logs it at most once a minute: an instance
/// whose forwarded requests are refused has every client taken as its own address here
/// (one login limit for all of them, its address in the audit trail).
fn recusada() {
    metrics::counter!(metricas::ENCAMINHADAS_RECUSADAS).increment(1);
    let agora = agora();
    let antes = RECUSA_AVISADA.load(Ordering::Relaxed);
    if agora.saturating_sub(antes) >= 60
        && RECUSA_AVISADA
            .compare_exchange(antes, agora, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(target: "agendamento::store", "a request carried a forwarding signature this instance refused: another instance with a different server secret (restart every instance after importar), clocks more than a minute apart, or a made-up header; it is taken as the client's own request");
    }
}

/// Forwards a write to the leader when this instance does not lead; takes a request another
/// instance forwarded (signed for this very request) as coming from the client it names.
pub async fn encaminhar(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(v) = req.headers_mut().remove(ENCAMINHADA) {
        let ip = req
            .headers()
            .get(CLIENTE)
            .and_then(|v| v.to_str().ok()?.trim().parse::<IpAddr>().ok());
        let caminho = req.uri().path_and_query().map_or("/", |p| p.as_str());
        if confere(
            &app.segredo,
            v.as_bytes(),
            agora(),
            &cliente_de(ip),
            req.method().as_str(),
            caminho,
        ) {
            // From another instance: the client it saw, and never forwarded again (the
            // leadership may have moved meanwhile; the write is then made here).
            req.headers_mut().remove(CLIENTE);
            if let Some(ip) = ip {
                req.extensions_mut()
                    .insert(ConnectInfo(SocketAddr::new(ip, 0)));
            }
            return next.run(req).await;
        }
        // Anyone else's value is dropped above and worth nothing; counted, and told to the
        // operator now and then (the request goes on as a client's own).
        recusada();
    }
    let escrita = matches!(*req.method(), Method::POST | Method::PUT | Method::DELETE);
    if !escrita
        || !app.compartilhado()
        || !app.config.encaminhar_escritas
        || app.lider()
        || long_work(&req)
    {
        return next.run(req).await;
    }
    let ocioso = Duration::from_secs(app.config.timeout_ocioso_secs);
    let (Some(lider), Some(cliente)) = (
        app.encaminhamento.lider(),
        app.encaminhamento.cliente(ocioso),
    ) else {
        return next.run(req).await;
    };
    let caminho = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    // The leader must route exactly what this instance would: a path its URL parser would
    // rewrite (dot segments, characters it escapes) is written here.
    let url = match reqwest::Url::parse(&format!("{lider}{caminho}")) {
        Ok(u)
            if caminho.starts_with('/')
                && u.path() == req.uri().path()
                && u.query() == req.uri().query() =>
        {
            u
        }
        _ => return next.run(req).await,
    };
    // As many writes in flight to the leader as allowed: this one is made here.
    let Some(_vaga) = app.encaminhamento.vaga() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, app.config.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => return AppError::PayloadTooLarge.into_response(),
    };
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(quem)| quem.ip());
    let mut cabecalhos = sem_os_da_conexao(parts.headers.clone());
    cabecalhos.remove(CLIENTE);
    if let Some(ip) = ip
        && let Ok(v) = HeaderValue::from_str(&cliente_de(Some(ip)))
    {
        cabecalhos.insert(CLIENTE, v);
    }
    // The leader decides with at least what this instance has shown the client.
    let minima = parts
        .headers
        .get(POSICAO_MINIMA)
        .and_then(posicao_de)
        .unwrap_or(0)
        .max(app.posicao());
    cabecalhos.insert(POSICAO_MINIMA, HeaderValue::from(minima));
    let assinado = assinar(
        &app.segredo,
        agora(),
        &cliente_de(ip),
        parts.method.as_str(),
        &caminho,
    );
    if let Ok(v) = HeaderValue::from_str(&assinado) {
        cabecalhos.insert(ENCAMINHADA, v);
    }
    // Within this instance's own request timeout, so a slow leader is answered as one.
    let prazo = Duration::from_secs(app.config.request_timeout_secs.saturating_sub(1).max(1));
    let enviada = cliente
        .request(parts.method.clone(), url)
        .headers(cabecalhos)
        .timeout(prazo)
        .body(bytes.clone())
        .send()
        .await;
    let resposta = match enviada {
        Ok(r) => r,
        Err(e) if e.is_connect() || e.is_builder() => {
            // Nothing was sent (the leader is gone, not yet reachable, or the address is
            // wrong): the write is made here, under the append lock, and the address is not
            // tried again for a few seconds.
            let e = e.without_url();
            tracing::warn!(target: "agendamento::store", lider = %lider, error = %e, "the leader could not be reached; writing here");
            app.encaminhamento.falhou(&lider);
            return feita_aqui(next, parts, bytes, "feita_aqui").await;
        }
        // Past its deadline the leader may still be working on it: nothing to resolve.
        Err(e) if e.is_timeout() => return sem_resposta(&lider, &e.without_url()),
        Err(e) => return duvida(&app, next, parts, bytes, &lider, e).await,
    };
    let status = resposta.status();
    let cabecalhos = resposta.headers().clone();
    // With the answer's head here, the leader had finished the write: a lost body is only
    // reported.
    let corpo = match resposta.bytes().await {
        Ok(b) => b,
        Err(e) => return sem_resposta(&lider, &e.without_url()),
    };
    // The leader turned the connection away before reading the request (at its connection
    // cap): nothing was done there.
    if status == axum::http::StatusCode::SERVICE_UNAVAILABLE
        && serde_json::from_slice::<serde_json::Value>(&corpo)
            .is_ok_and(|p| p["code"] == "too_many_connections")
    {
        return feita_aqui(next, parts, bytes, "feita_aqui").await;
    }
    // The leader's position covers its write: reads here show it once this has applied it.
    // The answer keeps it (the position layer answers the larger of it and this
    // instance's), so a client reading its own writes elsewhere asks for enough.
    let posicao_da_lider = cabecalhos.get(POSICAO).and_then(posicao_de);
    let alcancada = match posicao_da_lider {
        Some(n) => app.alcancar(n, Duration::from_secs(1)).await,
        None => false,
    };
    metrics::counter!(metricas::ENCAMINHADAS, "resultado" => "respondida").increment(1);
    let mut r = Response::new(Body::from(corpo));
    *r.status_mut() = status;
    let mut cabecalhos = sem_os_da_conexao(cabecalhos);
    // `x-posicao` is what this instance has applied: the leader's only once reached here.
    if !alcancada {
        cabecalhos.remove(POSICAO);
    }
    // This instance's own CORS layer answers the caller.
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

/// Makes the write here (the leader could not take it), counted as `resultado`.
async fn feita_aqui(
    next: Next,
    parts: axum::http::request::Parts,
    bytes: axum::body::Bytes,
    resultado: &'static str,
) -> Response {
    metrics::counter!(metricas::ENCAMINHADAS, "resultado" => resultado).increment(1);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// `h` without the headers that belong to one connection (also those its `Connection`
/// header names).
fn sem_os_da_conexao(mut h: HeaderMap) -> HeaderMap {
    let nomeados: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for k in nomeados {
        h.remove(k);
    }
    for k in DA_CONEXAO {
        h.remove(k);
    }
    for k in DA_CONEXAO_EXTRA {
        h.remove(k);
    }
    h
}

/// The leader took the request and its answer did not arrive. If the leader's process is
/// gone (its address refuses connections), this instance takes the right to append, which
/// also waits for the dead leader's last append to end, and catches up: the write is then
/// either in the audit trail (it was made: 503, the answer is lost) or it can no longer be
/// made there, and it is made here. Otherwise (the leader lives) 503: it may or may not
/// have been made.
async fn duvida(
    app: &AppState,
    next: Next,
    parts: axum::http::request::Parts,
    bytes: axum::body::Bytes,
    lider: &std::sync::Arc<str>,
    e: reqwest::Error,
) -> Response {
    // Without the URL: its path can carry a public link's token.
    let e = e.without_url();
    let request_id = parts
        .headers
        .get(super::middleware::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Only an id this server made is surely this request's alone; a build without the audit
    // trail (benchmarks only) cannot tell at all.
    let gerado = parts
        .extensions
        .get::<super::middleware::IdGerado>()
        .is_some();
    if cfg!(feature = "bench-sem-trilha") || !gerado {
        return sem_resposta(lider, &e);
    }
    let (Some(request_id), true) = (request_id, morta(lider).await) else {
        return sem_resposta(lider, &e);
    };
    app.encaminhamento.falhou(lider);
    let feita = match crate::services::auditoria::feita_pelo_pedido(
        app,
        &request_id,
        // Generous: the dead leader's clock may differ from this one's.
        Duration::from_secs(900 + app.config.request_timeout_secs),
    )
    .await
    {
        Some(f) => f,
        None => return sem_resposta(lider, &e),
    };
    if feita {
        tracing::warn!(target: "agendamento::store", lider = %lider, "the leader made a forwarded write and died before answering");
        return lider_sem_resposta(
            "A instância que grava as alterações (a líder) registrou esta requisição e parou antes de responder; confira o resultado antes de repetir.",
        );
    }
    tracing::warn!(target: "agendamento::store", lider = %lider, error = %e, "the leader died with a forwarded write it had not made; writing here");
    feita_aqui(next, parts, bytes, "feita_aqui_apos_queda").await
}

/// Whether nothing listens at the leader's address any more (connection refused) within
/// 2 s: its process is gone. A process being killed still accepts connections for a few
/// milliseconds, so it is asked every 100 ms; a timeout or a name that does not resolve
/// proves nothing.
async fn morta(lider: &str) -> bool {
    let Some((host, port)) = reqwest::Url::parse(lider).ok().and_then(|u| {
        Some((
            u.host_str()?.trim_matches(['[', ']']).to_owned(),
            u.port_or_known_default()?,
        ))
    }) else {
        return false;
    };
    let ate = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < ate {
        let tentativa = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await;
        if matches!(tentativa, Ok(Err(ref e)) if e.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// 503 when the leader took the request but its answer did not arrive: the write may or
/// may not have been made.
fn sem_resposta(lider: &str, e: &reqwest::Error) -> Response {
    tracing::warn!(target: "agendamento::store", lider = %lider, error = %e, "no answer from the leader to a forwarded write");
    lider_sem_resposta(
        "A instância que grava as alterações (a líder) não respondeu; a alteração pode ter sido feita ou não. Confira antes de repetir (um POST com Idempotency-Key pode ser repetido com a mesma chave).",
    )
}

/// 503 `lider_sem_resposta` with `detail`, counted.
fn lider_sem_resposta(detail: &str) -> Response {
    metrics::counter!(metricas::ENCAMINHADAS, "resultado" => "sem_resposta").increment(1);
    AppError::Busy {
        status: 503,
        code: "lider_sem_resposta",
        detail: detail.into(),
        retry_after_secs: 1,
    }
    .into_response()
}
