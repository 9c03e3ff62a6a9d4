//! `GET /` and `GET /sistema/saude` (SPEC §8).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::Json;
use crate::services::AppState;

/// Answer of `GET /`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Raiz {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// A greeting with where to find the docs.
    pub message: String,
}

/// Storage part of the health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Armazenamento {
    /// Whether the data folder accepts writes.
    pub gravavel: bool,
}

/// Queue part of the health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Fila {
    /// Tasks waiting to run.
    pub pendentes: u64,
}

// Published as `Worker`; in Rust that name is the worker itself (`crate::worker::Worker`).
/// Worker part of the health answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Worker)]
pub struct SaudeWorker {
    /// Whether the background worker is running.
    pub vivo: bool,
}

/// This instance's part of the health answer (SPEC-2 §16).
#[derive(Debug, Serialize, ToSchema)]
pub struct Instancia {
    /// Where the data lives: `pasta` (the data folder) or `postgres` (`--database-url`,
    /// several instances).
    #[schema(example = "pasta")]
    pub banco: &'static str,
    /// Whether this instance runs the task worker and the timers (always with `pasta`; with
    /// `postgres`, exactly one instance at a time).
    pub lider: bool,
    /// The journal position this instance has applied (also in every answer's `x-posicao`).
    pub posicao: u64,
}

/// Answer of `GET /sistema/saude`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Saude {
    /// `ok`, or `degradado` when storage cannot write or the worker is down.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Server version.
    pub versao: &'static str,
    /// Storage.
    pub armazenamento: Armazenamento,
    /// Task queue.
    pub fila: Fila,
    /// Background worker.
    pub worker: SaudeWorker,
    /// This instance.
    pub instancia: Instancia,
}

/// Says the server is up.
#[utoipa::path(get, path = "/", tag = "sistema", responses((status = 200, body = Raiz)))]
pub async fn find_root() -> Json<Raiz> {
    Json(Raiz {
        status: "ok",
        message: "Agendamento API em funcionamento. Documentação em /docs".into(),
    })
}

/// Health: storage writability, queue and worker. 503 (same body) when storage cannot write.
#[utoipa::path(get, path = "/sistema/saude", tag = "sistema",
    responses((status = 200, body = Saude), (status = 503, body = Saude, description = "Armazenamento indisponível")))]
pub async fn find_saude(State(app): State<AppState>) -> (StatusCode, Json<Saude>) {
    let gravavel = app.gravavel().await;
    let vivo = app.queue.alive();
    // Not ready when storage cannot write; degraded but serving when only the worker is down.
    let status = if gravavel {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Saude {
            status: if gravavel && vivo { "ok" } else { "degradado" },
            versao: env!("CARGO_PKG_VERSION"),
            armazenamento: Armazenamento { gravavel },
            fila: Fila {
                pendentes: app.queue.pending() as u64,
            },
            worker: SaudeWorker { vivo },
            instancia: Instancia {
                banco: if app.compartilhado() {
                    "postgres"
                } else {
                    "pasta"
                },
                lider: app.lider(),
                posicao: app.posicao(),
            },
        }),
    )
}
