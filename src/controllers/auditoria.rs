//! `GET /sistema/auditoria` (SPEC-2 §10, admin only): the audit trail, newest first. There
//! is no route that changes or deletes an entry.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Admin, Autorizado};
use super::extract::{ApiQuery, Lista, Pagina};
use crate::domain::{parse_date, parse_momento};
use crate::error::{AppError, Erros};
use crate::models::{Acao, EntradaAuditoria};
use crate::services::AppState;
use crate::services::auditoria::{self, Filtro};

/// Filters of `GET /sistema/auditoria` (`de`/`ate` inclusive: a date `AAAA-MM-DD` in the
/// clinic's zone, or a date and time).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiltroAuditoria {
    /// Only this user's entries.
    pub usuario_id: Option<String>,
    /// Only this collection (`pacientes`, `consultas`, `usuarios`, `backups`…).
    pub recurso: Option<String>,
    /// Only this record.
    pub recurso_id: Option<String>,
    /// Only this action.
    pub acao: Option<Acao>,
    /// From this date or instant on.
    #[param(example = "2026-03-01")]
    pub de: Option<String>,
    /// Up to this date (its whole day) or instant.
    #[param(example = "2026-03-31")]
    pub ate: Option<String>,
}

impl FiltroAuditoria {
    fn validate(self, tz: &jiff::tz::TimeZone) -> Result<Filtro, AppError> {
        let mut e = Erros::default();
        // A date is its whole day in the clinic's zone; otherwise a date and time.
        let instante = |e: &mut Erros, campo: &str, v: Option<&str>, fim: bool| {
            // Present but empty is an error, not "no filter" (the schema's pattern says so).
            let v = v.map(str::trim)?;
            let t = match parse_date(v) {
                Ok(d) => {
                    let d = if fim { d.tomorrow().ok()? } else { d };
                    d.to_zoned(tz.clone()).ok().map(|z| {
                        let t = z.timestamp();
                        if fim {
                            t - jiff::SignedDuration::from_nanos(1)
                        } else {
                            t
                        }
                    })
                }
                Err(_) => parse_momento(v, tz).ok().map(|m| m.instante),
            };
            if t.is_none() {
                e.push(
                    campo,
                    "data inválida: use AAAA-MM-DD ou AAAA-MM-DDTHH:MM:SS",
                );
            }
            t
        };
        let de = instante(&mut e, "de", self.de.as_deref(), false);
        let ate = instante(&mut e, "ate", self.ate.as_deref(), true);
        if let (Some(de), Some(ate)) = (de, ate)
            && de > ate
        {
            e.push("ate", "deve ser igual ou posterior a de");
        }
        e.finish()?;
        let clean = |s: Option<String>| {
            s.map(|v| crate::domain::trim(&v).to_owned())
                .filter(|v| !v.is_empty())
        };
        Ok(Filtro {
            usuario_id: clean(self.usuario_id),
            recurso: clean(self.recurso),
            recurso_id: clean(self.recurso_id),
            acao: self.acao,
            de,
            ate,
        })
    }
}

/// The audit trail, newest first (admin): who created, changed, deleted or read what,
/// sign-ins, restores and exports.
#[utoipa::path(get, path = "/sistema/auditoria", tag = "sistema", params(Pagina, FiltroAuditoria),
    responses((status = 200, description = "Entradas, da mais recente à mais antiga",
        body = [EntradaAuditoria],
        headers(("x-total-count" = u64, description = "Total após o filtro")))))]
pub async fn list_auditoria(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    ApiQuery(pagina): ApiQuery<Pagina>,
    ApiQuery(f): ApiQuery<FiltroAuditoria>,
) -> Result<Lista<EntradaAuditoria>, AppError> {
    let filtro = f.validate(app.clock.tz())?;
    let janela = pagina.janela()?;
    let r = auditoria::consultar(&app, &filtro, janela);
    Ok(r.into())
}
