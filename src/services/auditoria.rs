//! The audit trail (SPEC-2 §10). A write's entry is derived from its operations and
//! journaled in the same entry as the change ([`super::App::commit_reply`]), so a change
//! never exists without its entry nor an entry without its change. Reads of a patient's
//! data, sign-ins and sign-outs are their own small writes. Append-only: no route changes
//! or deletes an entry. Housekeeping keeps the last [`DIAS_EM_MEMORIA`] days in memory
//! (queryable), moves older entries to daily files `<data>/auditoria/AAAA-MM-DD.jsonl`, and
//! deletes files older than `--auditoria-dias`.

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

/// Records one entry per record of `ids` (e.g. each patient a search returned), in one
/// write; nothing when `ids` is empty.
pub async fn registrar_cada(
    app: &App,
    ctx: &Contexto,
    acao: Acao,
    recurso: &str,
    ids: impl IntoIterator<Item = String>,
) -> Result<(), AppError> {
    let ops: Vec<_> = ids
        .into_iter()
        .map(|id| entrada(app, ctx, acao, recurso, Some(id)))
        .collect();
    if ops.is_empty() {
        return Ok(());
    }
    app.write(|_| Ok((ops, ()))).await
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

/// Days of the trail kept in memory (and queryable); older entries move to daily files.
pub const DIAS_EM_MEMORIA: i64 = 90;

/// The folder of the daily files: `<data>/auditoria/AAAA-MM-DD.jsonl`.
pub fn pasta(app: &App) -> std::path::PathBuf {
    app.config.data_dir.join("auditoria")
}

/// Appends `entradas` (all of one day) to that day's file, skipping those already there
/// (a crash between the append and the deletion from memory repeats the move), and
/// fsyncs it. Blocking.
fn arquivar_dia(
    dir: &std::path::Path,
    dia: &str,
    entradas: &[Arc<EntradaAuditoria>],
) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{dia}.jsonl"));
    let existia = path.exists();
    let ja: std::collections::HashSet<String> = if existia {
        std::fs::read_to_string(&path)?
            .lines()
            .filter_map(|l| serde_json::from_str::<EntradaAuditoria>(l).ok())
            .map(|e| e.id)
            .collect()
    } else {
        Default::default()
    };
    let mut out = String::new();
    for e in entradas.iter().filter(|e| !ja.contains(&e.id)) {
        out.push_str(&serde_json::to_string(&**e).map_err(std::io::Error::other)?);
        out.push('\n');
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    f.write_all(out.as_bytes())?;
    f.sync_all()?;
    if !existia {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Deletes the daily files of days before `primeiro` (`AAAA-MM-DD`); returns how many.
/// Blocking.
fn reter_arquivos(dir: &std::path::Path, primeiro: &str) -> std::io::Result<usize> {
    let mut n = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for e in rd.flatten() {
        let nome = e.file_name().to_string_lossy().into_owned();
        let Some(dia) = nome.strip_suffix(".jsonl") else {
            continue;
        };
        if crate::domain::parse_date(dia).is_ok() && dia < primeiro {
            std::fs::remove_file(e.path())?;
            n += 1;
        }
    }
    Ok(n)
}

/// Moves at most `max` entries older than [`DIAS_EM_MEMORIA`] from memory to their daily
/// files (written and fsynced before they leave memory), and deletes the daily files past
/// `--auditoria-dias`; returns how many entries moved.
pub async fn arquivar(app: &App, max: usize) -> Result<usize, AppError> {
    let agora = Timestamp::now().as_second();
    let limite = agora.saturating_sub(DIAS_EM_MEMORIA * 86_400);
    let velhas: Vec<Arc<EntradaAuditoria>> = app
        .store
        .read()
        .auditoria
        .iter()
        .take_while(|e| instante(e).is_some_and(|t| t.as_second() < limite))
        .take(max)
        .cloned()
        .collect();
    let dir = pasta(app);
    let dias = i64::try_from(app.config.auditoria_dias).unwrap_or(i64::MAX / 86_400);
    let primeiro = Timestamp::from_second(agora.saturating_sub(dias * 86_400))
        .map(|t| app.clock.stamp_at(t)[..10].to_owned())
        .unwrap_or_default();
    let lote = velhas.clone();
    let dir2 = dir.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut por_dia: std::collections::BTreeMap<String, Vec<Arc<EntradaAuditoria>>> =
            Default::default();
        for e in lote {
            let dia = e.em.get(..10).unwrap_or("0000-00-00").to_owned();
            por_dia.entry(dia).or_default().push(e);
        }
        for (dia, es) in &por_dia {
            arquivar_dia(&dir2, dia, es)?;
        }
        reter_arquivos(&dir2, &primeiro).map(|_| ())
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .map_err(|e| AppError::Internal(format!("audit daily files: {e}")))?;
    if velhas.is_empty() {
        return Ok(0);
    }
    app.write(|db| {
        let ops: Vec<Op> = velhas
            .iter()
            .filter(|e| db.auditoria.get(&e.id).is_some())
            .map(|e| Op::DelAuditoria(e.id.clone()))
            .collect();
        let n = ops.len();
        Ok((ops, n))
    })
    .await
}

/// Whether a write of the request `request_id` is in the audit trail among the entries made
/// in the last `janela` (newest first, in the order they were written, so the scan stops at
/// the first older one), asked while holding the right to append and caught up (with several instances,
/// every append another process made before is then applied). A forwarded write whose
/// answer was lost is looked up this way (SPEC-2 §16). `None`: storage unavailable.
pub async fn feita_pelo_pedido(
    app: &App,
    request_id: &str,
    janela: std::time::Duration,
) -> Option<bool> {
    let _turno = app.store.ready().await.ok()?;
    Some(feita_desde(app, request_id, janela))
}

fn feita_desde(app: &App, request_id: &str, janela: std::time::Duration) -> bool {
    let desde = Timestamp::now()
        .as_millisecond()
        .saturating_sub(i64::try_from(janela.as_millis()).unwrap_or(i64::MAX));
    let db = app.store.read();
    db.auditoria
        .iter()
        .rev()
        .take_while(|e| instante(e).is_none_or(|t| t.as_millisecond() >= desde))
        // A public link's write names its actor before the id (`link público:<id>`).
        .any(|e| {
            e.request_id == request_id
                || e.request_id
                    .strip_suffix(request_id)
                    .is_some_and(|antes| antes.ends_with(':'))
        })
}
