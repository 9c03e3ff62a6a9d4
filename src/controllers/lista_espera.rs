//! `/lista-espera` (SPEC-2 §11): the waiting list, its offers, and their answers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::arquivos::CorpoOpcional;
use super::auth::{Autorizado, Proprios, StaffOuPaciente};
use super::extract::{ApiPath, ApiQuery, Json, JsonBody, Lista, Pagina, Requisicao, filtro};
use crate::domain::{especialidade, parse_date};
use crate::error::{AppError, Erros};
use crate::models::{Agendado, EntradaEspera, StatusEspera};
use crate::services::lista_espera::{FiltroEspera, NovaEntrada};
use crate::services::{self, AppState};

/// Longest range one entry may wait for, in days.
const MAX_DIAS: i32 = 366;

/// Body of `POST /lista-espera`. Give `medico_id` (that doctor), or `especialidade` (any
/// doctor of it), or neither (any doctor); not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntradaCreate {
    /// The patient's id (a patient user: their own).
    pub paciente_id: String,
    /// Only this doctor.
    pub medico_id: Option<String>,
    /// Only doctors of this speciality (compared without case or accents).
    #[schema(example = "Cardiologia")]
    pub especialidade: Option<String>,
    /// First acceptable day (`YYYY-MM-DD`, inclusive).
    #[schema(example = "2026-03-02")]
    pub de: String,
    /// Last acceptable day (inclusive; today or later; at most 366 days after `de`).
    #[schema(example = "2026-03-31")]
    pub ate: String,
}

impl EntradaCreate {
    fn validate(self) -> Result<NovaEntrada, AppError> {
        let mut e = Erros::default();
        let paciente_id = crate::domain::trim(&self.paciente_id).to_owned();
        if paciente_id.is_empty() {
            e.push("paciente_id", "campo obrigatório");
        }
        let medico_id = filtro(self.medico_id);
        // "" or blanks mean absent (SPEC §1), as for medico_id.
        let especialidade = match filtro(self.especialidade).as_deref() {
            None => None,
            Some(s) => e.check("especialidade", especialidade(s)),
        };
        if medico_id.is_some() && especialidade.is_some() {
            e.push(
                "especialidade",
                "informe medico_id ou especialidade, não os dois",
            );
        }
        let de = e.check("de", parse_date(&self.de));
        let ate = e.check("ate", parse_date(&self.ate));
        if let (Some(de), Some(ate)) = (de, ate) {
            if de > ate {
                e.push("ate", "deve ser igual ou posterior a de");
            } else if (ate - de).get_days() > MAX_DIAS {
                e.push("ate", "o período pode ter no máximo 366 dias");
            }
        }
        e.finish()?;
        let (Some(de), Some(ate)) = (de, ate) else {
            return Err(AppError::Internal("validation passed without dates".into()));
        };
        Ok(NovaEntrada {
            paciente_id,
            medico_id,
            especialidade,
            de,
            ate,
        })
    }
}

/// Filters of `GET /lista-espera`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiltroLista {
    /// Only this patient's.
    pub paciente_id: Option<String>,
    /// Only entries for this doctor (named in the entry, or offered one of their slots).
    pub medico_id: Option<String>,
    /// Only this status.
    pub status: Option<StatusEspera>,
}

/// Lists the waiting list, oldest first (the order offers follow); a patient sees their
/// own entries, a doctor those for them.
#[utoipa::path(get, path = "/lista-espera", tag = "lista-espera", params(Pagina, FiltroLista),
    responses((status = 200, description = "Entradas, da mais antiga à mais nova", body = [EntradaEspera],
        headers(("x-total-count" = u64, description = "Total após o filtro")))))]
pub async fn list_lista_espera(
    quem: Autorizado<Proprios>,
    State(app): State<AppState>,
    ApiQuery(pagina): ApiQuery<Pagina>,
    ApiQuery(f): ApiQuery<FiltroLista>,
) -> Result<Lista<EntradaEspera>, AppError> {
    let janela = pagina.janela()?;
    let f = FiltroEspera {
        paciente_id: filtro(f.paciente_id),
        medico_id: filtro(f.medico_id),
        status: f.status,
    };
    Ok(services::lista_espera::page_visivel(&app, &f, &quem.escopo(), janela).into())
}

