//! Calendars (SPEC-2 §14): `GET /consultas/{id}/ics`, `POST /calendario/token` and the
//! feeds `GET /calendario/medico/{id}.ics` and `GET /calendario/paciente/{id}.ics`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Autorizado, Proprios};
use super::extract::{ApiPath, ApiQuery, Json, JsonBody, Requisicao};
use crate::error::{AppError, Erros};
use crate::models::{Acao, UrlCalendario};
use crate::services::calendario::Dono;
use crate::services::{self, AppState};

const TEXT_CALENDAR: &str = "text/calendar; charset=utf-8";

/// One appointment as an iCalendar file (RFC 5545, `METHOD:PUBLISH`, one VEVENT): `UID`
/// stable for the appointment's life, `SEQUENCE` growing with each change, `STATUS`
/// `TENTATIVE` (agendada), `CONFIRMED` or `CANCELLED`, times in UTC. Staff and the patient
/// get the patient's name in the description; the doctor of the appointment gets it without.
#[utoipa::path(get, path = "/consultas/{id}/ics", tag = "calendario",
    params(("id" = String, Path)),
    responses((status = 200, description = "A consulta em iCalendar", content_type = "text/calendar",
        body = String, headers(("content-disposition" = String,
            description = "attachment; filename=\"consulta-<id>.ics\"")))))]
pub async fn find_ics(
    quem: Autorizado<Proprios>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, AppError> {
    let escopo = quem.escopo();
    let ics = services::calendario::ics_visivel(&app, &id, &escopo)?;
    // One of a patient's appointments (with their name for staff and the patient): `ler`.
    let r = req.responde(StatusCode::OK);
    services::auditoria::registrar(&app, r.ctx(), Acao::Ler, "consultas", Some(id.clone())).await?;
    let nome = format!(
        "attachment; filename=\"consulta-{}.ics\"",
        arquivo_seguro(&id)
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(TEXT_CALENDAR),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&nome).unwrap_or(HeaderValue::from_static(
                    "attachment; filename=\"consulta.ics\"",
                )),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        ics,
    )
        .into_response())
}

/// Only the characters a file name may keep.
fn arquivo_seguro(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect()
}

/// Body of `POST /calendario/token`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The doctor whose feed.
    pub medico_id: Option<String>,
    /// The patient whose feed.
    pub paciente_id: Option<String>,
}

/// A new feed address for a doctor's or a patient's appointments (SPEC-2 §14). Exactly one
/// of `medico_id`, `paciente_id` (422 otherwise). Staff for anyone; a doctor or patient for
/// themself (404 for anyone else). The new token revokes the previous one of the same feed.
/// `Idempotency-Key` is not replayed here (no answer holding a token is stored): a retry
/// issues a new token.
#[utoipa::path(post, path = "/calendario/token", tag = "calendario", request_body = TokenBody,
    responses((status = 200, description = "O endereço do calendário, com o token novo",
        body = UrlCalendario)))]
pub async fn create_token(
    quem: Autorizado<Proprios>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Json<UrlCalendario>, AppError> {
    let limpo = |v: Option<String>| {
        v.map(|s| crate::domain::trim(&s).to_owned())
            .filter(|s| !s.is_empty())
    };
    let dono = match (limpo(body.medico_id), limpo(body.paciente_id)) {
        (Some(m), None) => Dono::Medico(m),
        (None, Some(p)) => Dono::Paciente(p),
        _ => {
            let mut e = Erros::default();
            e.push(
                "medico_id",
                "informe exatamente um: medico_id ou paciente_id",
            );
            e.push(
                "paciente_id",
                "informe exatamente um: medico_id ou paciente_id",
            );
            e.finish()?;
            return Err(AppError::Internal("unreachable".into()));
        }
    };
    let r = req.responde(StatusCode::OK);
    // No answer is kept for an `Idempotency-Key`: it would hold the token in clear. A retry
    // issues another token (revoking the first), which is what a lost answer needs anyway.
    let mut ctx = r.ctx().clone();
    ctx.idempotencia = None;
    let url = services::calendario::emitir_token(&app, &ctx, dono, &quem.escopo()).await?;
    Ok(Json(UrlCalendario { url }))
}

/// `?token=` of a feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenParam {
    /// The feed's token (from `POST /calendario/token`).
    pub token: Option<String>,
}

