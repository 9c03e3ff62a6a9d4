//! `/consultas` (SPEC §2; `POST /consultas/agendar` comes with the scheduling work).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Autorizado, Proprios, Staff, StaffOuMedico, StaffOuPaciente};
use super::extract::{
    ApiPath, ApiQuery, CorpoOpcional, Json, JsonBody, Lista, Pagina, Patch, Requisicao, filtro,
    periodo,
};
use crate::domain::{Intervalo, MAX_OBS, parse_momento, texto_opcional};
use crate::error::{AppError, Erros};
use crate::models::{Acao, Consulta, ConsultaDetalhada, EntradaHistorico, StatusConsulta};
use crate::services::consultas::{AlteraConsulta, Filtro, NovaConsulta};
use crate::services::{self, AppState, Escopo};

/// Body of `POST /consultas`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultaCreate {
    /// The patient's id.
    pub paciente_id: String,
    /// The doctor's id.
    pub medico_id: String,
    /// Start, clinic-local (`YYYY-MM-DDTHH:MM:SS`; an RFC 3339 offset is converted).
    #[schema(example = "2026-03-02T08:00:00")]
    pub inicio: String,
    /// End, after the start.
    #[schema(example = "2026-03-02T08:30:00")]
    pub fim: String,
    /// Initial status (default `agendada`).
    pub status: Option<StatusConsulta>,
    /// Notes.
    pub observacoes: Option<String>,
    /// How it is paid (SPEC-2 §12): `convenio` (the default when the patient has a
    /// `convenio_id`) or `particular`. `POST /consultas/agendar` refuses with 422
    /// `convenio_inativo`, `convenio_nao_aceito`, `carteirinha_vencida` or
    /// `particular_nao_aceito` (and the worker re-checks); `POST /consultas` (the front
    /// desk) records it without refusing.
    pub forma_pagamento: Option<crate::models::FormaPagamento>,
}

/// Body of `PUT /consultas/{id}`: any subset, re-validated.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultaUpdate {
    /// New start.
    #[schema(example = "2026-03-02T09:00:00")]
    pub inicio: Option<String>,
    /// New end.
    #[schema(example = "2026-03-02T09:30:00")]
    pub fim: Option<String>,
    /// New status.
    pub status: Option<StatusConsulta>,
    /// New notes (`null` or `""` clears them).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub observacoes: Patch<String>,
}

/// Filters of `GET /consultas` (dates inclusive).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiltroConsultas {
    /// Only this doctor's.
    pub medico_id: Option<String>,
    /// Only this patient's.
    pub paciente_id: Option<String>,
    /// Only this status.
    pub status: Option<StatusConsulta>,
    /// From this date (`YYYY-MM-DD`).
    #[param(example = "2026-03-01")]
    pub de: Option<String>,
    /// Up to this date, inclusive.
    #[param(example = "2026-03-31")]
    pub ate: Option<String>,
}

/// `incluir` of `GET /consultas` and `GET /consultas/{id}` (SPEC-2 §11).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncluirParam {
    /// Records to embed in each appointment, comma-separated: `paciente` (`{id, nome,
    /// telefone}`), `medico` (`{id, nome, especialidade}`).
    #[param(
        example = "paciente,medico",
        pattern = "^(paciente|medico)(,(paciente|medico))*$"
    )]
    pub incluir: Option<String>,
}