/// Finds one waiting-list entry.
#[utoipa::path(get, path = "/lista-espera/{id}", tag = "lista-espera", params(("id" = String, Path)),
    responses((status = 200, body = EntradaEspera)))]
pub async fn find_lista_espera(
    quem: Autorizado<Proprios>,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Arc<EntradaEspera>>, AppError> {
    Ok(Json(services::lista_espera::find_visivel(
        &app,
        &id,
        &quem.escopo(),
    )?))
}

/// Puts a patient on the waiting list (`aguardando`). A matching slot that frees up later
/// is held for the oldest matching entry and offered to it (`vaga_oferecida`).
#[utoipa::path(post, path = "/lista-espera", tag = "lista-espera", request_body = EntradaCreate,
    responses((status = 201, body = EntradaEspera)))]
pub async fn create_lista_espera(
    _: Autorizado<StaffOuPaciente>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<EntradaCreate>,
) -> Result<(StatusCode, Json<Arc<EntradaEspera>>), AppError> {
    let nova = body.validate()?;
    let r = req.responde(StatusCode::CREATED);
    let e = services::lista_espera::criar(&app, r.ctx(), nova).await?;
    Ok(r.json(e))
}

/// Cancels an entry (`cancelada`; answered with the entry). A pending offer is withdrawn
/// and its slot offered to the next in line.
#[utoipa::path(delete, path = "/lista-espera/{id}", tag = "lista-espera", params(("id" = String, Path)),
    responses((status = 200, body = EntradaEspera)))]
pub async fn delete_lista_espera(
    quem: Autorizado<StaffOuPaciente>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Arc<EntradaEspera>>), AppError> {
    let r = req.responde(StatusCode::OK);
    let e = services::lista_espera::cancelar(&app, r.ctx(), &id, &quem.escopo()).await?;
    Ok(r.json(e))
}

/// Body of `POST /lista-espera/{id}/aceitar` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AceiteBody {
    /// Form of payment (SPEC-2 §12): `convenio` (the default when the patient has a plan) or
    /// `particular`. Checked for the slot's date at once (422 `convenio_inativo`,
    /// `convenio_nao_aceito`, `carteirinha_vencida`, `particular_nao_aceito`; the offer stays
    /// pending) and again by the worker (the task fails with that `erro.code` and the entry
    /// goes back to `aguardando`).
    pub forma_pagamento: Option<crate::models::FormaPagamento>,
}

/// Accepts the slot offered to the entry: 202, a booking task for it (the slot stays held
/// for the entry meanwhile); when it is booked the entry becomes `agendada`. The body may
/// be empty; it may name the form of payment.
///
/// The appointment takes the doctor's slot length. The clinic's rules apply as to
/// `agendar`: a slot they now forbid is 422 `antecedencia_minima` / `fora_do_horizonte`,
/// and the offer stays as it was.
#[utoipa::path(post, path = "/lista-espera/{id}/aceitar", tag = "lista-espera", params(("id" = String, Path)),
    request_body(content = AceiteBody, description = "Opcional; sem corpo = forma de pagamento padrão"),
    responses((status = 202, body = Agendado)))]
pub async fn create_aceite(
    quem: Autorizado<StaffOuPaciente>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    CorpoOpcional(body): CorpoOpcional<AceiteBody>,
) -> Result<(StatusCode, Json<Agendado>), AppError> {
    let r = req.responde(StatusCode::ACCEPTED);
    let out =
        services::agenda::aceitar(&app, r.ctx(), &id, &quem.escopo(), body.forma_pagamento).await?;
    Ok(r.json(out))
}

/// Refuses the slot offered to the entry: it goes back to `aguardando` keeping its place,
/// is never offered that slot again, and the slot goes to the next in line.
#[utoipa::path(post, path = "/lista-espera/{id}/recusar", tag = "lista-espera", params(("id" = String, Path)),
    responses((status = 200, body = EntradaEspera)))]
pub async fn create_recusa(
    quem: Autorizado<StaffOuPaciente>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Arc<EntradaEspera>>), AppError> {
    let r = req.responde(StatusCode::OK);
    let e = services::lista_espera::recusar(&app, r.ctx(), &id, &quem.escopo()).await?;
    Ok(r.json(e))
}
