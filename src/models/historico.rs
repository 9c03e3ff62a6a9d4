//! An appointment's history (SPEC-2 §11): every change of its life, with who and why.
//! Written in the same journal entry as the change it records.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AcaoHistorico {
    /// The appointment was created (booked or recorded by the front desk).
    Criada,
    /// Its status changed (`de`/`para` are statuses).
    Status,
    /// It moved (`de`/`para` are the starts).
    Remarcada,
    /// It was cancelled (with the `motivo`, when one was given).
    Cancelada,
}

/// One entry of an appointment's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EntradaHistorico {
    /// UUID v7: entries sort by time.
    pub id: String,
    /// The appointment.
    pub consulta_id: String,
    /// When, RFC 3339 with the clinic's offset.
    #[schema(example = "2026-03-01T10:15:00-03:00")]
    pub em: String,
    /// What happened.
    pub acao: AcaoHistorico,
    /// Before: a status (`status`) or a start (`remarcada`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "agendada")]
    pub de: Option<String>,
    /// After: a status (`status`) or a start (`remarcada`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "confirmada")]
    pub para: Option<String>,
    /// The user who did it; absent for the system (single-user mode, internal writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usuario_id: Option<String>,
    /// Why (a cancellation's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motivo: Option<String>,
}