impl IncluirParam {
    fn validate(&self) -> Result<services::consultas::Incluir, AppError> {
        let mut out = services::consultas::Incluir::default();
        let Some(v) = self.incluir.as_deref() else {
            return Ok(out);
        };
        // Exactly the documented shape: `paciente`, `medico` or both, comma-separated (an
        // empty value or an empty part is an error, not "nothing to include").
        for parte in v.split(',') {
            match parte {
                "paciente" => out.paciente = true,
                "medico" => out.medico = true,
                "" => {
                    return Err(AppError::campo(
                        "incluir",
                        "valor vazio: use paciente e/ou medico, separados por vírgula",
                    ));
                }
                outro => {
                    return Err(AppError::campo(
                        "incluir",
                        format!("valor desconhecido \"{outro}\": use paciente e/ou medico"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// Body of `POST /consultas/{id}/cancelar` (may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelarBody {
    /// Why it was cancelled (kept as `motivo_cancelamento` and in the history).
    #[schema(example = "Paciente viajou")]
    pub motivo: Option<String>,
}

/// Body of `POST /consultas/{id}/remarcar`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemarcarBody {
    /// New start, clinic-local (`YYYY-MM-DDTHH:MM:SS`; an RFC 3339 offset is converted).
    #[schema(example = "2026-03-03T09:00:00")]
    pub inicio: String,
    /// New end; without it, the appointment keeps its duration.
    #[schema(example = "2026-03-03T09:30:00")]
    pub fim: Option<String>,
    /// Form of payment (SPEC-2 §12); default: the appointment's own `pagamento.forma`
    /// (else `convenio` when the patient has a plan, else `particular`). Checked for the new
    /// date (422 `convenio_inativo`, `convenio_nao_aceito`, `carteirinha_vencida`,
    /// `particular_nao_aceito`). The same form keeps the appointment's `pagamento` as it
    /// is; another form records a new one (`pendente`; 409 `pagamento_nao_pendente` when
    /// the current payment is no longer `pendente`).
    pub forma_pagamento: Option<crate::models::FormaPagamento>,
}

fn obs(e: &mut Erros, v: Option<&str>) -> Option<String> {
    e.check("observacoes", texto_opcional(v, MAX_OBS)).flatten()
}

impl ConsultaCreate {
    fn validate(self, tz: &jiff::tz::TimeZone) -> Result<NovaConsulta, AppError> {
        let mut e = Erros::default();
        let ini = e.check("inicio", parse_momento(&self.inicio, tz));
        let fim = e.check("fim", parse_momento(&self.fim, tz));
        let iv = match (ini, fim) {
            (Some(i), Some(f)) => e.check("fim", Intervalo::new(i, f)),
            _ => None,
        };
        for (campo, v) in [
            ("paciente_id", &self.paciente_id),
            ("medico_id", &self.medico_id),
        ] {
            if crate::domain::trim(v).is_empty() {
                e.push(campo, "campo obrigatório");
            }
        }
        let observacoes = obs(&mut e, self.observacoes.as_deref());
        e.finish()?;
        let intervalo =
            iv.ok_or_else(|| AppError::Internal("validation passed without values".into()))?;
        Ok(NovaConsulta {
            paciente_id: crate::domain::trim(&self.paciente_id).to_owned(),
            medico_id: crate::domain::trim(&self.medico_id).to_owned(),
            intervalo,
            status: self.status.unwrap_or(StatusConsulta::Agendada),
            observacoes,
            forma_pagamento: self.forma_pagamento,
        })
    }
}

impl ConsultaUpdate {
    fn validate(self, tz: &jiff::tz::TimeZone) -> Result<AlteraConsulta, AppError> {
        let mut e = Erros::default();
        let inicio = self
            .inicio
            .and_then(|s| e.check("inicio", parse_momento(&s, tz)));
        let fim = self.fim.and_then(|s| e.check("fim", parse_momento(&s, tz)));
        let observacoes = if self.observacoes.is_missing() {
            None
        } else {
            Some(obs(&mut e, self.observacoes.as_opt()))
        };
        e.finish()?;
        Ok(AlteraConsulta {
            inicio,
            fim,
            status: self.status,
            observacoes,
        })
    }
}

impl FiltroConsultas {
    fn validate(self) -> Result<Filtro, AppError> {
        let (de, ate) = periodo(self.de.as_deref(), self.ate.as_deref())?;
        Ok(Filtro {
            medico_id: filtro(self.medico_id),
            paciente_id: filtro(self.paciente_id),
            status: self.status,
            de,
            ate,
        })
    }
}

/// Lists appointments by start time, filtered by doctor, patient, status and dates; with
/// `incluir=paciente,medico` each carries its patient and/or doctor.
#[utoipa::path(get, path = "/consultas", tag = "consultas",
    params(Pagina, FiltroConsultas, IncluirParam),
    responses((status = 200, description = "Consultas por início", body = [ConsultaDetalhada],
        headers(("x-total-count" = u64, description = "Total após o filtro")))))]
pub async fn list_consultas(
    quem: Autorizado<Proprios>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiQuery(pagina): ApiQuery<Pagina>,
    ApiQuery(f): ApiQuery<FiltroConsultas>,
    ApiQuery(inc): ApiQuery<IncluirParam>,
) -> Result<Response, AppError> {
    let filtro = f.validate()?;
    let janela = pagina.janela()?;
    let incluir = inc.validate()?;
    // A patient's appointments (a filter by patient, or a patient's own): `ler` (LGPD);
    // patients' names and phones embedded in a list of many: `ler` of `pacientes`.
    let paciente = match quem.escopo() {
        Escopo::Paciente(p) => Some(p),
        _ => filtro.paciente_id.clone(),
    };
    let out = services::consultas::page_visivel(&app, filtro, &quem.escopo(), janela);
    if paciente.is_some() || incluir.paciente {
        let r = req.responde(StatusCode::OK);
        services::auditoria::registrar(&app, r.ctx(), Acao::Ler, "pacientes", paciente).await?;
    }
    // Without `incluir`, the records as they are (no copy, no flattening).
    if incluir.nada() {
        return Ok(Lista::from(out).into_response());
    }
    let itens = services::consultas::detalhar(&app, &out.itens, incluir);
    Ok(Lista(itens, out.total).into_response())
}

/// Finds one appointment; with `incluir=paciente,medico` it carries its patient and/or doctor.
#[utoipa::path(get, path = "/consultas/{id}", tag = "consultas",
    params(("id" = String, Path), IncluirParam),
    responses((status = 200, body = ConsultaDetalhada)))]
pub async fn find_consulta(
    quem: Autorizado<Proprios>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    ApiQuery(inc): ApiQuery<IncluirParam>,
) -> Result<Response, AppError> {
    let incluir = inc.validate()?;
    let c = services::consultas::find_visivel(&app, &id, &quem.escopo())?;
    // One of a patient's appointments: `ler` (LGPD).
    let r = req.responde(StatusCode::OK);
    services::auditoria::registrar(&app, r.ctx(), Acao::Ler, "consultas", Some(id)).await?;
    if incluir.nada() {
        return Ok(Json(c).into_response());
    }
    let mut um = services::consultas::detalhar(&app, &[c], incluir);
    um.pop()
        .map(|d| Json(d).into_response())
        .ok_or_else(|| AppError::Internal("detalhar lost the appointment".into()))
}

/// Records an appointment synchronously (may be off the slot grid or in the past).
#[utoipa::path(post, path = "/consultas", tag = "consultas", request_body = ConsultaCreate,
    responses((status = 201, body = Consulta)))]
