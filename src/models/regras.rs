//! The clinic's rules (SPEC-2 §11, `/sistema/regras`): one record, journaled, in backups.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The clinic's scheduling rules. The first four are `null` when there is no such rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Regras {
    /// Minimum notice for a booking, hold or move, in minutes (`null`: none).
    #[schema(example = 120)]
    pub antecedencia_minima_minutos: Option<u32>,
    /// How many days ahead bookings, holds and moves may go (`null`: only the server's
    /// `--horizonte-dias`). Narrows `--horizonte-dias`, never widens it.
    #[schema(example = 90)]
    pub horizonte_dias: Option<u32>,
    /// An appointment that starts within this many hours can no longer be cancelled or
    /// moved through `cancelar`/`remarcar` (`null`: no cutoff).
    #[schema(example = 24)]
    pub prazo_cancelamento_horas: Option<u32>,
    /// Most live holds a `paciente` user may have at once (`null`: no limit).
    #[schema(example = 2)]
    pub max_reservas_por_paciente: Option<u32>,
    /// How long a waiting-list offer holds a freed slot, in minutes.
    #[schema(example = 30)]
    pub oferta_minutos: u32,
    /// When reminders go out: hours before the appointment.
    #[schema(example = json!([24, 2]))]
    pub lembretes_horas: Vec<u32>,
}

impl Default for Regras {
    fn default() -> Self {
        Self {
            antecedencia_minima_minutos: None,
            horizonte_dias: None,
            prazo_cancelamento_horas: None,
            max_reservas_por_paciente: None,
            oferta_minutos: 30,
            lembretes_horas: vec![24, 2],
        }
    }
}

impl Regras {
    /// The id of the one record in its collection.
    pub const ID: &'static str = "clinica";
}
