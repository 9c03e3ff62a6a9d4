//! `POST /consultas/{id}/pagamento` (SPEC-2 §12): staff settle an appointment's payment.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Autorizado, Staff};
use super::extract::{ApiPath, Json, JsonBody, Requisicao};
use crate::error::AppError;
use crate::models::{Consulta, StatusPagamento};
use crate::services::{self, AppState};

/// Body of `POST /consultas/{id}/pagamento`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PagamentoBody {
    /// The new status: `pago` or `isento` from `pendente`; `estornado` from `pago`.
    pub status: StatusPagamento,
    /// With `pago` only: the amount received, in integer centavos (what the statistics and
    /// the report add). Without it, the amount the appointment already has (the private-pay
    /// price copied at booking) or, when it has none, the doctor's private-pay price today.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000000)]
    pub valor_centavos: Option<f64>,
}

/// Moves an appointment's payment: `pendente` → `pago` | `isento`, `pago` → `estornado`;
/// any other move is 409 `transicao_pagamento_invalida`, and an appointment booked before
/// payments existed is 409 `pagamento_ausente`. `pago` records the amount received
/// (`valor_centavos`, else the appointment's own, else the doctor's private-pay price).
/// Audited as a change of the appointment.
#[utoipa::path(post, path = "/consultas/{id}/pagamento", tag = "consultas",
    params(("id" = String, Path)), request_body = PagamentoBody,
    responses((status = 200, description = "A consulta com o pagamento alterado", body = Consulta)))]
pub async fn update_pagamento(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<PagamentoBody>,
) -> Result<(StatusCode, Json<Arc<Consulta>>), AppError> {
    let valor = match body.valor_centavos {
        None => None,
        Some(_) if body.status != StatusPagamento::Pago => {
            return Err(AppError::campo(
                "valor_centavos",
                "só é aceito com status pago (o valor recebido)",
            ));
        }
        Some(v) => Some(
            services::convenios::centavos(v).map_err(|m| AppError::campo("valor_centavos", m))?,
        ),
    };
    let r = req.responde(StatusCode::OK);
    services::pagamento::alterar_status(&app, r.ctx(), &id, body.status, valor)
        .await
        .map(|c| r.json(c))
}
