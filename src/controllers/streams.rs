//! Server-Sent Events (SPEC §5): `GET /sistema/agenda/stream` with `Last-Event-ID` replay,
//! and `GET /sistema/logs/stream`; plus `GET /sistema/logs`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Admin, Autenticado, Autorizado};
use super::extract::ApiQuery;
use super::extract::Json;
use crate::error::AppError;
use crate::infra::events::Published;
use crate::services::{self, AppState, Chamador, Escopo};

/// A comment is sent this often so proxies keep idle streams open.
/// How often an agenda stream with no event checks that its session still lasts.
const VERIFICA_SESSAO: Duration = Duration::from_secs(15);

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Query of `GET /sistema/agenda/stream`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Same as the `Last-Event-ID` header, for clients that cannot set headers.
    pub last_event_id: Option<u64>,
}

/// Query of `GET /sistema/logs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// How many lines, newest first (1..=5000, default 500).
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<i64>,
}

/// Answer of `GET /sistema/logs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Logs {
    /// `[YYYY-MM-DD HH:MM:SS] [LEVEL] target: message`, newest first.
    #[schema(value_type = Vec<String>)]
    pub logs: Vec<Arc<str>>,
}

struct Sub {
    missed: std::vec::IntoIter<Published>,
    rx: broadcast::Receiver<Published>,
    stop: watch::Receiver<bool>,
}

fn event(p: &Published) -> Event {
    Event::default().id(p.id.to_string()).data(&*p.data)
}

/// Events that say only a slot's or an agenda's state (any role may see them, without
/// another patient's `consulta`).
const ESTADO_DE_HORARIO: [&str; 5] = [
    "horario_reservado",
    "horario_liberado",
    "horario_disponivel",
    "horario_ocupado",
    "horario_atualizado",
];

/// What of event `p` the caller may see (SPEC-2 §10), `None` for nothing: staff see every
/// event; a `medico` their own agenda's events in full and other agendas' slot states; a
/// `paciente` slot states without another patient's `consulta`, and of the rest only what
/// is theirs (their appointments, their tasks).
fn filtrar(app: &AppState, quem: &Chamador, p: &Published) -> Option<Published> {
    let escopo = quem.escopo();
    if escopo == Escopo::Tudo {
        return Some(p.clone());
    }
    let mut v: serde_json::Value = serde_json::from_str(&p.data).ok()?;
    let tipo = v.get("tipo")?.as_str()?.to_owned();
    let dados = v.get_mut("dados")?;
    let campo =
        |d: &serde_json::Value, c: &str| d.get(c).and_then(|x| x.as_str()).map(str::to_owned);
    let da_consulta = |d: &serde_json::Value, c: &str| {
        d.get("consulta")
            .and_then(|x| x.get(c))
            .and_then(|x| x.as_str())
            .map(str::to_owned)
    };
    let meu = match &escopo {
        Escopo::Medico(m) => {
            campo(dados, "medico_id").as_deref() == Some(m.as_str())
                || da_consulta(dados, "medico_id").as_deref() == Some(m.as_str())
        }
        Escopo::Paciente(pid) => {
            da_consulta(dados, "paciente_id").as_deref() == Some(pid.as_str())
                // Waiting-list events name the entry's patient (SPEC-2 §11).
                || campo(dados, "paciente_id").as_deref() == Some(pid.as_str())
        }
        Escopo::Tudo | Escopo::Nada => false,
    };
    if tipo == "tarefa_atualizada" {
        let id = campo(dados, "task_id")?;
        return services::tarefas::find_visivel(app, &id, quem)
            .is_ok()
            .then(|| p.clone());
    }
    if meu {
        return Some(p.clone());
    }
    if !ESTADO_DE_HORARIO.contains(&tipo.as_str()) {
        return None;
    }
    let Some(obj) = dados.as_object_mut() else {
        return Some(p.clone());
    };
    if obj.remove("consulta").is_none() {
        return Some(p.clone());
    }
    Some(Published {
        id: p.id,
        data: serde_json::to_string(&v).ok()?.into(),
    })
}

/// How far past this server's newest event a client's `Last-Event-ID` may be and still be
/// taken as one of this clinic's ids that this instance has not reached yet (SPEC-2 §16: an
/// instance a few writes behind another). Further ahead, the id came from elsewhere: another
/// store (ids of the data folder are microseconds, PostgreSQL's are journal positions) or a
/// server whose clock was set back.
const ADIANTE_MAX: u64 = 1_000_000;

