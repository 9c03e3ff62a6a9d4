//! The stored records of SPEC §2, as they are serialized to clients and to disk.
//! Kept free of axum; every value here has already passed the domain checks.

mod auditoria;
mod calendario;
mod embutidos;
mod estatisticas;
mod historico;
mod lista_espera;
mod notificacoes;
mod pagamento;
mod regras;
mod respostas;
mod series;
mod usuario;

use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{DiaSemana, Hora};

pub use auditoria::{Acao, EntradaAuditoria};
pub use calendario::{ConsultaPublica, TokenCalendario, UrlCalendario};
pub use embutidos::{ConsultaDetalhada, MedicoResumo, PacienteResumo};
pub use estatisticas::{
    EstatisticaConvenio, EstatisticaDiaSemana, EstatisticaEspecialidade, EstatisticaHora,
    EstatisticaMedico, EstatisticaPlano, Estatisticas, Periodo, PorStatus,
};
pub use historico::{AcaoHistorico, EntradaHistorico};
pub use lista_espera::{EntradaEspera, Oferta, StatusEspera, VagaRecusada};
pub use notificacoes::{
    Canal, EVENTOS, EventoNotificacao, Notificacao, NotificacaoPublica, StatusNotificacao, Webhook,
    WebhookCriado, WebhookPublico,
};
pub use pagamento::{FormaPagamento, Pagamento, StatusPagamento};
pub use regras::Regras;
pub use respostas::{
    Agendado, BloqueioCriado, Contagens, Enviado, Estado, HorarioAlterado, Liberado, Reservado,
    Restaurado,
};
pub use series::{SerieAgendada, SerieCancelada};
pub use usuario::{Papel, Sessao, Usuario, UsuarioPublico};

/// Serde for clinic-local datetimes as `YYYY-MM-DDTHH:MM:SS`.
pub mod local_dt {
    use jiff::civil::DateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `YYYY-MM-DDTHH:MM:SS`.
    pub fn serialize<S: Serializer>(dt: &DateTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&dt.strftime("%Y-%m-%dT%H:%M:%S"))
    }

    /// Reads any civil datetime jiff accepts.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for an optional UTC offset as `±HH:MM` (absent when `None`).
pub mod offset_opt {
    use jiff::tz::Offset;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `±HH:MM`.
    pub fn serialize<S: Serializer>(o: &Option<Offset>, s: S) -> Result<S::Ok, S::Error> {
        match o {
            Some(o) => {
                let secs = o.seconds();
                let sign = if secs < 0 { '-' } else { '+' };
                let m = secs.unsigned_abs() / 60;
                s.collect_str(&format_args!("{sign}{:02}:{:02}", m / 60, m % 60))
            }
            None => s.serialize_none(),
        }
    }

    /// Reads `±HH:MM`, or nothing.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Offset>, D::Error> {
        let Some(t) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let bad = || serde::de::Error::custom(format!("offset inválido: {t}"));
        let b = t.as_bytes();
        if b.len() != 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
            return Err(bad());
        }
        let h: i32 = t[1..3].parse().map_err(|_| bad())?;
        let m: i32 = t[4..6].parse().map_err(|_| bad())?;
        let secs = (h * 3600 + m * 60) * if b[0] == b'-' { -1 } else { 1 };
        Offset::from_seconds(secs).map(Some).map_err(|_| bad())
    }
}

/// A patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Paciente {
    /// Identifier (UUID).
    pub id: String,
    /// Full name.
    #[schema(example = "Maria da Conceição")]
    pub nome: String,
    /// CPF, 11 digits.
    #[schema(example = "52998224725")]
    pub cpf: String,
    /// Date of birth.
    #[schema(value_type = String, format = Date, example = "1980-05-17")]
    pub data_nascimento: Date,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub telefone: Option<String>,
    /// Health-insurance plan.
    pub convenio: Option<String>,
    /// Whether the patient receives e-mail about their appointments (SPEC-2 §13); `false`
    /// is their opt-out. A record or backup from before the field existed means `true`.
    #[serde(default = "sim")]
    #[schema(default = true, example = true, required = true)]
    pub notificacoes_email: bool,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it was last changed (RFC 3339, clinic offset).
    pub updated_at: String,
    /// The patient's insurance plan in the registry (`/convenios`, SPEC-2 §12); absent =
    /// none. Bookings default to `forma_pagamento: convenio` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convenio_id: Option<String>,
    /// The plan card's number (letters and digits, at most 30); absent = none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "0001234500012345")]
    pub carteirinha: Option<String>,
    /// The last day the card is valid (inclusive); absent = no expiry known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date, example = "2027-12-31")]
    pub validade_carteirinha: Option<Date>,
}

