//! `GET /relatorios/estatisticas` (SPEC-2 §15): the clinic's figures for a period.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Autorizado, StaffOuMedico};
use super::extract::{ApiQuery, Json, filtro};
use crate::domain::parse_date;
use crate::error::{AppError, Erros};
use crate::models::Estatisticas;
use crate::services::estatisticas::{FiltroEstatisticas, MAX_DIAS};
use crate::services::{self, AppState};

/// Filters of `GET /relatorios/estatisticas` (dates inclusive, clinic-local).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiltroEstatisticasQuery {
    /// First day (`YYYY-MM-DD`); default 29 days before `ate` (a 30-day period).
    #[param(example = "2026-03-01")]
    pub de: Option<String>,
    /// Last day, inclusive: a period of at most 366 days (`ate` at most 365 days after
    /// `de`); default 29 days after `de`, or today when `de` is absent too.
    #[param(example = "2026-03-31")]
    pub ate: Option<String>,
    /// Only this doctor (404 when unknown).
    pub medico_id: Option<String>,
    /// Only doctors of this speciality (letter case and accents ignored).
    #[param(example = "Cardiologia")]
    pub especialidade: Option<String>,
}

/// The length of the default period, minus its first day.
const PADRAO_DIAS: i64 = 29;

impl FiltroEstatisticasQuery {
    fn validate(self, hoje: jiff::civil::Date) -> Result<FiltroEstatisticas, AppError> {
        let mut e = Erros::default();
        let de = self
            .de
            .as_deref()
            .and_then(|d| e.check("de", parse_date(d)));
        let ate = self
            .ate
            .as_deref()
            .and_then(|d| e.check("ate", parse_date(d)));
        e.finish()?;
        let shift = |d: jiff::civil::Date, n: i64| {
            d.checked_add(jiff::Span::new().days(n))
                .map_err(|_| AppError::campo("de", "data fora do intervalo suportado"))
        };
        let (de, ate) = match (de, ate) {
            (Some(de), Some(ate)) => (de, ate),
            (Some(de), None) => (de, shift(de, PADRAO_DIAS)?),
            (None, Some(ate)) => (shift(ate, -PADRAO_DIAS)?, ate),
            (None, None) => (shift(hoje, -PADRAO_DIAS)?, hoje),
        };
        if de.year() < 0 {
            // Only reachable by defaulting `de` from an `ate` in year 0000.
            return Err(AppError::campo("ate", "data fora do intervalo suportado"));
        }
        if de > ate {
            return Err(AppError::campo("ate", "deve ser igual ou posterior a de"));
        }
        if i64::from((ate - de).get_days()) >= MAX_DIAS {
            return Err(AppError::campo(
                "ate",
                format!("o período pode ter no máximo {MAX_DIAS} dias"),
            ));
        }
        Ok(FiltroEstatisticas {
            de,
            ate,
            medico_id: filtro(self.medico_id),
            especialidade: filtro(self.especialidade),
        })
    }
}

/// Statistics of the appointments starting in a period.
///
/// Counts, rates and breakdowns of the appointments whose clinic-local start falls from
/// `de` to `ate` (inclusive), optionally of one doctor or one speciality. `total` and every
/// breakdown count all of them, cancelled ones included. Rates are fractions from 0 to 1
/// (four decimals), `null` when their denominator is zero: occupancy = minutes of
/// non-cancelled appointments / working minutes of the doctors in scope (their weekly
/// horários over the period's days, less what blocks cover), capped at 1; no-show rate =
/// `faltou / (concluida + faltou)`; cancellation rate = `cancelada / total`.
/// `antecedencia_mediana_horas` is the median of the hours from each appointment's creation
/// to its start, over those created before their start.
///
/// Staff see every doctor; a `medico` only their own figures (another doctor's id is 404).
#[utoipa::path(get, path = "/relatorios/estatisticas", tag = "relatorios",
    params(FiltroEstatisticasQuery),
    responses((status = 200, body = Estatisticas)))]
pub async fn find_estatisticas(
    State(app): State<AppState>,
    auth: Autorizado<StaffOuMedico>,
    ApiQuery(q): ApiQuery<FiltroEstatisticasQuery>,
) -> Result<Json<Estatisticas>, AppError> {
    let mut filtro = q.validate(app.clock.today())?;
    // Staff see all, a `medico` their own figures (another doctor's id: 404).
    services::contexto::so_o_proprio_medico(&mut filtro.medico_id, &auth.escopo())?;
    services::estatisticas::calcular(&app, &filtro).map(Json)
}
