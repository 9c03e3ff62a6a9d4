//! `/bloqueios` (SPEC-2 §11): time off and holidays. Staff write; every signed-in role reads.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Autenticado, Autorizado, Staff};
use super::extract::{
    ApiPath, ApiQuery, Json, JsonBody, Lista, Pagina, Requisicao, filtro, periodo,
};
use crate::domain::{parse_datetime, trim};
use crate::error::{AppError, Erros};
use crate::models::{Bloqueio, BloqueioCriado};
use crate::services::bloqueios::{ANOS, FiltroBloqueios, MAX_MOTIVO, NovoBloqueio, regras};
use crate::services::{self, AppState};

/// Body of `POST /bloqueios`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BloqueioCreate {
    /// The doctor; absent or `null` blocks the whole clinic.
    pub medico_id: Option<String>,
    /// Start, clinic-local (`YYYY-MM-DDTHH:MM:SS`; an RFC 3339 offset is converted).
    #[schema(example = "2026-03-02T08:00:00")]
    pub inicio: String,
    /// End, after the start, at most 366 days later.
    #[schema(example = "2026-03-02T12:00:00")]
    pub fim: String,
    /// Why (1 to 200 characters).
    #[schema(example = "Congresso")]
    pub motivo: String,
}

/// Body of `POST /bloqueios/feriados`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeriadosCreate {
    /// The year, 1900 to 2200.
    #[schema(value_type = i64, minimum = 1900, maximum = 2200, example = 2026)]
    pub ano: f64,
    /// Also Carnival Monday and Tuesday and Corpus Christi (default `false`).
    #[serde(default)]
    pub incluir_pontos_facultativos: Option<bool>,
}

/// Filters of `GET /bloqueios` (dates inclusive).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiltroBloqueiosQuery {
    /// The blocks that apply to this doctor: theirs and the whole clinic's (404 unknown doctor).
    pub medico_id: Option<String>,
    /// Only blocks reaching into this day (`YYYY-MM-DD`) or later.
    pub de: Option<String>,
    /// Only blocks starting on or before this day.
    pub ate: Option<String>,
}

impl BloqueioCreate {
    fn validate(self, tz: &jiff::tz::TimeZone) -> Result<NovoBloqueio, AppError> {
        let mut e = Erros::default();
        let medico_id = match self.medico_id {
            Some(m) if trim(&m).is_empty() => {
                e.push(
                    "medico_id",
                    "não pode ser vazio: omita o campo (ou use null) para bloquear a clínica toda",
                );
                None
            }
            m => filtro(m),
        };
        let ini = e.check("inicio", parse_datetime(&self.inicio, tz));
        let fim = e.check("fim", parse_datetime(&self.fim, tz));
        let motivo = crate::domain::trim(&self.motivo).to_owned();
        if let (Some(i), Some(f)) = (ini, fim) {
            for (campo, m) in regras(i, f, &motivo) {
                e.push(campo, m);
            }
        } else if motivo.is_empty() || motivo.chars().count() > MAX_MOTIVO {
            let d = jiff::civil::DateTime::MIN;
            for (campo, m) in regras(
                d,
                d.saturating_add(jiff::SignedDuration::from_hours(1)),
                &motivo,
            ) {
                e.push(campo, m);
            }
        }
        e.finish()?;
        match (ini, fim) {
            (Some(inicio), Some(fim)) => Ok(NovoBloqueio {
                medico_id,
                inicio,
                fim,
                motivo,
            }),
            _ => Err(AppError::Internal(
                "validation passed without values".into(),
            )),
        }
    }
}

impl FiltroBloqueiosQuery {
    fn validate(self) -> Result<FiltroBloqueios, AppError> {
        let (de, ate) = periodo(self.de.as_deref(), self.ate.as_deref())?;
        Ok(FiltroBloqueios {
            medico_id: filtro(self.medico_id),
            de,
            ate,
        })
    }
}

