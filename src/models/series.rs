//! The answers of the recurring-series routes (SPEC-2 §11).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Consulta;

/// Answer of `POST /consultas/agendar-serie` (202): the task that books every occurrence
/// or none.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SerieAgendada {
    /// `pendente`.
    #[schema(example = "pendente")]
    pub status: String,
    /// The task; follow it at `/sistema/tasks/{task_id}`.
    pub task_id: String,
    /// The `serie_id` every appointment of the series will carry.
    pub serie_id: String,
    /// How many appointments it books.
    pub ocorrencias: u8,
    /// A sentence in Portuguese.
    pub mensagem: String,
}

/// Answer of `POST /consultas/series/{serie_id}/cancelar`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SerieCancelada {
    /// The series.
    pub serie_id: String,
    /// The appointments cancelled now (the future, active ones).
    pub canceladas: Vec<Consulta>,
    /// Why, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motivo: Option<String>,
}
