//! `/sistema/tasks` (SPEC §4).

use std::sync::Arc;

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Autenticado, Autorizado};
use super::extract::{ApiPath, ApiQuery, Json, Lista, Pagina};
use crate::error::AppError;
use crate::models::{StatusTarefa, Tarefa, TipoTarefa};
use crate::services::{self, AppState};

/// Filters of `GET /sistema/tasks`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiltroTarefas {
    /// Only this status.
    pub status: Option<StatusTarefa>,
    /// Only this kind.
    pub tipo: Option<TipoTarefa>,
}

/// Lists tasks, newest first.
#[utoipa::path(get, path = "/sistema/tasks", tag = "tarefas", params(Pagina, FiltroTarefas),
    responses((status = 200, description = "Tarefas, mais recentes primeiro", body = [Tarefa],
        headers(("x-total-count" = u64, description = "Total após o filtro")))))]
pub async fn list_tarefas(
    quem: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiQuery(pagina): ApiQuery<Pagina>,
    ApiQuery(f): ApiQuery<FiltroTarefas>,
) -> Result<Lista<Tarefa>, AppError> {
    let janela = pagina.janela()?;
    Ok(services::tarefas::page(&app, &quem.0, f.status, f.tipo, janela).into())
}

/// Finds one task.
#[utoipa::path(get, path = "/sistema/tasks/{task_id}", tag = "tarefas", params(("task_id" = String, Path)),
    responses((status = 200, body = Tarefa)))]
pub async fn find_tarefa(
    quem: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Arc<Tarefa>>, AppError> {
    services::tarefas::find_visivel(&app, &id, &quem.0).map(Json)
}