/// A doctor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Medico {
    /// Identifier (UUID).
    pub id: String,
    /// Full name.
    #[schema(example = "Dra. Ana Lúcia")]
    pub nome: String,
    /// Council registration, unique.
    #[schema(example = "CRM/SP 123456")]
    pub crm: String,
    /// Speciality.
    #[schema(example = "Cardiologia")]
    pub especialidade: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub telefone: Option<String>,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it was last changed (RFC 3339, clinic offset).
    pub updated_at: String,
    /// Length of this doctor's slots in minutes (SPEC-2 §11): their grid steps by it from
    /// the start of each horário. Always present in answers; a record stored before the
    /// field existed means `--slot-minutes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u16, example = 30, minimum = 5, maximum = 480)]
    pub duracao_consulta_minutos: Option<u16>,
    /// Minutes kept free after each appointment (SPEC-2 §11); a slot that starts inside
    /// it, or whose own appointment would end less than this before another, is `ocupado`.
    /// Always present in answers; absent in an old record means 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u16, example = 0, minimum = 0, maximum = 240)]
    pub intervalo_minutos: Option<u16>,
    /// The insurance plans (`/convenios` ids) this doctor takes (SPEC-2 §12); a record
    /// stored before the field existed takes none.
    #[serde(default)]
    pub convenios_aceitos: Vec<String>,
    /// Whether this doctor sees private-pay patients (`forma_pagamento: particular`);
    /// default `true`.
    #[serde(default = "sim")]
    pub aceita_particular: bool,
    /// The private-pay price in integer centavos (`15000` = R$ 150,00); absent = not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 15000, minimum = 0)]
    pub valor_particular_centavos: Option<u64>,
}

/// `true`: the default of flags that were on before they existed.
fn sim() -> bool {
    true
}

/// A period in which nobody books (SPEC-2 §11): a doctor's time off, or, with no
/// `medico_id`, the whole clinic's (holidays).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Bloqueio {
    /// Identifier (UUID; `feriado-AAAA-MM-DD` for the holidays `POST /bloqueios/feriados` creates).
    pub id: String,
    /// The doctor; absent or `null` = the whole clinic.
    #[serde(default)]
    pub medico_id: Option<String>,
    /// Start, clinic-local, inclusive.
    #[serde(with = "local_dt")]
    #[schema(value_type = String, example = "2026-03-02T08:00:00")]
    pub inicio: DateTime,
    /// End, clinic-local, exclusive, after the start (at most 366 days later).
    #[serde(with = "local_dt")]
    #[schema(value_type = String, example = "2026-03-02T12:00:00")]
    pub fim: DateTime,
    /// Why (shown to the desk).
    #[schema(example = "Congresso")]
    pub motivo: String,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
}

/// An insurance plan (convênio, SPEC-2 §12). Never deleted once created: `DELETE`
/// deactivates it, since doctors, patients and appointments may name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Convenio {
    /// Identifier (UUID).
    pub id: String,
    /// Name, unique ignoring case and accents.
    #[schema(example = "Unimed")]
    pub nome: String,
    /// The plan's ANS registry number (6 digits), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "339679", pattern = "^[0-9]{6}$")]
    pub registro_ans: Option<String>,
    /// Whether bookings may still use it.
    pub ativo: bool,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it was last changed (RFC 3339, clinic offset).
    pub updated_at: String,
}

/// A doctor's weekly working hours on one weekday.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Horario {
    /// Identifier (UUID).
    pub id: String,
    /// The doctor.
    pub medico_id: String,
    /// Weekday.
    pub dia_semana: DiaSemana,
    /// Start, `HH:MM`.
    #[schema(value_type = String, example = "08:00")]
    pub hora_inicio: Hora,
    /// End, `HH:MM`, after the start.
    #[schema(value_type = String, example = "12:00")]
    pub hora_fim: Hora,
}

/// The life cycle of an appointment (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusConsulta {
    /// Booked.
    Agendada,
    /// The patient confirmed.
    Confirmada,
    /// Attended (final).
    Concluida,
    /// No-show (final).
    Faltou,
    /// Cancelled (final).
    Cancelada,
}

