//! The answer of `GET /relatorios/estatisticas` (SPEC-2 §15): counts, rates and breakdowns of
//! the appointments that start in a period. Rates are fractions from 0 to 1 rounded to four
//! decimals, `null` when their denominator is zero (undefined, not 0).

use jiff::civil::Date;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::DiaSemana;

/// The period the figures cover (dates inclusive, clinic-local).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Periodo {
    /// First day.
    #[schema(value_type = String, format = Date, example = "2026-03-01")]
    pub de: Date,
    /// Last day, inclusive.
    #[schema(value_type = String, format = Date, example = "2026-03-31")]
    pub ate: Date,
    /// Number of days, both ends included.
    #[schema(example = 31)]
    pub dias: u32,
}

/// Appointments per status (every status present, zero included).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct PorStatus {
    /// `agendada`.
    pub agendada: u64,
    /// `confirmada`.
    pub confirmada: u64,
    /// `concluida`.
    pub concluida: u64,
    /// `faltou`.
    pub faltou: u64,
    /// `cancelada`.
    pub cancelada: u64,
}

/// One doctor's figures in the period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EstatisticaMedico {
    /// The doctor.
    pub medico_id: String,
    /// Their name.
    pub nome: String,
    /// Their speciality.
    pub especialidade: String,
    /// Appointments starting in the period, cancelled ones included.
    pub total: u64,
    /// Per status.
    pub por_status: PorStatus,
    /// Minutes of their non-cancelled appointments.
    pub minutos_ocupados: u64,
    /// Minutes of their weekly horários over the period's days, less their blocks.
    pub minutos_trabalho: u64,
    /// `minutos_ocupados / minutos_trabalho` (at most 1), `null` without working minutes.
    #[schema(example = 0.75)]
    pub taxa_ocupacao: Option<f64>,
}

/// One speciality's figures in the period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EstatisticaEspecialidade {
    /// The speciality, as the doctors' records write it.
    #[schema(example = "Cardiologia")]
    pub especialidade: String,
    /// Appointments with its doctors, cancelled ones included.
    pub total: u64,
    /// Minutes of its non-cancelled appointments, each doctor's counted up to their working
    /// minutes (a deleted doctor's, or minutes past a doctor's hours, fill no one's hours).
    pub minutos_ocupados: u64,
    /// Working minutes of its doctors over the period.
    pub minutos_trabalho: u64,
    /// `minutos_ocupados / minutos_trabalho` (at most 1), `null` without working minutes.
    pub taxa_ocupacao: Option<f64>,
}

/// Appointments on one weekday.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EstatisticaDiaSemana {
    /// The weekday of the start.
    pub dia_semana: DiaSemana,
    /// Appointments starting on it, cancelled ones included.
    pub total: u64,
}

/// Appointments starting in one clock hour.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EstatisticaHora {
    /// The hour of the clinic-local start, 0 to 23.
    #[schema(example = 9)]
    pub hora: u8,
    /// Appointments starting in it, cancelled ones included.
    pub total: u64,
}

/// Appointments of the patients of one health-insurance plan.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EstatisticaConvenio {
    /// The patient's plan as written on their record; `null` for patients without one
    /// (or whose record was deleted).
    #[schema(example = "Unimed")]
    pub convenio: Option<String>,
    /// Appointments, cancelled ones included.
    pub total: u64,
}

/// Appointments paid one way (SPEC-2 §12), from each appointment's own `pagamento`: one
/// insurance plan, private pay, or none recorded (booked before payments existed).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EstatisticaPlano {
    /// `convenio` or `particular`; `null` for appointments without `pagamento`.
    pub forma: Option<crate::models::FormaPagamento>,
    /// The plan, for `convenio`; `null` otherwise (and for a plan payment recorded without
    /// a plan).
    pub convenio_id: Option<String>,
    /// The plan's name (from `/convenios`), `Convênio não informado` (a plan payment
    /// recorded without a plan), `Particular` or `Sem pagamento`.
    #[schema(example = "Unimed")]
    pub nome: String,
    /// Appointments, cancelled ones included.
    pub total: u64,
    /// Sum of `valor_centavos` of their payments with status `pago` (integer centavos).
    #[schema(example = 50000)]
    pub recebido_centavos: u64,
}

/// Answer of `GET /relatorios/estatisticas`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Estatisticas {
    /// The period covered.
    pub periodo: Periodo,
    /// Appointments starting in the period (after the filters), cancelled ones included.
    pub total: u64,
    /// `total` per status.
    pub por_status: PorStatus,
    /// Minutes of non-cancelled appointments / working minutes of the doctors in scope over
    /// the period (their weekly horários on each day, less the minutes their blocks of
    /// SPEC-2 §11 take). Each doctor's minutes count up to their own working minutes, so a
    /// deleted doctor's appointments (or minutes past a doctor's hours) fill no one else's
    /// hours. At most 1; `null` when there are no working minutes.
    #[schema(example = 0.625)]
    pub taxa_ocupacao: Option<f64>,
    /// `faltou / (concluida + faltou)`; `null` when both are zero.
    #[schema(example = 0.1)]
    pub taxa_faltas: Option<f64>,
    /// `cancelada / total`; `null` when `total` is zero.
    #[schema(example = 0.05)]
    pub taxa_cancelamento: Option<f64>,
    /// Median, in hours (two decimals), of the time from each appointment's creation
    /// (`created_at`) to its start, over the appointments (cancelled included) created
    /// before they started; ones recorded after their start are left out. `null` if none.
    #[schema(example = 72.5)]
    pub antecedencia_mediana_horas: Option<f64>,
    /// Per doctor in scope (with appointments or working hours in the period), by name.
    pub por_medico: Vec<EstatisticaMedico>,
    /// Per speciality, by name.
    pub por_especialidade: Vec<EstatisticaEspecialidade>,
    /// Per weekday, Monday first, all seven present.
    pub por_dia_semana: Vec<EstatisticaDiaSemana>,
    /// Per start hour, 0 to 23, all present.
    pub por_hora: Vec<EstatisticaHora>,
    /// Per patient plan, most appointments first (then by name, no plan last).
    pub por_convenio: Vec<EstatisticaConvenio>,
    /// Per form of payment and plan, from each appointment's `pagamento` (SPEC-2 §12): most
    /// appointments first, then plans by name, `Particular`, `Sem pagamento`.
    pub por_plano: Vec<EstatisticaPlano>,
    /// Amount received in the period: the sum of `valor_centavos` of the payments with
    /// status `pago` (integer centavos).
    #[schema(example = 125000)]
    pub recebido_centavos: u64,
}
