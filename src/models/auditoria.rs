//! The audit trail (SPEC-2 §10): who did what to which record, and who read a patient's
//! data (LGPD). Entries are only ever appended through the API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Papel;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Acao {
    /// A record was created.
    Criar,
    /// A record was changed.
    Alterar,
    /// A record was deleted (or a user deactivated).
    Excluir,
    /// A patient's record or appointments were read.
    Ler,
    /// A user signed in.
    Login,
    /// A sign-in failed.
    LoginFalhou,
    /// A user signed out.
    Logout,
    /// A backup was restored.
    Restaurar,
    /// Data left the server (a backup downloaded).
    Exportar,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EntradaAuditoria {
    /// UUID v7: entries sort by time.
    pub id: String,
    /// When, RFC 3339 with the clinic's offset.
    pub em: String,
    /// The user; `null` for the system (single-user mode, internal writes, an unknown
    /// e-mail's failed sign-in).
    pub usuario_id: Option<String>,
    /// The user's role then.
    pub papel: Option<Papel>,
    /// What was done.
    pub acao: Acao,
    /// The collection (`pacientes`, `consultas`, `usuarios`, `sessoes`, `backups`…).
    pub recurso: String,
    /// The record, when one is concerned.
    pub recurso_id: Option<String>,
    /// The request's `x-request-id` (`interno:…` for internal writes).
    pub request_id: String,
    /// The client's address, when the request came over a socket.
    pub ip: Option<String>,
}
