//! `/convenios` (SPEC-2 §12): insurance plans. Staff write; every signed-in role reads.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Autenticado, Autorizado, Staff};
use super::extract::{
    ApiPath, ApiQuery, Json, JsonBody, Lista, Pagina, Patch, Requisicao, filtro, opcional,
    patch_obrigatorio, patch_opcional,
};
use crate::error::{AppError, Erros};
use crate::models::Convenio;
use crate::services::convenios::{
    AlteraConvenio, FiltroConvenios, NovoConvenio, nome, registro_ans,
};
use crate::services::{self, AppState};

/// Body of `POST /convenios`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvenioCreate {
    /// Name (1 to 100 characters), unique ignoring case and accents.
    #[schema(example = "Unimed")]
    pub nome: String,
    /// ANS registry number: exactly 6 digits (`""` or `null` = none).
    #[schema(example = "339679")]
    pub registro_ans: Option<String>,
    /// Whether bookings may use it (default `true`).
    pub ativo: Option<bool>,
}

/// Body of `PUT /convenios/{id}`: any subset; `null` or `""` clears `registro_ans`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvenioUpdate {
    /// New name.
    #[serde(default)]
    #[schema(value_type = String)]
    pub nome: Patch<String>,
    /// New ANS registry number (6 digits).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub registro_ans: Patch<String>,
    /// `false` deactivates the plan (new bookings cannot use it); `true` reactivates it.
    pub ativo: Option<bool>,
}

/// Filters of `GET /convenios`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiltroConveniosQuery {
    /// Only active (`true`) or inactive (`false`) plans.
    pub ativo: Option<bool>,
    /// Only names containing this text (ignoring case and accents).
    pub nome: Option<String>,
}

impl ConvenioCreate {
    fn validate(self) -> Result<NovoConvenio, AppError> {
        let mut e = Erros::default();
        let n = e.check("nome", nome(&self.nome));
        let ans = opcional(
            &mut e,
            "registro_ans",
            self.registro_ans.as_deref(),
            registro_ans,
        );
        e.finish()?;
        match n {
            Some(nome) => Ok(NovoConvenio {
                nome,
                registro_ans: ans,
                ativo: self.ativo.unwrap_or(true),
            }),
            None => Err(AppError::Internal(
                "validation passed without values".into(),
            )),
        }
    }
}

impl ConvenioUpdate {
    fn validate(self) -> Result<AlteraConvenio, AppError> {
        let mut e = Erros::default();
        let n = patch_obrigatorio(&mut e, "nome", &self.nome, nome);
        let ans = patch_opcional(&mut e, "registro_ans", &self.registro_ans, registro_ans);
        e.finish()?;
        Ok(AlteraConvenio {
            nome: n,
            registro_ans: ans,
            ativo: self.ativo,
        })
    }
}

/// Lists insurance plans by name, optionally only active or inactive ones, or by name.
#[utoipa::path(get, path = "/convenios", tag = "convenios", params(Pagina, FiltroConveniosQuery),
    responses((status = 200, description = "Convênios por nome", body = [Convenio],
        headers(("x-total-count" = u64, description = "Total após o filtro")))))]
pub async fn list_convenios(
    _: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiQuery(pagina): ApiQuery<Pagina>,
    ApiQuery(f): ApiQuery<FiltroConveniosQuery>,
) -> Result<Lista<Convenio>, AppError> {
    let janela = pagina.janela()?;
    let f = FiltroConvenios {
        ativo: f.ativo,
        nome: filtro(f.nome),
    };
    Ok(services::convenios::page(&app, &f, janela).into())
}

/// Finds one insurance plan.
#[utoipa::path(get, path = "/convenios/{id}", tag = "convenios", params(("id" = String, Path)),
    responses((status = 200, body = Convenio)))]
pub async fn find_convenio(
    _: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Arc<Convenio>>, AppError> {
    services::convenios::find(&app, &id).map(Json)
}

/// Registers an insurance plan (409 `duplicate_convenio` when the name, ignoring case and
/// accents, is taken).
#[utoipa::path(post, path = "/convenios", tag = "convenios", request_body = ConvenioCreate,
    responses((status = 201, body = Convenio)))]
pub async fn create_convenio(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<ConvenioCreate>,
) -> Result<(StatusCode, Json<Arc<Convenio>>), AppError> {
    let novo = body.validate()?;
    let r = req.responde(StatusCode::CREATED);
    let c = services::convenios::create(&app, r.ctx(), novo).await?;
    Ok(r.json(c))
}

/// Changes a plan's name or registry number, or (de)activates it.
#[utoipa::path(put, path = "/convenios/{id}", tag = "convenios", params(("id" = String, Path)),
    request_body = ConvenioUpdate, responses((status = 200, body = Convenio)))]
pub async fn update_convenio(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<ConvenioUpdate>,
) -> Result<(StatusCode, Json<Arc<Convenio>>), AppError> {
    let alt = body.validate()?;
    let r = req.responde(StatusCode::OK);
    services::convenios::update(&app, r.ctx(), &id, alt)
        .await
        .map(|v| r.json(v))
}

/// Deactivates a plan (`ativo: false`): it is never removed, because doctors, patients and
/// appointments may name it, but new bookings cannot use it. `PUT {"ativo": true}`
/// reactivates it.
#[utoipa::path(delete, path = "/convenios/{id}", tag = "convenios", params(("id" = String, Path)),
    responses((status = 204, description = "Desativado")))]
pub async fn delete_convenio(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let r = req.responde(StatusCode::NO_CONTENT);
    services::convenios::deactivate(&app, r.ctx(), &id).await?;
    Ok(r.vazia())
}
