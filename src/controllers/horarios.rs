//! `/horarios` (SPEC §2).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Autenticado, Autorizado, StaffOuMedico};
use super::extract::{ApiPath, ApiQuery, Json, JsonBody, Lista, Pagina, Requisicao};
use crate::domain::{DiaSemana, Hora};
use crate::error::{AppError, Erros};
use crate::models::Horario;
use crate::models::HorarioAlterado;
use crate::services::horarios::{AlteraHorario, Faixa};
use crate::services::{self, AppState, Escopo};

/// Body of `POST /horarios/medico/{medico_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HorarioCreate {
    /// Weekday; accents and case are accepted (`Terça`).
    #[schema(example = "segunda")]
    pub dia_semana: String,
    /// Start, `HH:MM`.
    #[schema(example = "08:00")]
    pub hora_inicio: String,
    /// End, `HH:MM`, after the start.
    #[schema(example = "12:00")]
    pub hora_fim: String,
}

/// Body of `PUT /horarios/{id}`: any subset.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HorarioUpdate {
    /// New weekday.
    pub dia_semana: Option<String>,
    /// New start.
    pub hora_inicio: Option<String>,
    /// New end.
    pub hora_fim: Option<String>,
}

impl HorarioCreate {
    fn validate(self) -> Result<Faixa, AppError> {
        let mut e = Erros::default();
        let dia = e.check("dia_semana", DiaSemana::parse(&self.dia_semana));
        let ini = e.check("hora_inicio", Hora::parse(&self.hora_inicio));
        let fim = e.check("hora_fim", Hora::parse(&self.hora_fim));
        if let (Some(i), Some(f)) = (ini, fim)
            && i >= f
        {
            e.push("hora_fim", "hora_fim deve ser posterior a hora_inicio");
        }
        e.finish()?;
        match (dia, ini, fim) {
            (Some(dia_semana), Some(hora_inicio), Some(hora_fim)) => Ok(Faixa {
                dia_semana,
                hora_inicio,
                hora_fim,
            }),
            _ => Err(AppError::Internal(
                "validation passed without values".into(),
            )),
        }
    }
}

impl HorarioUpdate {
    fn validate(self) -> Result<AlteraHorario, AppError> {
        let mut e = Erros::default();
        let alt = AlteraHorario {
            dia_semana: self
                .dia_semana
                .and_then(|d| e.check("dia_semana", DiaSemana::parse(&d))),
            hora_inicio: self
                .hora_inicio
                .and_then(|h| e.check("hora_inicio", Hora::parse(&h))),
            hora_fim: self
                .hora_fim
                .and_then(|h| e.check("hora_fim", Hora::parse(&h))),
        };
        e.finish()?;
        Ok(alt)
    }
}

/// Lists every horário by doctor, weekday and start.
#[utoipa::path(get, path = "/horarios", tag = "horarios", params(Pagina),
    responses((status = 200, description = "Horários", body = [Horario],
        headers(("x-total-count" = u64, description = "Total")))))]
pub async fn list_horarios(
    _: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiQuery(pagina): ApiQuery<Pagina>,
) -> Result<Lista<Horario>, AppError> {
    let janela = pagina.janela()?;
    Ok(services::horarios::page(&app, janela).into())
}

/// Lists one doctor's horários (404 unknown doctor).
#[utoipa::path(get, path = "/horarios/medico/{medico_id}", tag = "horarios", params(("medico_id" = String, Path), Pagina),
    responses((status = 200, description = "Horários do médico", body = [Horario],
        headers(("x-total-count" = u64, description = "Total")))))]
pub async fn list_horarios_medico(
    _: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiPath(medico_id): ApiPath<String>,
    ApiQuery(pagina): ApiQuery<Pagina>,
) -> Result<Lista<Horario>, AppError> {
    let janela = pagina.janela()?;
    services::horarios::page_of_medico(&app, &medico_id, janela).map(Lista::from)
}

/// Finds one horário.
#[utoipa::path(get, path = "/horarios/{id}", tag = "horarios", params(("id" = String, Path)),
    responses((status = 200, body = Horario)))]
pub async fn find_horario(
    _: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Arc<Horario>>, AppError> {
    services::horarios::find(&app, &id).map(Json)
}

/// Adds working hours to a doctor.
#[utoipa::path(post, path = "/horarios/medico/{medico_id}", tag = "horarios", params(("medico_id" = String, Path)),
    request_body = HorarioCreate, responses((status = 201, body = Horario)))]
pub async fn create_horario(
    quem: Autorizado<StaffOuMedico>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(medico_id): ApiPath<String>,
    JsonBody(body): JsonBody<HorarioCreate>,
) -> Result<(StatusCode, Json<Arc<Horario>>), AppError> {
    proprio_medico(&quem, &medico_id)?;
    let faixa = body.validate()?;
    let r = req.responde(StatusCode::CREATED);
    let h = services::horarios::create(&app, r.ctx(), &medico_id, faixa).await?;
    // New slots: offered to the waiting list like freed ones (SPEC-2 §11).
    services::lista_espera::horario_novo(&app, &h).await;
    Ok(r.json(h))
}

/// Changes working hours; `consultas_afetadas` lists the active appointments left outside them.
#[utoipa::path(put, path = "/horarios/{id}", tag = "horarios", params(("id" = String, Path)),
    request_body = HorarioUpdate, responses((status = 200, body = HorarioAlterado)))]
pub async fn update_horario(
    quem: Autorizado<StaffOuMedico>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<HorarioUpdate>,
) -> Result<(StatusCode, Json<HorarioAlterado>), AppError> {
    proprio_horario(&app, &quem, &id)?;
    let alt = body.validate()?;
    let r = req.responde(StatusCode::OK);
    services::horarios::update(&app, r.ctx(), &id, alt)
        .await
        .map(|v| r.json(v))
}

/// Deletes working hours.
#[utoipa::path(delete, path = "/horarios/{id}", tag = "horarios", params(("id" = String, Path)),
    responses((status = 204, description = "Excluído")))]
pub async fn delete_horario(
    quem: Autorizado<StaffOuMedico>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    proprio_horario(&app, &quem, &id)?;
    let r = req.responde(StatusCode::NO_CONTENT);
    services::horarios::delete(&app, r.ctx(), &id).await?;
    Ok(r.vazia())
}

/// SPEC-2 §10: a doctor changes only their own horários (403 for another doctor's).
fn proprio_medico(quem: &Autorizado<StaffOuMedico>, medico_id: &str) -> Result<(), AppError> {
    match quem.escopo() {
        Escopo::Tudo => Ok(()),
        Escopo::Medico(m) if m == medico_id => Ok(()),
        _ => Err(AppError::Forbidden),
    }
}

/// [`proprio_medico`] for the doctor of horário `id` (404 when it does not exist).
fn proprio_horario(
    app: &AppState,
    quem: &Autorizado<StaffOuMedico>,
    id: &str,
) -> Result<(), AppError> {
    if quem.escopo() == Escopo::Tudo {
        return Ok(());
    }
    let h = services::horarios::find(app, id)?;
    proprio_medico(quem, &h.medico_id)
}
