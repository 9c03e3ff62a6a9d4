//! The waiting list of SPEC-2 §11: a patient waits for a slot with a doctor, a speciality or
//! any doctor, between two dates; a freed matching slot is held for the oldest entry and
//! offered to it.

use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::local_dt;

/// Where a waiting-list entry is in its life: `aguardando` → `oferecida` → `agendada` |
/// `expirada` | `cancelada` (a refused offer goes back to `aguardando`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusEspera {
    /// Waiting for a slot.
    Aguardando,
    /// A slot is held for it (see `oferta`).
    Oferecida,
    /// The offered slot was booked (final).
    Agendada,
    /// An offer lapsed unanswered (final).
    Expirada,
    /// Cancelled (final).
    Cancelada,
}

impl StatusEspera {
    /// `agendada`, `expirada` and `cancelada` never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Agendada | Self::Expirada | Self::Cancelada)
    }

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aguardando => "aguardando",
            Self::Oferecida => "oferecida",
            Self::Agendada => "agendada",
            Self::Expirada => "expirada",
            Self::Cancelada => "cancelada",
        }
    }
}

/// A slot held for a waiting-list entry until `expira_em`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Oferta {
    /// The doctor.
    pub medico_id: String,
    /// The slot's clinic-local start.
    #[serde(with = "local_dt")]
    #[schema(value_type = String, example = "2026-03-02T08:00:00")]
    pub slot: DateTime,
    /// When the offer lapses (RFC 3339, clinic offset).
    pub expira_em: String,
}

/// A slot an entry was offered and refused: never offered to it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VagaRecusada {
    /// The doctor.
    pub medico_id: String,
    /// The slot's clinic-local start.
    #[serde(with = "local_dt")]
    #[schema(value_type = String, example = "2026-03-02T08:00:00")]
    pub slot: DateTime,
}

/// A waiting-list entry (`/lista-espera`, SPEC-2 §11). With `medico_id` it waits for that
/// doctor, with `especialidade` for any doctor of that speciality, with neither for any
/// doctor (the two together are refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EntradaEspera {
    /// Identifier (UUID v7: the order of the list).
    pub id: String,
    /// The patient.
    pub paciente_id: String,
    /// Only this doctor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medico_id: Option<String>,
    /// Only doctors of this speciality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Cardiologia")]
    pub especialidade: Option<String>,
    /// First acceptable day (inclusive).
    #[schema(value_type = String, format = Date, example = "2026-03-02")]
    pub de: Date,
    /// Last acceptable day (inclusive).
    #[schema(value_type = String, format = Date, example = "2026-03-31")]
    pub ate: Date,
    /// Status.
    pub status: StatusEspera,
    /// The slot held for it, while `oferecida` (kept once `agendada`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oferta: Option<Oferta>,
    /// Slots it refused, or whose offer staff took back (never offered to it again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recusadas: Vec<VagaRecusada>,
    /// The booking task of an accepted offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tarefa_id: Option<String>,
    /// The appointment booked from the offer, once `agendada`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consulta_id: Option<String>,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it last changed (RFC 3339, clinic offset).
    pub updated_at: String,
}