/// The id in `<id>.ics`.
fn id_de(arquivo: &str) -> Option<&str> {
    arquivo.strip_suffix(".ics").filter(|s| !s.is_empty())
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn casa(headers: &HeaderMap, etag: &str) -> bool {
    let sem_fraco = |s: &str| s.trim().trim_start_matches("W/").to_owned();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == "*" || sem_fraco(v) == etag)
}

fn responder_feed(
    app: &AppState,
    dono: &Dono,
    token: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let feed = token.and_then(|t| services::calendario::feed(app, dono, t));
    let Some(feed) = feed else {
        return AppError::NotFound("Calendário não encontrado.".into()).into_response();
    };
    let etag = HeaderValue::from_str(&feed.etag).unwrap_or(HeaderValue::from_static("\"-\""));
    let comuns = [
        (header::ETAG, etag),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        ),
    ];
    if casa(headers, &feed.etag) {
        return (StatusCode::NOT_MODIFIED, comuns).into_response();
    }
    (
        comuns,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(TEXT_CALENDAR),
        )],
        feed.ics,
    )
        .into_response()
}

/// A doctor's calendar feed (`arquivo` is `<medico_id>.ics`), for a calendar app to
/// subscribe to without a login: the last 90 days and every future appointment,
/// cancelled ones `STATUS:CANCELLED`, never a patient's name. A wrong or revoked token is
/// 404. `If-None-Match` with the current `ETag` → 304.
#[utoipa::path(get, path = "/calendario/medico/{arquivo}", tag = "calendario",
    params(("arquivo" = String, Path, description = "`<medico_id>.ics`",
        example = "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b.ics"), TokenParam),
    responses(
        (status = 200, description = "O calendário", content_type = "text/calendar", body = String,
            headers(("etag" = String, description = "Muda quando o calendário muda"))),
        (status = 304, description = "Não mudou desde o ETag de If-None-Match")))]
pub async fn find_feed_medico(
    State(app): State<AppState>,
    ApiPath(arquivo): ApiPath<String>,
    ApiQuery(q): ApiQuery<TokenParam>,
    headers: HeaderMap,
) -> Response {
    let Some(id) = id_de(&arquivo) else {
        return AppError::NotFound("Calendário não encontrado.".into()).into_response();
    };
    responder_feed(
        &app,
        &Dono::Medico(id.to_owned()),
        q.token.as_deref(),
        &headers,
    )
}

/// A patient's calendar feed (`arquivo` is `<paciente_id>.ics`): the doctor and speciality
/// of each appointment, no personal data. Same rules as the doctor's feed.
#[utoipa::path(get, path = "/calendario/paciente/{arquivo}", tag = "calendario",
    params(("arquivo" = String, Path, description = "`<paciente_id>.ics`",
        example = "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b.ics"), TokenParam),
    responses(
        (status = 200, description = "O calendário", content_type = "text/calendar", body = String,
            headers(("etag" = String, description = "Muda quando o calendário muda"))),
        (status = 304, description = "Não mudou desde o ETag de If-None-Match")))]
pub async fn find_feed_paciente(
    State(app): State<AppState>,
    ApiPath(arquivo): ApiPath<String>,
    ApiQuery(q): ApiQuery<TokenParam>,
    headers: HeaderMap,
) -> Response {
    let Some(id) = id_de(&arquivo) else {
        return AppError::NotFound("Calendário não encontrado.".into()).into_response();
    };
    responder_feed(
        &app,
        &Dono::Paciente(id.to_owned()),
        q.token.as_deref(),
        &headers,
    )
}
