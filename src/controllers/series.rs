//! Recurring appointments (SPEC-2 §11): `POST /consultas/agendar-serie` and
//! `POST /consultas/series/{serie_id}/cancelar`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::arquivos::CorpoOpcional;
use super::auth::{Autorizado, Staff};
use super::extract::{ApiPath, Json, JsonBody, Requisicao};
use crate::domain::{MAX_OBS, parse_datetime, texto_opcional};
use crate::error::{AppError, Erros};
use crate::models::{SerieAgendada, SerieCancelada};
use crate::services::agenda::NovaSerie;
use crate::services::{self, AppState};

/// How a series repeats.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeticao {
    /// Weeks between occurrences, 1 to 8.
    #[schema(minimum = 1, maximum = 8, example = 1)]
    pub a_cada_semanas: i64,
    /// How many occurrences, 2 to 52 (the first included).
    #[schema(minimum = 2, maximum = 52, example = 10)]
    pub ocorrencias: i64,
}

/// Body of `POST /consultas/agendar-serie`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SerieCreate {
    /// The patient's id.
    pub paciente_id: String,
    /// The doctor's id.
    pub medico_id: String,
    /// The first occurrence's start, clinic-local (`YYYY-MM-DDTHH:MM:SS`).
    #[schema(example = "2026-03-02T08:00:00")]
    pub inicio: String,
    /// The first occurrence's end, the same day.
    #[schema(example = "2026-03-02T08:30:00")]
    pub fim: String,
    /// How it repeats.
    pub repeticao: Repeticao,
    /// Form of payment for every occurrence (SPEC-2 §12): `convenio` (the default when the
    /// patient has a plan) or `particular`. Checked for each occurrence's date, all or
    /// nothing: at acceptance (422 `convenio_inativo`, `convenio_nao_aceito`,
    /// `carteirinha_vencida`, `particular_nao_aceito`, the refused dates in the `detail`) and
    /// again by the worker (the task fails with that `erro.code` and the dates in
    /// `erro.conflitos`).
    pub forma_pagamento: Option<crate::models::FormaPagamento>,
}

/// Body of `POST /consultas/series/{serie_id}/cancelar` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SerieCancelar {
    /// Why (free text, at most 2000 characters).
    pub motivo: Option<String>,
}

impl SerieCreate {
    fn validate(self, tz: &jiff::tz::TimeZone) -> Result<NovaSerie, AppError> {
        let mut e = Erros::default();
        for (campo, v) in [
            ("paciente_id", &self.paciente_id),
            ("medico_id", &self.medico_id),
        ] {
            if crate::domain::trim(v).is_empty() {
                e.push(campo, "campo obrigatório");
            }
        }
        let inicio = e.check("inicio", parse_datetime(&self.inicio, tz));
        let fim = e.check("fim", parse_datetime(&self.fim, tz));
        if let (Some(i), Some(f)) = (inicio, fim) {
            if f <= i {
                e.push("fim", "deve ser posterior ao início");
            } else if f.date() != i.date() {
                e.push("fim", "deve ser no mesmo dia do início");
            }
        }
        if !(1..=8).contains(&self.repeticao.a_cada_semanas) {
            e.push("repeticao.a_cada_semanas", "deve estar entre 1 e 8");
        }
        if !(2..=52).contains(&self.repeticao.ocorrencias) {
            e.push("repeticao.ocorrencias", "deve estar entre 2 e 52");
        }
        e.finish()?;
        let (Some(inicio), Some(fim)) = (inicio, fim) else {
            return Err(AppError::Internal(
                "validation passed without values".into(),
            ));
        };
        Ok(NovaSerie {
            paciente_id: crate::domain::trim(&self.paciente_id).to_owned(),
            medico_id: crate::domain::trim(&self.medico_id).to_owned(),
            inicio,
            fim,
            a_cada_semanas: u8::try_from(self.repeticao.a_cada_semanas).unwrap_or(1),
            ocorrencias: u8::try_from(self.repeticao.ocorrencias).unwrap_or(2),
            forma_pagamento: self.forma_pagamento,
        })
    }
}

/// Books a weekly series asynchronously: 202 and a task that books every occurrence (each
/// with the same `serie_id`) or none — when any is taken, held, in the past, beyond the
/// horizon or outside working hours the task fails with `erro.code` `serie_com_conflitos`
/// and `erro.conflitos` (the dates).
#[utoipa::path(post, path = "/consultas/agendar-serie", tag = "consultas", request_body = SerieCreate,
    responses((status = 202, body = SerieAgendada)))]
pub async fn create_serie(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<SerieCreate>,
) -> Result<(StatusCode, Json<SerieAgendada>), AppError> {
    let nova = body.validate(app.clock.tz())?;
    let r = req.responde(StatusCode::ACCEPTED);
    let out = services::agenda::agendar_serie(&app, r.ctx(), nova).await?;
    Ok(r.json(out))
}

/// Cancels the series' future appointments (active ones that have not started); past ones
/// stay as they are. Their slots are freed and offered to the waiting list.
#[utoipa::path(post, path = "/consultas/series/{serie_id}/cancelar", tag = "consultas",
    params(("serie_id" = String, Path)),
    request_body(content = SerieCancelar, description = "Opcional; sem corpo = sem motivo"),
    responses((status = 200, body = SerieCancelada)))]
pub async fn create_cancelamento_serie(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(serie_id): ApiPath<String>,
    CorpoOpcional(body): CorpoOpcional<SerieCancelar>,
) -> Result<(StatusCode, Json<SerieCancelada>), AppError> {
    let mut e = Erros::default();
    let motivo = e
        .check("motivo", texto_opcional(body.motivo.as_deref(), MAX_OBS))
        .flatten();
    e.finish()?;
    let r = req.responde(StatusCode::OK);
    let out = services::agenda::cancelar_serie(&app, r.ctx(), &serie_id, motivo).await?;
    Ok(r.json(out))
}
