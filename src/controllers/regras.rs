//! `/sistema/regras` (SPEC-2 §11): the clinic's scheduling rules. Administrators change
//! them; staff may read them (the front desk explains a refusal with them).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Admin, Autorizado, Staff};
use super::extract::{Json, JsonBody, Patch, Requisicao};
use crate::error::{AppError, Erros};
use crate::models::Regras;
use crate::services::regras::{self as servico, AlteraRegras};
use crate::services::{self, AppState};

/// Body of `PUT /sistema/regras`: only the fields sent change; `null` removes one of the
/// first four rules.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegrasUpdate {
    /// Minimum notice in minutes (0..=525600; `null`: none).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 525600, example = 120)]
    pub antecedencia_minima_minutos: Patch<i64>,
    /// Horizon in days (1..=3650; `null`: only `--horizonte-dias`).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650, example = 90)]
    pub horizonte_dias: Patch<i64>,
    /// Cancellation cutoff in hours (0..=8760; `null`: none).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 8760, example = 24)]
    pub prazo_cancelamento_horas: Patch<i64>,
    /// Live holds per patient user (0..=1000; `null`: no limit).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000, example = 2)]
    pub max_reservas_por_paciente: Patch<i64>,
    /// Waiting-list offer time in minutes (1..=1440; not nullable).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1440, example = 30)]
    pub oferta_minutos: Patch<i64>,
    /// Reminder lead times in hours (each 1..=720, at most 10, no repeats; `[]`: no
    /// reminders; not nullable).
    #[serde(default)]
    #[schema(value_type = Option<Vec<i64>>, example = json!([48, 2]))]
    pub lembretes_horas: Patch<Vec<i64>>,
}

/// A nullable rule: `Some(None)` clears it.
fn regra(e: &mut Erros, campo: &str, v: &Patch<i64>, min: i64, max: u32) -> Option<Option<u32>> {
    match v {
        Patch::Missing => None,
        Patch::Null => Some(None),
        Patch::Value(n) => e.check(campo, limitado(*n, min, max)).map(Some),
    }
}

fn limitado(n: i64, min: i64, max: u32) -> Result<u32, String> {
    if n < min || n > i64::from(max) {
        return Err(format!("deve estar entre {min} e {max}"));
    }
    u32::try_from(n).map_err(|_| format!("deve estar entre {min} e {max}"))
}

impl RegrasUpdate {
    fn validate(self) -> Result<AlteraRegras, AppError> {
        let mut e = Erros::default();
        let antecedencia_minima_minutos = regra(
            &mut e,
            "antecedencia_minima_minutos",
            &self.antecedencia_minima_minutos,
            0,
            servico::MAX_ANTECEDENCIA_MINUTOS,
        );
        let horizonte_dias = regra(
            &mut e,
            "horizonte_dias",
            &self.horizonte_dias,
            1,
            servico::MAX_HORIZONTE_DIAS,
        );
        let prazo_cancelamento_horas = regra(
            &mut e,
            "prazo_cancelamento_horas",
            &self.prazo_cancelamento_horas,
            0,
            servico::MAX_PRAZO_HORAS,
        );
        let max_reservas_por_paciente = regra(
            &mut e,
            "max_reservas_por_paciente",
            &self.max_reservas_por_paciente,
            0,
            servico::MAX_RESERVAS,
        );
        let oferta_minutos = match self.oferta_minutos {
            Patch::Missing => None,
            Patch::Null => {
                e.push("oferta_minutos", "não pode ser nulo");
                None
            }
            Patch::Value(n) => e.check(
                "oferta_minutos",
                limitado(
                    n,
                    i64::from(*servico::OFERTA_MINUTOS.start()),
                    *servico::OFERTA_MINUTOS.end(),
                ),
            ),
        };
        let lembretes_horas = match self.lembretes_horas {
            Patch::Missing => None,
            Patch::Null => {
                e.push(
                    "lembretes_horas",
                    "não pode ser nulo (use [] para nenhum lembrete)",
                );
                None
            }
            Patch::Value(v) => e.check("lembretes_horas", lembretes(&v)),
        };
        e.finish()?;
        Ok(AlteraRegras {
            antecedencia_minima_minutos,
            horizonte_dias,
            prazo_cancelamento_horas,
            max_reservas_por_paciente,
            oferta_minutos,
            lembretes_horas,
        })
    }
}

/// Reminder lead times: each within bounds, no repeats, at most [`servico::MAX_LEMBRETES`];
/// kept longest first.
fn lembretes(v: &[i64]) -> Result<Vec<u32>, String> {
    if v.len() > servico::MAX_LEMBRETES {
        return Err(format!("no máximo {} lembretes", servico::MAX_LEMBRETES));
    }
    let (lo, hi) = (
        *servico::LEMBRETE_HORAS.start(),
        *servico::LEMBRETE_HORAS.end(),
    );
    let mut out = Vec::with_capacity(v.len());
    for n in v {
        let h = limitado(*n, i64::from(lo), hi).map_err(|m| format!("cada lembrete {m} horas"))?;
        if out.contains(&h) {
            return Err(format!("o lembrete de {h} horas aparece mais de uma vez"));
        }
        out.push(h);
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    Ok(out)
}

/// The clinic's scheduling rules (staff may read them; only administrators change them).
#[utoipa::path(get, path = "/sistema/regras", tag = "sistema",
    responses((status = 200, body = Regras)))]
pub async fn find_regras(_: Autorizado<Staff>, State(app): State<AppState>) -> Json<Regras> {
    Json(servico::ler(&app))
}

/// Changes the clinic's scheduling rules (administrators): only the fields sent change,
/// `null` removes one of the first four. They apply to `agendar`, `reservar`, `remarcar`
/// and `cancelar` for every caller, checked when the request arrives and again by the
/// worker; the front desk's `POST /consultas` and `PUT /consultas/{id}` stay free of them.
#[utoipa::path(put, path = "/sistema/regras", tag = "sistema", request_body = RegrasUpdate,
    responses((status = 200, description = "As regras em vigor", body = Regras)))]
pub async fn update_regras(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<RegrasUpdate>,
) -> Result<(StatusCode, Json<Regras>), AppError> {
    let alt = body.validate()?;
    let r = req.responde(StatusCode::OK);
    let out = services::regras::alterar(&app, r.ctx(), alt).await?;
    Ok(r.json(out))
}