pub async fn create_consulta(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<ConsultaCreate>,
) -> Result<(StatusCode, Json<Arc<Consulta>>), AppError> {
    let nova = body.validate(app.clock.tz())?;
    let r = req.responde(StatusCode::CREATED);
    let c = services::consultas::create(&app, r.ctx(), nova).await?;
    Ok(r.json(c))
}

/// Changes an appointment's times, status or notes.
#[utoipa::path(put, path = "/consultas/{id}", tag = "consultas", params(("id" = String, Path)),
    request_body = ConsultaUpdate, responses((status = 200, body = Consulta)))]
pub async fn update_consulta(
    quem: Autorizado<StaffOuMedico>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<ConsultaUpdate>,
) -> Result<(StatusCode, Json<Arc<Consulta>>), AppError> {
    let alt = body.validate(app.clock.tz())?;
    // SPEC-2 §10: a doctor sets `status` (concluida, faltou) and `observacoes` of their own
    // appointments (404 for another's); the time stays with the front desk.
    let escopo = quem.escopo();
    if escopo != Escopo::Tudo {
        services::consultas::find_visivel(&app, &id, &escopo)?;
        let status_ok = alt
            .status
            .is_none_or(|s| matches!(s, StatusConsulta::Concluida | StatusConsulta::Faltou));
        if alt.inicio.is_some() || alt.fim.is_some() || !status_ok {
            return Err(AppError::Forbidden);
        }
    }
    let r = req.responde(StatusCode::OK);
    services::consultas::update(&app, r.ctx(), &id, alt)
        .await
        .map(|v| r.json(v))
}

/// Deletes an appointment.
#[utoipa::path(delete, path = "/consultas/{id}", tag = "consultas", params(("id" = String, Path)),
    responses((status = 204, description = "Excluída")))]
pub async fn delete_consulta(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let r = req.responde(StatusCode::NO_CONTENT);
    services::consultas::delete(&app, r.ctx(), &id).await?;
    Ok(r.vazia())
}

/// Books an appointment asynchronously, as the dashboard does: checks the body, the slot
/// grid, working hours and the slot now (422/409), holds the slot and queues the booking.
/// Follow the task at `/sistema/tasks/{task_id}` or on the event stream.
#[utoipa::path(post, path = "/consultas/agendar", tag = "consultas", request_body = ConsultaCreate,
    responses((status = 202, body = crate::models::Agendado)))]