/// Lists blocks by start, filtered by doctor (theirs and the whole clinic's) and dates.
#[utoipa::path(get, path = "/bloqueios", tag = "bloqueios", params(Pagina, FiltroBloqueiosQuery),
    responses((status = 200, description = "Bloqueios por início", body = [Bloqueio],
        headers(("x-total-count" = u64, description = "Total após o filtro")))))]
pub async fn list_bloqueios(
    _: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiQuery(pagina): ApiQuery<Pagina>,
    ApiQuery(f): ApiQuery<FiltroBloqueiosQuery>,
) -> Result<Lista<Bloqueio>, AppError> {
    let f = f.validate()?;
    let janela = pagina.janela()?;
    services::bloqueios::page(&app, &f, janela).map(Lista::from)
}

/// Finds one block.
#[utoipa::path(get, path = "/bloqueios/{id}", tag = "bloqueios", params(("id" = String, Path)),
    responses((status = 200, body = Bloqueio)))]
pub async fn find_bloqueio(
    _: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Arc<Bloqueio>>, AppError> {
    services::bloqueios::find(&app, &id).map(Json)
}

/// Blocks a doctor's (or, without `medico_id`, the whole clinic's) time: its slots leave
/// `/agenda/slots` and holding or booking into it is 422 `horario_bloqueado`. Active
/// appointments inside it stay and are listed in `consultas_afetadas`.
#[utoipa::path(post, path = "/bloqueios", tag = "bloqueios", request_body = BloqueioCreate,
    responses((status = 201, body = BloqueioCriado)))]
pub async fn create_bloqueio(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<BloqueioCreate>,
) -> Result<(StatusCode, Json<BloqueioCriado>), AppError> {
    let novo = body.validate(app.clock.tz())?;
    let r = req.responde(StatusCode::CREATED);
    let out = services::bloqueios::create(&app, r.ctx(), novo).await?;
    Ok(r.json(out))
}

/// Removes a block; its slots are offered again.
#[utoipa::path(delete, path = "/bloqueios/{id}", tag = "bloqueios", params(("id" = String, Path)),
    responses((status = 204, description = "Excluído")))]
pub async fn delete_bloqueio(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let r = req.responde(StatusCode::NO_CONTENT);
    let old = services::bloqueios::delete(&app, r.ctx(), &id).await?;
    // The slots it covered are free again: offered to the waiting list (SPEC-2 §11).
    services::lista_espera::bloqueio_removido(&app, &old).await;
    Ok(r.vazia())
}

/// Creates the whole-clinic blocks of Brazil's national holidays of `ano` (1/1, Good
/// Friday, 21/4, 1/5, 7/9, 12/10, 2/11, 15/11, 20/11 from 2024, 25/12; with
/// `incluir_pontos_facultativos` also Carnival Monday and Tuesday and Corpus Christi), each
/// a whole day with id `feriado-AAAA-MM-DD`. Idempotent: a second call creates nothing and
/// answers the same blocks (every holiday block of that year).
#[utoipa::path(post, path = "/bloqueios/feriados", tag = "bloqueios", request_body = FeriadosCreate,
    responses((status = 201, description = "Os bloqueios de feriado do ano, por início", body = [Bloqueio])))]
pub async fn create_feriados(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<FeriadosCreate>,
) -> Result<(StatusCode, Json<Vec<Arc<Bloqueio>>>), AppError> {
    // Read as a JSON number so `2026.0` (an integer to JSON Schema) is accepted like `2026`.
    let ano = (body.ano.fract() == 0.0 && body.ano.abs() < 32_768.0)
        .then_some(body.ano as i16)
        .filter(|a| ANOS.contains(a))
        .ok_or_else(|| {
            AppError::campo(
                "ano",
                format!("deve ser um ano entre {} e {}", ANOS.start(), ANOS.end()),
            )
        })?;
    let r = req.responde(StatusCode::CREATED);
    let out = services::bloqueios::feriados(
        &app,
        r.ctx(),
        ano,
        body.incluir_pontos_facultativos.unwrap_or(false),
    )
    .await?;
    Ok(r.json(out))
}
