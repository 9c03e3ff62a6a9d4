//! The bodies the API answers with that are not records themselves: slot states, hold and
//! booking answers, a horário change with the appointments it affected, backup counts,
//! restore and upload answers. Services build them, controllers serialize them, the OpenAPI
//! document describes them (each is `ToSchema`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Horario;

/// A slot's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Estado {
    /// Free.
    Disponivel,
    /// Held by a live hold.
    Reservado,
    /// Covered by a non-cancelled appointment.
    Ocupado,
}

/// Answer of `POST /agenda/reservar`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Reservado {
    /// `reservado`.
    #[schema(example = "reservado")]
    pub status: String,
    /// The slot, clinic-local.
    #[schema(example = "2026-03-02T08:00:00")]
    pub slot: String,
    /// The doctor.
    pub medico_id: String,
    /// When the hold lapses (RFC 3339).
    pub expira_em: String,
}

/// Answer of `POST /agenda/liberar`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Liberado {
    /// `liberado` when a hold was released, `disponivel` when the slot was already free.
    #[schema(example = "liberado")]
    pub status: String,
    /// The slot, clinic-local.
    pub slot: String,
    /// The doctor.
    pub medico_id: String,
}

/// Answer of `POST /consultas/agendar`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Agendado {
    /// `pendente`.
    #[schema(example = "pendente")]
    pub status: String,
    /// The booking task; follow it at `/sistema/tasks/{task_id}`.
    pub task_id: String,
    /// The first slot, clinic-local.
    pub slot: String,
    /// `Consulta em processamento.`
    pub mensagem: String,
}

/// Answer of `PUT /horarios/{id}`: the horário, and the active appointments the change
/// left outside the doctor's working hours (they stay booked, the desk decides; like
/// SPEC-2 §11's blocks).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HorarioAlterado {
    /// The horário as it is now.
    #[serde(flatten)]
    pub horario: Horario,
    /// Ids of the `agendada`/`confirmada` appointments, not over yet, that the old horário
    /// covered and that now lie outside the doctor's working hours (they no longer show on
    /// the slot grid).
    pub consultas_afetadas: Vec<String>,
}

/// Per-collection record counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Contagens {
    /// Patients.
    pub pacientes: usize,
    /// Doctors.
    pub medicos: usize,
    /// Working hours.
    pub horarios: usize,
    /// Appointments.
    pub consultas: usize,
    /// Blocks (time off, holidays; SPEC-2 §11). A backup written before blocks existed
    /// has none.
    #[serde(default)]
    pub bloqueios: usize,
    /// Waiting-list entries (SPEC-2 §11); absent in archives made before it.
    #[serde(default)]
    pub lista_espera: usize,
    /// Insurance plans (SPEC-2 §12). A backup written before plans existed has none.
    #[serde(default)]
    pub convenios: usize,
}

/// Answer of `POST /backup/restaurar/{nome}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Restaurado {
    /// `restaurado`.
    #[schema(example = "restaurado")]
    pub status: String,
    /// The archive restored.
    pub arquivo: String,
    /// The safety backup of the state it replaced.
    pub backup_seguranca: String,
    /// What is in the store now.
    pub contagens: Contagens,
}

/// Answer of `POST /backup/enviar`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Enviado {
    /// The name the archive was stored under; restore it with `POST /backup/restaurar/{arquivo}`.
    pub arquivo: String,
    /// What the archive holds.
    pub contagens: Contagens,
}

/// Answer of `POST /bloqueios` (SPEC-2 §11): the new block and the active appointments
/// inside it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BloqueioCriado {
    /// The block as stored.
    #[serde(flatten)]
    pub bloqueio: super::Bloqueio,
    /// Ids of the `agendada`/`confirmada` appointments that overlap the block (of its
    /// doctor, or of every doctor for a whole-clinic block): they stay booked until the desk
    /// moves or cancels them.
    pub consultas_afetadas: Vec<String>,
}
