//! `/webhooks` (SPEC-2 §13, administrators only): where the clinic's events are `POST`ed,
//! signed per Standard Webhooks. The secret is shown once, in `POST`'s answer.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Admin, Autorizado};
use super::extract::{ApiPath, ApiQuery, Json, JsonBody, Lista, Pagina, Requisicao};
use crate::error::{AppError, Erros};
use crate::models::{WebhookCriado, WebhookPublico};
use crate::services::webhooks::{AlteraWebhook, NovoWebhook};
use crate::services::{self, AppState};

/// Body of `POST /webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCreate {
    /// Where deliveries go: `http` or `https`, without user info.
    #[schema(
        example = "https://exemplo.com/agendamento/webhook",
        min_length = 1,
        max_length = 2000,
        pattern = "^https?://"
    )]
    pub url: String,
    /// The events it receives (at least one): `consulta.agendada`, `consulta.confirmada`,
    /// `consulta.remarcada`, `consulta.cancelada`, `consulta.faltou`, `consulta.lembrete`,
    /// `lista_espera.vaga_oferecida`.
    #[schema(
        example = json!(["consulta.agendada", "consulta.cancelada"]),
        value_type = Vec<crate::models::EventoNotificacao>,
        min_items = 1
    )]
    pub eventos: Vec<String>,
    /// Whether it receives deliveries (default `true`).
    #[serde(default)]
    pub ativo: Option<bool>,
}

/// Body of `PUT /webhooks/{id}`: only the fields sent change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    /// New URL.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000, pattern = "^https?://")]
    pub url: Option<String>,
    /// New events (at least one).
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::models::EventoNotificacao>>, min_items = 1)]
    pub eventos: Option<Vec<String>>,
    /// Turn deliveries on or off.
    #[serde(default)]
    pub ativo: Option<bool>,
}

impl WebhookCreate {
    fn validate(self) -> Result<NovoWebhook, AppError> {
        let mut e = Erros::default();
        let url = e.check("url", services::webhooks::url(&self.url));
        let eventos = e.check("eventos", services::webhooks::eventos(&self.eventos));
        e.finish()?;
        match (url, eventos) {
            (Some(url), Some(eventos)) => Ok(NovoWebhook {
                url,
                eventos,
                ativo: self.ativo.unwrap_or(true),
            }),
            _ => Err(AppError::Internal(
                "validation passed without values".into(),
            )),
        }
    }
}

impl WebhookUpdate {
    fn validate(self) -> Result<AlteraWebhook, AppError> {
        let mut e = Erros::default();
        let url = self
            .url
            .and_then(|u| e.check("url", services::webhooks::url(&u)));
        let eventos = self
            .eventos
            .and_then(|v| e.check("eventos", services::webhooks::eventos(&v)));
        e.finish()?;
        Ok(AlteraWebhook {
            url,
            eventos,
            ativo: self.ativo,
        })
    }
}

/// Lists webhooks, oldest first (never their secrets).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", params(Pagina),
    responses((status = 200, description = "Webhooks", body = [WebhookPublico],
        headers(("x-total-count" = u64, description = "Total")))))]
pub async fn list_webhooks(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    ApiQuery(pagina): ApiQuery<Pagina>,
) -> Result<Lista<WebhookPublico>, AppError> {
    let janela = pagina.janela()?;
    let r = services::webhooks::page(&app, janela);
    Ok(Lista(
        r.itens.iter().map(|w| Arc::new(w.publico())).collect(),
        r.total,
    ))
}

/// Creates a webhook. The answer carries its signing secret (`segredo`, `whsec_` + base64)
/// this once: it is never shown again. Deliveries are `POST`s of `{type, timestamp, data}`
/// with the headers `webhook-id`, `webhook-timestamp` and `webhook-signature`.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = WebhookCreate,
    responses((status = 201, body = WebhookCriado)))]
pub async fn create_webhook(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<WebhookCreate>,
) -> Result<(StatusCode, Json<WebhookCriado>), AppError> {
    let novo = body.validate()?;
    let r = req.responde(StatusCode::CREATED);
    let out = services::webhooks::criar(&app, r.ctx(), novo).await?;
    Ok(r.json(out))
}

/// Finds one webhook (without its secret).
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookPublico)))]
pub async fn find_webhook(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookPublico>, AppError> {
    services::webhooks::find(&app, &id).map(|w| Json(w.publico()))
}

/// Changes a webhook: only the fields sent change (the secret stays).
#[utoipa::path(put, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    request_body = WebhookUpdate, responses((status = 200, body = WebhookPublico)))]
pub async fn update_webhook(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<WebhookUpdate>,
) -> Result<(StatusCode, Json<WebhookPublico>), AppError> {
    let alt = body.validate()?;
    let r = req.responde(StatusCode::OK);
    let out = services::webhooks::alterar(&app, r.ctx(), &id, alt).await?;
    Ok(r.json(out))
}

/// Deletes a webhook; its pending notifications fail at their next attempt.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204, description = "Excluído")))]
pub async fn delete_webhook(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let r = req.responde(StatusCode::NO_CONTENT);
    services::webhooks::excluir(&app, r.ctx(), &id).await?;
    Ok(r.vazia())
}