impl StatusConsulta {
    /// Every status, for error messages.
    pub const ALL: [Self; 5] = [
        Self::Agendada,
        Self::Confirmada,
        Self::Concluida,
        Self::Faltou,
        Self::Cancelada,
    ];

    /// Parses a status name.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        Ok(match s.trim() {
            "agendada" => Self::Agendada,
            "confirmada" => Self::Confirmada,
            "concluida" => Self::Concluida,
            "faltou" => Self::Faltou,
            "cancelada" => Self::Cancelada,
            _ => {
                return Err(
                    "status inválido: use agendada, confirmada, concluida, faltou ou cancelada",
                );
            }
        })
    }

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agendada => "agendada",
            Self::Confirmada => "confirmada",
            Self::Concluida => "concluida",
            Self::Faltou => "faltou",
            Self::Cancelada => "cancelada",
        }
    }

    /// `concluida`, `faltou` and `cancelada` never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Concluida | Self::Faltou | Self::Cancelada)
    }

    /// Still holds its time: booked or confirmed.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Agendada | Self::Confirmada)
    }

    /// Whether `self → to` is allowed; staying put is always allowed.
    pub fn can_become(self, to: Self) -> bool {
        self == to
            || match self {
                Self::Agendada => true,
                Self::Confirmada => to.is_final(),
                Self::Concluida | Self::Faltou | Self::Cancelada => false,
            }
    }
}

/// An appointment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Consulta {
    /// Identifier (UUID).
    pub id: String,
    /// The patient.
    pub paciente_id: String,
    /// The doctor.
    pub medico_id: String,
    /// Start, clinic-local.
    #[serde(with = "local_dt")]
    #[schema(value_type = String, example = "2026-03-02T08:00:00")]
    pub inicio: DateTime,
    /// End, clinic-local, after the start.
    #[serde(with = "local_dt")]
    #[schema(value_type = String, example = "2026-03-02T08:30:00")]
    pub fim: DateTime,
    /// UTC offset of `inicio` (`±HH:MM`), present only when `inicio` is the *later*
    /// occurrence of a clinic-local hour that happens twice (clocks going back at the end of
    /// daylight saving); absent, a repeated hour means its earlier occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "offset_opt")]
    #[schema(value_type = Option<String>, example = "-05:00")]
    pub inicio_offset: Option<jiff::tz::Offset>,
    /// UTC offset of `fim`, under the same rule as `inicio_offset`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "offset_opt")]
    #[schema(value_type = Option<String>, example = "-05:00")]
    pub fim_offset: Option<jiff::tz::Offset>,
    /// Status.
    pub status: StatusConsulta,
    /// Free-text notes.
    pub observacoes: Option<String>,
    /// The recurring series it belongs to (`POST /consultas/agendar-serie`, SPEC-2 §11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serie_id: Option<String>,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it was last changed (RFC 3339, clinic offset).
    pub updated_at: String,
    /// Why it was cancelled (`POST /consultas/{id}/cancelar`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motivo_cancelamento: Option<String>,
    /// How it is paid and where that stands (SPEC-2 §12); absent on appointments booked
    /// before payments existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagamento: Option<Pagamento>,
}

impl Consulta {
    /// Its `[inicio, fim)` pinned to instants in the clinic's zone `tz`.
    pub fn intervalo(&self, tz: &jiff::tz::TimeZone) -> crate::domain::Intervalo {
        use crate::domain::Momento;
        crate::domain::Intervalo::from_momentos(
            Momento::stored(self.inicio, self.inicio_offset, tz),
            Momento::stored(self.fim, self.fim_offset, tz),
        )
    }

    /// Whether it occupies its time (every status but `cancelada` does: a no-show or an
    /// attended appointment still used the doctor's time).
    pub fn blocks_time(&self) -> bool {
        self.status != StatusConsulta::Cancelada
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_spec() {
        use StatusConsulta::*;
        assert!(Agendada.can_become(Confirmada));
        assert!(Agendada.can_become(Faltou));
        assert!(Confirmada.can_become(Concluida));
        assert!(!Confirmada.can_become(Agendada));
        for fin in [Concluida, Faltou, Cancelada] {
            for to in StatusConsulta::ALL {
                assert_eq!(fin.can_become(to), fin == to, "{fin:?} -> {to:?}");
            }
        }
    }
}

/// A live hold on one slot (SPEC §3): it expires at `expira_em` unless booked or released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reserva {
    /// `medico_id/slot`: one hold per doctor and slot.
    pub id: String,
    /// The doctor.
    pub medico_id: String,
    /// The slot's clinic-local start.
    #[serde(with = "local_dt")]
    pub slot: DateTime,
    /// When it lapses.
    pub expira_em: jiff::Timestamp,
    /// The user who holds it (SPEC-2 §10); absent for the system (single-user mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usuario_id: Option<String>,
    /// The waiting-list entry it is offered to (SPEC-2 §11): nobody else books or releases
    /// it; the entry accepts, refuses or lets it lapse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lista_espera_id: Option<String>,
}

