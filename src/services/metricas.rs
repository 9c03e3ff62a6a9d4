//! `GET /metrics` (SPEC-2 §15): the gauges read from the application's state at scrape
//! time (tasks by kind and status, lane depths, open streams, live holds, resident memory),
//! then the Prometheus text of every series. Counters and histograms are recorded where
//! things happen (HTTP middleware, store flusher, worker); see `infra::metricas`.

use super::App;
use crate::error::AppError;
use crate::infra::metricas as m;
use crate::infra::queue::Lane;
use crate::models::{StatusTarefa, TipoTarefa};

/// Whether `Authorization` carries the configured `--metrics-token` as a bearer (false
/// when none is configured). Compared in constant time.
pub fn token_confere(app: &App, authorization: Option<&str>) -> bool {
    let Some(token) = token(app) else {
        return false;
    };
    let Some(sent) = authorization.and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    }) else {
        return false;
    };
    let (a, b) = (sent.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The configured `--metrics-token`, if any.
pub fn token(app: &App) -> Option<&str> {
    app.config
        .metrics_token
        .as_deref()
        .filter(|t| !t.is_empty())
}

/// Sets the scrape-time gauges and renders every series (404 with `--no-metrics`).
pub fn exposicao(app: &App) -> Result<String, AppError> {
    let handle = m::handle()
        .filter(|_| !app.config.no_metrics)
        .ok_or_else(|| {
            AppError::NotFound("As métricas estão desligadas neste servidor (--no-metrics).".into())
        })?;
    let mut tarefas = [[0u64; 2]; 4];
    let (holds, notificacoes) = {
        let db = app.store.read();
        for t in db.tarefas.iter() {
            let s = match t.status {
                StatusTarefa::Pendente => 0,
                StatusTarefa::Executando => 1,
                StatusTarefa::Concluida | StatusTarefa::Falhou => continue,
            };
            tarefas[t.tipo as usize][s] += 1;
        }
        (db.reservas.len(), super::notificacoes::contagens(&db))
    };
    for (status, canal, n) in notificacoes {
        metrics::gauge!(m::NOTIFICACOES, "status" => status, "canal" => canal).set(n as f64);
    }
    for tipo in [
        TipoTarefa::AgendarConsulta,
        TipoTarefa::Backup,
        TipoTarefa::GerarRelatorio,
        TipoTarefa::AgendarSerie,
    ] {
        for (i, status) in ["pendente", "executando"].into_iter().enumerate() {
            metrics::gauge!(m::TASKS, "tipo" => tipo.as_str(), "status" => status)
                .set(tarefas[tipo as usize][i] as f64);
        }
    }
    for (lane, nome) in [(Lane::Agenda, "agenda"), (Lane::Bulk, "bulk")] {
        metrics::gauge!(m::QUEUE_DEPTH, "lane" => nome).set(app.queue.depth(lane) as f64);
    }
    metrics::gauge!(m::SSE_SUBSCRIBERS, "stream" => "agenda").set(app.events.subscribers() as f64);
    metrics::gauge!(m::SSE_SUBSCRIBERS, "stream" => "logs").set(app.logs.subscribers() as f64);
    metrics::gauge!(m::HOLDS).set(holds as f64);
    if let Some(rss) = m::memoria_residente() {
        metrics::gauge!(m::MEMORY).set(rss as f64);
    }
    Ok(handle.render())
}