pub async fn create_agendamento(
    _: Autorizado<StaffOuPaciente>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<ConsultaCreate>,
) -> Result<(StatusCode, Json<crate::models::Agendado>), AppError> {
    let nova = body.validate(app.clock.tz())?;
    let r = req.responde(StatusCode::ACCEPTED);
    let out = services::agenda::agendar(&app, r.ctx(), nova).await?;
    Ok(r.json(out))
}

/// Cancels an appointment (SPEC-2 §11): it becomes `cancelada` with `motivo_cancelamento`,
/// and its slots are freed (`horario_disponivel`, `motivo: "cancelada"`). Staff cancel any
/// appointment, a patient their own; the clinic's cancellation cutoff applies to everyone,
/// and a patient cannot cancel one that already started (409 `prazo_cancelamento`). The body
/// may be empty.
#[utoipa::path(post, path = "/consultas/{id}/cancelar", tag = "consultas",
    params(("id" = String, Path)), request_body(content = Option<CancelarBody>),
    responses((status = 200, description = "A consulta, cancelada", body = Consulta)))]
pub async fn create_cancelamento(
    _: Autorizado<StaffOuPaciente>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    body: CorpoOpcional<CancelarBody>,
) -> Result<(StatusCode, Json<Arc<Consulta>>), AppError> {
    let body = body.0.unwrap_or_default();
    let mut e = Erros::default();
    let motivo = obs_campo(&mut e, "motivo", body.motivo.as_deref());
    e.finish()?;
    let r = req.responde(StatusCode::OK);
    let c = services::agenda::cancelar(&app, r.ctx(), &id, motivo).await?;
    Ok(r.json(c))
}

/// Moves an appointment to another time (SPEC-2 §11): the same appointment (same `id`), at
/// `inicio` (and `fim`, or the same duration). The new time is checked like
/// `POST /consultas/agendar` (grid, working hours, free, nobody else's hold, the clinic's
/// notice and horizon) and the old one against the cancellation cutoff; the new slots are
/// taken and the old ones freed in one write, or nothing changes. Staff move any
/// appointment, a patient their own, unless it already started (409 `prazo_cancelamento`).
#[utoipa::path(post, path = "/consultas/{id}/remarcar", tag = "consultas",
    params(("id" = String, Path)), request_body = RemarcarBody,
    responses((status = 200, description = "A consulta, no novo horário", body = Consulta)))]
pub async fn create_remarcacao(
    _: Autorizado<StaffOuPaciente>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<RemarcarBody>,
) -> Result<(StatusCode, Json<Arc<Consulta>>), AppError> {
    let tz = app.clock.tz();
    let mut e = Erros::default();
    let inicio = e.check("inicio", parse_momento(&body.inicio, tz));
    // SPEC §1: an optional text sent as `""` is absent (the duration is kept).
    let fim = body
        .fim
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .and_then(|f| e.check("fim", parse_momento(f, tz)));
    e.finish()?;
    let inicio =
        inicio.ok_or_else(|| AppError::Internal("validation passed without inicio".into()))?;
    let r = req.responde(StatusCode::OK);
    let c =
        services::agenda::remarcar(&app, r.ctx(), &id, inicio, fim, body.forma_pagamento).await?;
    Ok(r.json(c))
}

/// An appointment's history, oldest first: `criada`, `status` (`de`/`para` the statuses),
/// `remarcada` (`de`/`para` the starts), `cancelada` (with the `motivo`), each with when
/// and who. Whoever may read the appointment may read its history.
#[utoipa::path(get, path = "/consultas/{id}/historico", tag = "consultas",
    params(("id" = String, Path)),
    responses((status = 200, description = "Histórico, do mais antigo ao mais recente",
        body = [EntradaHistorico])))]
pub async fn list_historico(
    quem: Autorizado<Proprios>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<Arc<EntradaHistorico>>>, AppError> {
    let h = services::consultas::historico(&app, &id, &quem.escopo())?;
    let r = req.responde(StatusCode::OK);
    services::auditoria::registrar(&app, r.ctx(), Acao::Ler, "consultas", Some(id)).await?;
    Ok(Json(h))
}

fn obs_campo(e: &mut Erros, campo: &str, v: Option<&str>) -> Option<String> {
    e.check(campo, texto_opcional(v, MAX_OBS)).flatten()
}
