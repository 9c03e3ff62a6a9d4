//! `/notificacoes` (SPEC-2 §13, staff): the outbox — every notification with its delivery
//! status — and resending one.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Autorizado, Staff};
use super::extract::{ApiPath, ApiQuery, Json, Lista, Pagina, Requisicao, filtro};
use crate::error::{AppError, Erros};
use crate::models::{Canal, EVENTOS, NotificacaoPublica, StatusNotificacao};
use crate::services::notificacoes::FiltroNotificacoes;
use crate::services::{self, AppState};

/// Filters of `GET /notificacoes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiltroNotificacoesQuery {
    /// `pendente`, `enviada` or `falhou`.
    #[param(pattern = "^(pendente|enviada|falhou)$")]
    pub status: Option<String>,
    /// `email` or `webhook`.
    #[param(pattern = "^(email|webhook)$")]
    pub canal: Option<String>,
    /// Only about this appointment.
    pub consulta_id: Option<String>,
    /// Only this event (e.g. `consulta.agendada`).
    #[param(
        pattern = "^(consulta\\.(agendada|confirmada|remarcada|cancelada|faltou|lembrete)|lista_espera\\.vaga_oferecida)$"
    )]
    pub evento: Option<String>,
}

impl FiltroNotificacoesQuery {
    fn validate(self) -> Result<FiltroNotificacoes, AppError> {
        let mut e = Erros::default();
        // An empty status, channel or event is refused like any value outside the list (the
        // schema's pattern says so), not read as "no filter".
        let status = self.status.and_then(|s| {
            e.check(
                "status",
                StatusNotificacao::parse(&s).ok_or("deve ser pendente, enviada ou falhou"),
            )
        });
        let canal = self
            .canal
            .and_then(|s| e.check("canal", Canal::parse(&s).ok_or("deve ser email ou webhook")));
        let evento = self.evento.and_then(|s| {
            e.check(
                "evento",
                if EVENTOS.contains(&s.as_str()) {
                    Ok(s)
                } else {
                    Err(format!(
                        "evento desconhecido (conhecidos: {})",
                        EVENTOS.join(", ")
                    ))
                },
            )
        });
        e.finish()?;
        Ok(FiltroNotificacoes {
            status,
            canal,
            consulta_id: filtro(self.consulta_id),
            evento,
        })
    }
}

/// Lists notifications, newest first, filtered by status, channel, appointment and event.
/// E-mail recipients are shown masked.
///
/// Finished ones (`enviada`, `falhou`) stay listed `--notificacoes-dias` (default 90) after
/// their last activity; pending ones always.
#[utoipa::path(get, path = "/notificacoes", tag = "notificacoes",
    params(Pagina, FiltroNotificacoesQuery),
    responses((status = 200, description = "Notificações, mais novas primeiro",
        body = [NotificacaoPublica],
        headers(("x-total-count" = u64, description = "Total após o filtro")))))]
pub async fn list_notificacoes(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    ApiQuery(pagina): ApiQuery<Pagina>,
    ApiQuery(f): ApiQuery<FiltroNotificacoesQuery>,
) -> Result<Lista<NotificacaoPublica>, AppError> {
    let f = f.validate()?;
    let janela = pagina.janela()?;
    Ok(Lista::from(services::notificacoes::page(&app, &f, janela)))
}

/// Sends a notification again: a `falhou` or `enviada` one becomes `pendente` with its
/// attempts reset, a `pendente` one is tried now; all are due at once. A delivered one goes
/// out again with the same id (`webhook-id`), for a receiver that lost it.
#[utoipa::path(post, path = "/notificacoes/{id}/reenviar", tag = "notificacoes",
    params(("id" = String, Path)),
    responses((status = 202, description = "Agendada para envio imediato", body = NotificacaoPublica)))]
pub async fn create_reenvio(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<NotificacaoPublica>), AppError> {
    let r = req.responde(StatusCode::ACCEPTED);
    let out = services::notificacoes::reenviar(&app, r.ctx(), &id).await?;
    Ok(r.json(out))
}