impl Reserva {
    /// The id of the hold of `medico_id` on `slot`.
    pub fn key(medico_id: &str, slot: DateTime) -> String {
        format!("{medico_id}/{}", slot.strftime("%Y-%m-%dT%H:%M:%S"))
    }
}

/// What a task does (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TipoTarefa {
    /// Book an appointment (`POST /consultas/agendar`).
    AgendarConsulta,
    /// Write a backup ZIP.
    Backup,
    /// Write a PDF report.
    GerarRelatorio,
    /// Book a recurring series (`POST /consultas/agendar-serie`, SPEC-2 §11).
    AgendarSerie,
}

impl TipoTarefa {
    /// Its JSON name (also its metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgendarConsulta => "agendar_consulta",
            Self::Backup => "backup",
            Self::GerarRelatorio => "gerar_relatorio",
            Self::AgendarSerie => "agendar_serie",
        }
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusTarefa {
    /// Waiting for the worker.
    Pendente,
    /// Running.
    Executando,
    /// Done.
    Concluida,
    /// Failed for good (see `erro`).
    Falhou,
}

impl StatusTarefa {
    /// `concluida` and `falhou` never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Concluida | Self::Falhou)
    }
}

/// Why a task failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErroTarefa {
    /// Stable key, e.g. `horario_ocupado`.
    #[schema(example = "horario_ocupado")]
    pub code: String,
    /// A sentence in Portuguese.
    pub detail: String,
    /// The dates that could not be booked (`serie_com_conflitos`, SPEC-2 §11).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Option<Vec<String>>)]
    pub conflitos: Vec<String>,
}

// Also the answer of the other routes that queue a backup or a report (202).
/// Answer of `POST /backup/executar`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enfileirado {
    /// `enfileirado` (backup) or `processando` (report).
    #[schema(example = "enfileirado")]
    pub status: String,
    /// The task; follow it at `/sistema/tasks/{task_id}`.
    pub task_id: String,
}

/// A unit of background work, durable from the moment it is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tarefa {
    /// Identifier (UUID v7).
    pub id: String,
    /// Kind.
    pub tipo: TipoTarefa,
    /// State.
    pub status: StatusTarefa,
    /// 0..=100.
    pub progresso: u8,
    /// Attempts started so far.
    pub tentativas: u32,
    /// Accepted at (RFC 3339).
    pub criado_em: String,
    /// Last attempt started at.
    pub iniciado_em: Option<String>,
    /// Finished at.
    pub concluido_em: Option<String>,
    /// What it produced, when done.
    #[schema(value_type = Option<Object>)]
    pub resultado: Option<serde_json::Value>,
    /// Why it failed, when it did.
    pub erro: Option<ErroTarefa>,
    /// What it was asked to do.
    #[schema(value_type = Object)]
    pub parametros: serde_json::Value,
    /// The user who asked for a booking (SPEC-2 §10: a patient sees their own tasks, and the
    /// appointment's audit entry names them); absent in single-user mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usuario_id: Option<String>,
}

#[cfg(test)]
mod notificacoes_tests {
    use super::Paciente;

    /// Journals, snapshots and backups written before SPEC-2 §13 have no
    /// `notificacoes_email`: such a patient keeps receiving e-mail.
    #[test]
    fn a_patient_stored_before_the_opt_out_existed_is_opted_in() {
        let antigo = r#"{"id":"p1","nome":"Zoë","cpf":"52998224725","data_nascimento":"1980-05-17",
            "email":"zoe@exemplo.com","telefone":null,"convenio":null,
            "created_at":"2026-01-01T08:00:00-03:00","updated_at":"2026-01-01T08:00:00-03:00"}"#;
        let p: Paciente = serde_json::from_str(antigo).expect("an old record still reads");
        assert!(p.notificacoes_email);
    }
}
