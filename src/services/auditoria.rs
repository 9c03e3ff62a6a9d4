//! The audit trail (SPEC-2 §10). A write's entry is derived from its operations and
//! journaled in the same entry as the change ([`super::App::commit_reply`]), so a change
//! never exists without its entry nor an entry without its change. Reads of a patient's
//! data, sign-ins and sign-outs are their own small writes. Append-only: no route changes
//! or deletes an entry; housekeeping forgets those older than `--auditoria-dias`.

use std::sync::Arc;

use jiff::Timestamp;

use super::trilha;
use super::{App, Contexto, Janela, Recorte};
use crate::error::AppError;
use crate::models::{Acao, EntradaAuditoria};
use crate::repositories::Op;

pub use trilha::da_escrita;

/// The entry recording `acao` on `recurso`/`recurso_id` for the request of `ctx`.
pub fn entrada(
    app: &App,
    ctx: &Contexto,
    acao: Acao,
    recurso: &str,
    recurso_id: Option<String>,
) -> Op {
    Op::PutAuditoria(registro(app, ctx, acao, recurso, recurso_id))
}

/// The record itself, for a write that builds a whole new state (a restore).
pub fn registro(
    app: &App,
    ctx: &Contexto,
    acao: Acao,
    recurso: &str,
    recurso_id: Option<String>,
) -> Arc<EntradaAuditoria> {
    trilha::registro(app.clock.stamp(), ctx, acao, recurso, recurso_id)
}

/// Records `acao` in its own write (reads of a patient's data, failed sign-ins, exports):
/// group commit carries it with whatever else is being written.
pub async fn registrar(
    app: &App,
    ctx: &Contexto,
    acao: Acao,
    recurso: &str,
    recurso_id: Option<String>,
) -> Result<(), AppError> {
    let op = entrada(app, ctx, acao, recurso, recurso_id);
    app.write(|_| Ok((vec![op], ()))).await
}

/// The filters of `GET /sistema/auditoria`.
#[derive(Debug, Default, Clone)]
pub struct Filtro {
    /// Only this user's entries.
    pub usuario_id: Option<String>,
    /// Only this collection.
    pub recurso: Option<String>,
    /// Only this record.
    pub recurso_id: Option<String>,
    /// Only this action.
    pub acao: Option<Acao>,
    /// From this instant on (inclusive).
    pub de: Option<Timestamp>,
    /// Up to this instant (inclusive).
    pub ate: Option<Timestamp>,
}

fn instante(e: &EntradaAuditoria) -> Option<Timestamp> {
    e.em.parse::<Timestamp>().ok()
}

impl Filtro {
    fn aceita(&self, e: &EntradaAuditoria) -> bool {
        let igual = |f: &Option<String>, v: Option<&str>| f.as_deref().is_none_or(|f| Some(f) == v);
        igual(&self.usuario_id, e.usuario_id.as_deref())
            && igual(&self.recurso, Some(&e.recurso))
            && igual(&self.recurso_id, e.recurso_id.as_deref())
            && self.acao.is_none_or(|a| a == e.acao)
            && (self.de.is_none() && self.ate.is_none()
                || instante(e).is_some_and(|t| {
                    self.de.is_none_or(|de| t >= de) && self.ate.is_none_or(|ate| t <= ate)
                }))
    }
}

/// The entries matching `filtro`, newest first.
pub fn consultar(app: &App, filtro: &Filtro, janela: Janela) -> Recorte<EntradaAuditoria> {
    let db = app.store.read();
    janela.recortar(db.auditoria.iter().rev().filter(|e| filtro.aceita(e)), None)
}

/// Forgets at most `max` entries older than `--auditoria-dias`; returns how many.
pub async fn housekeeping(app: &App, max: usize) -> Result<usize, AppError> {
    let dias = i64::try_from(app.config.auditoria_dias).unwrap_or(i64::MAX / 86_400);
    let limite = Timestamp::now().as_second().saturating_sub(dias * 86_400);
    app.write(|db| {
        let ops: Vec<Op> = db
            .auditoria
            .iter()
            .take_while(|e| instante(e).is_some_and(|t| t.as_second() < limite))
            .take(max)
            .map(|e| Op::DelAuditoria(e.id.clone()))
            .collect();
        let n = ops.len();
        Ok((ops, n))
    })
    .await
}