/// The `Last-Event-ID` up to which live events are not sent again, or `None` when the id is
/// not one of this clinic's (see [`ADIANTE_MAX`]): skipping up to it would leave the stream
/// silent until ids caught up with it, possibly never.
fn ja_recebido(app: &services::App, last: Option<u64>) -> Option<u64> {
    last.filter(|l| *l <= app.evento_mais_recente().saturating_add(ADIANTE_MAX))
}

/// Live agenda events: unnamed SSE events whose `data` is `{"tipo", "dados"}`, each with an
/// `id:`. Send `Last-Event-ID` to receive the missed events first. A subscriber that falls
/// too far behind is disconnected and should reconnect with `Last-Event-ID`.
#[utoipa::path(get, path = "/sistema/agenda/stream", tag = "eventos", params(StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Id do último evento recebido")),
    responses((status = 200, description = "Fluxo SSE de eventos", content_type = "text/event-stream", body = String)))]
pub async fn stream_agenda(
    autorizado: Autorizado<Autenticado>,
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(q.last_event_id);
    let quem = autorizado.0;
    let (missed, rx) = app.events.subscribe(last);
    let ja_tem = ja_recebido(&app, last);
    let sub = Sub {
        missed: missed.into_iter(),
        rx,
        stop: app.shutdown.subscribe(),
    };
    let stream = futures_util::stream::unfold(sub, move |mut s| {
        let (app, quem) = (app.clone(), quem.clone());
        async move {
            loop {
                let next = match s.missed.next() {
                    Some(p) => Some(p),
                    None => tokio::select! {
                        r = s.rx.recv() => r.ok(),
                        _ = s.stop.wait_for(|stop| *stop) => None,
                        // A quiet clinic sends no event for a long while: the session is
                        // checked anyway, so an ended one does not keep its stream open.
                        () = tokio::time::sleep(VERIFICA_SESSAO) => {
                            services::usuarios::vigente(&app, &quem)?;
                            continue;
                        }
                    },
                };
                // `None` also when it fell behind the bounded buffer (Lagged): the
                // subscriber is dropped and reconnects with Last-Event-ID.
                let p = next?;
                // What the client already has: an instance still behind the one it came
                // from publishes those again as it catches up (SPEC-2 §16).
                if ja_tem.is_some_and(|l| p.id <= l) {
                    continue;
                }
                // A session that ended (logout, deactivation) receives nothing more; a
                // changed role sees what the new one may (SPEC-2 §10).
                let quem = services::usuarios::vigente(&app, &quem)?;
                if let Some(visto) = filtrar(&app, &quem, &p) {
                    return Some((Ok(event(&visto)), s));
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// The newest log lines, newest first.
#[utoipa::path(get, path = "/sistema/logs", tag = "sistema", params(LogsQuery),
    responses((status = 200, body = Logs)))]
pub async fn list_logs(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> Result<Json<Logs>, AppError> {
    let limit = match q.limit {
        None => 500,
        Some(l @ 1..=5000) => l as usize,
        Some(_) => return Err(AppError::campo("limit", "deve estar entre 1 e 5000")),
    };
    Ok(Json(Logs {
        logs: app.logs.newest(limit),
    }))
}

/// New log lines as they are written, each the `data` of an unnamed SSE event.
#[utoipa::path(get, path = "/sistema/logs/stream", tag = "sistema",
    responses((status = 200, description = "Fluxo SSE de linhas de log", content_type = "text/event-stream", body = String)))]
pub async fn stream_logs(
    autorizado: Autorizado<Admin>,
    State(app): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = app.logs.subscribe();
    let stop = app.shutdown.subscribe();
    let quem = autorizado.0;
    let stream = futures_util::stream::unfold((rx, stop), move |(mut rx, mut stop)| {
        let (app, quem) = (app.clone(), quem.clone());
        async move {
            loop {
                let next = tokio::select! {
                    r = rx.recv() => r,
                    _ = stop.wait_for(|s| *s) => return None,
                };
                // Admin only, for as long as the session lasts and the user stays admin.
                let admin = services::usuarios::vigente(&app, &quem)
                    .is_some_and(|q| q.papel == crate::models::Papel::Admin);
                if !admin {
                    return None;
                }
                match next {
                    Ok(line) => return Some((Ok(Event::default().data(&*line)), (rx, stop))),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
