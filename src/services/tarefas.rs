//! Background tasks (SPEC §4): creating them durably, reporting their progress and final
//! state, recovery of unfinished tasks at start, and housekeeping. The worker that runs them
//! sits above the jobs, in [`crate::worker`].

use std::sync::Arc;

use serde::Serialize;

use super::{App, Chamador, Contexto, Escopo, Janela, Recorte, new_id};
use crate::error::AppError;
use crate::infra::queue::Lane;
use crate::models::{Enfileirado, ErroTarefa, StatusTarefa, Tarefa, TipoTarefa};
use crate::repositories::Op;

/// How a task attempt ended, when it did not succeed.
#[derive(Debug)]
pub enum Falha {
    /// A business rejection (slot taken…): fail at once; the handler already recorded it.
    Recusada,
    /// The disk refused a write: retry with backoff.
    Transitoria(String),
}

impl From<AppError> for Falha {
    fn from(e: AppError) -> Self {
        match e {
            // Another leader ended it: nothing to retry here.
            AppError::Conflict {
                code: "tarefa_encerrada",
                ..
            } => Falha::Recusada,
            e => Falha::Transitoria(e.to_string()),
        }
    }
}

/// 409 `tarefa_encerrada` when task `id` already ended: a handler's final write checks it
/// under the write lock, so an instance that lost the leadership while running the task
/// (SPEC-2 §16: paused, cut off) never decides it a second time over the new leader's
/// outcome.
pub fn ainda_aberta(db: &crate::repositories::Db, id: &str) -> Result<(), AppError> {
    if db.tarefas.get(id).is_some_and(|cur| cur.status.is_final()) {
        return Err(AppError::conflict(
            "tarefa_encerrada",
            "A tarefa já terminou em outra instância.",
        ));
    }
    Ok(())
}

/// Finds one task.
pub fn find(app: &App, id: &str) -> Result<Arc<Tarefa>, AppError> {
    let found = app.store.read().tarefas.get(id).cloned();
    found.ok_or_else(|| AppError::not_found("Tarefa"))
}

/// Whether `caller` may see task `t` (SPEC-2 §10): staff every task, a `medico` those
/// about their agenda, a `paciente` those they asked for or about their appointments.
pub fn visivel(t: &Tarefa, caller: &Chamador) -> bool {
    let param = |campo: &str| t.parametros.get(campo).and_then(|v| v.as_str());
    match caller.escopo() {
        Escopo::Tudo => true,
        Escopo::Medico(m) => param("medico_id") == Some(m.as_str()),
        Escopo::Paciente(p) => {
            (t.usuario_id.is_some() && t.usuario_id == caller.usuario_id)
                || param("paciente_id") == Some(p.as_str())
        }
        Escopo::Nada => false,
    }
}

/// One task the caller may see (404 outside, as if it did not exist).
pub fn find_visivel(app: &App, id: &str, caller: &Chamador) -> Result<Arc<Tarefa>, AppError> {
    find(app, id)
        .ok()
        .filter(|t| visivel(t, caller))
        .ok_or_else(|| AppError::not_found("Tarefa"))
}

/// One page of the tasks the caller may see, newest first, of one status and kind when given.
pub fn page(
    app: &App,
    caller: &Chamador,
    status: Option<StatusTarefa>,
    tipo: Option<TipoTarefa>,
    janela: Janela,
) -> Recorte<Tarefa> {
    let db = app.store.read();
    let all = db.tarefas.iter().rev().filter(|t| {
        status.is_none_or(|s| t.status == s)
            && tipo.is_none_or(|k| t.tipo == k)
            && visivel(t, caller)
    });
    janela.recortar(all, None)
}

/// A new `pendente` task (not yet journaled: put it in the same write as what it depends on).
pub fn nova<P: Serialize>(
    tipo: TipoTarefa,
    params: &P,
    criado_em: String,
) -> Result<Arc<Tarefa>, AppError> {
    Ok(Arc::new(Tarefa {
        id: new_id(),
        tipo,
        status: StatusTarefa::Pendente,
        progresso: 0,
        tentativas: 0,
        criado_em,
        iniciado_em: None,
        concluido_em: None,
        resultado: None,
        erro: None,
        parametros: serde_json::to_value(params).map_err(|e| AppError::Internal(e.to_string()))?,
        usuario_id: None,
    }))
}

/// Announces a task's new state (`tarefa_atualizada`).
pub fn announce(app: &App, t: &Tarefa) {
    app.events.publish(
        "tarefa_atualizada",
        &serde_json::json!({"task_id": t.id, "tipo": t.tipo, "status": t.status, "progresso": t.progresso}),
    );
}

/// The worker lane of a task kind: bookings never wait behind backups and reports.
pub fn lane(tipo: TipoTarefa) -> Lane {
    match tipo {
        TipoTarefa::AgendarConsulta | TipoTarefa::AgendarSerie => Lane::Agenda,
        TipoTarefa::Backup | TipoTarefa::GerarRelatorio => Lane::Bulk,
    }
}

/// After a task's journaling: announce it and hand it to its lane's worker.
pub fn accepted(app: &App, t: &Tarefa) {
    tracing::info!(target: "agendamento::tasks", task_id = %t.id, tipo = ?t.tipo, "task accepted");
    announce(app, t);
    // With several instances only the leader runs tasks; it finds this one in the journal.
    if app.lider() {
        app.queue.push(lane(t.tipo), t.id.clone());
    }
}

/// 429 `queue_full` when `--tarefas-fila-max` backups and reports are already waiting or
/// running: bulk work cannot pile up without bound. A backup always finds room while no
/// other backup is unfinished (at most one past the limit), so reports asked for in bulk
/// never keep the clinic's backups out.
fn check_bulk_room(
    db: &crate::repositories::Db,
    max: usize,
    tipo: TipoTarefa,
) -> Result<(), AppError> {
    let mut queued = 0;
    let mut backups = 0;
    for t in db.tarefas.iter() {
        if lane(t.tipo) == Lane::Bulk && !t.status.is_final() {
            queued += 1;
            backups += usize::from(t.tipo == TipoTarefa::Backup);
        }
    }
    if queued < max || (tipo == TipoTarefa::Backup && backups == 0) {
        return Ok(());
    }
    Err(AppError::Busy {
        status: 429,
        code: "queue_full",
        detail: format!(
            "Já há {queued} backups e relatórios na fila (o máximo é {max}); nada foi enfileirado. Tente novamente quando terminarem."
        ),
        retry_after_secs: 10,
    })
}

/// Journals a new task on its own and hands it to the worker (backups, reports); answers
/// `{status, task_id}`; 429 past `--tarefas-fila-max` unfinished ones.
pub async fn enqueue<P: Serialize>(
    app: &App,
    ctx: &Contexto,
    tipo: TipoTarefa,
    params: &P,
    status: &'static str,
) -> Result<Enfileirado, AppError> {
    let t = nova(tipo, params, app.clock.stamp())?;
    let max = app.config.tarefas_fila_max;
    let out = app
        .commit(ctx, |db| {
            check_bulk_room(db, max, tipo)?;
            let reply = Enfileirado {
                status: status.to_owned(),
                task_id: t.id.clone(),
            };
            Ok((vec![Op::PutTarefa(t.clone())], reply))
        })
        .await?;
    accepted(app, &t);
    Ok(out)
}

/// The finished version of a task.
pub fn finished(
    t: &Tarefa,
    now: String,
    resultado: Result<serde_json::Value, ErroTarefa>,
) -> Arc<Tarefa> {
    let mut done = t.clone();
    done.concluido_em = Some(now);
    match resultado {
        Ok(r) => {
            done.status = StatusTarefa::Concluida;
            done.progresso = 100;
            done.resultado = Some(r);
            done.erro = None;
        }
        Err(e) => {
            done.status = StatusTarefa::Falhou;
            done.erro = Some(e);
        }
    }
    Arc::new(done)
}

/// Journals a task's final state and announces it (the end of a backup or report).
pub fn complete(app: &App, rt: &tokio::runtime::Handle, done: Arc<Tarefa>) -> Result<(), Falha> {
    rt.block_on(app.write(|db| {
        ainda_aberta(db, &done.id)?;
        Ok((vec![Op::PutTarefa(done.clone())], ()))
    }))?;
    announce(app, &done);
    Ok(())
}

/// The write of task state `t` (its progress), unless the stored task already ended (see
/// [`ainda_aberta`]).
fn gravar_se_aberta(db: &crate::repositories::Db, t: &Arc<Tarefa>) -> Vec<Op> {
    match ainda_aberta(db, &t.id) {
        Ok(()) => vec![Op::PutTarefa(t.clone())],
        Err(_) => Vec::new(),
    }
}

/// Reports a running task's progress through the task itself (journaled, so
/// `GET /sistema/tasks/{id}` shows it) and `tarefa_atualizada`, every 10 points at most.
pub struct Progresso<'a> {
    app: &'a App,
    rt: &'a tokio::runtime::Handle,
    task: Tarefa,
}

impl<'a> Progresso<'a> {
    /// Starts from the task's current progress.
    pub fn new(app: &'a App, rt: &'a tokio::runtime::Handle, t: &Tarefa) -> Self {
        Self {
            app,
            rt,
            task: t.clone(),
        }
    }

    /// Records `pct` (0..=99; completion is recorded with the result) if it moved enough.
    pub fn report(&mut self, pct: u8) {
        let pct = pct.min(99);
        if pct < self.task.progresso.saturating_add(10) {
            return;
        }
        self.task.progresso = pct;
        let t = Arc::new(self.task.clone());
        // Progress is informative: a refused write only delays the next report.
        if self
            .rt
            .block_on(self.app.write(|db| Ok((gravar_se_aberta(db, &t), ()))))
            .is_ok()
        {
            announce(self.app, &t);
        }
    }
}

/// Re-sends every unfinished task to its lane, oldest first (after a crash or restart).
pub fn recover(app: &App) -> usize {
    let ids: Vec<(Lane, String)> = app
        .store
        .read()
        .tarefas
        .iter()
        .filter(|t| !t.status.is_final())
        .map(|t| (lane(t.tipo), t.id.clone()))
        .collect();
    for (lane, id) in &ids {
        app.queue.push(*lane, id.clone());
    }
    if !ids.is_empty() {
        tracing::info!(target: "agendamento::tasks", count = ids.len(), "unfinished tasks queued again");
    }
    ids.len()
}

/// Finished tasks kept for `GET /sistema/tasks`; older ones are forgotten so a long-running
/// server's memory and snapshots stay bounded.
pub const KEEP_FINISHED: usize = 10_000;

/// The deletions housekeeping makes: finished tasks beyond the newest `keep`, and
/// idempotency answers created before `cutoff` (Unix seconds); at most `batch` of each.
pub fn stale(db: &crate::repositories::Db, keep: usize, cutoff: i64, batch: usize) -> Vec<Op> {
    let old_tasks = db
        .tarefas
        .iter()
        .rev()
        .filter(|t| t.status.is_final())
        .skip(keep)
        .take(batch)
        .map(|t| Op::DelTarefa(t.id.clone()));
    let old_answers = db
        .idem
        .iter()
        .take_while(|e| e.created < cutoff)
        .take(batch)
        .map(|e| Op::DelIdem(e.key.clone()));
    old_tasks.chain(old_answers).collect()
}

/// Forgets the finished tasks beyond the newest [`KEEP_FINISHED`] and the idempotency
/// answers older than 24 h, at most `batch` of each per call. Returns how many went.
pub async fn housekeeping(app: &App, batch: usize) -> Result<usize, AppError> {
    let cutoff = jiff::Timestamp::now().as_second() - super::idempotency::TTL_SECS;
    app.write(|db| {
        let ops = stale(db, KEEP_FINISHED, cutoff, batch);
        let n = ops.len();
        Ok((ops, n))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::store::StoreState;
    use crate::repositories::{Db, IdemEntry};

    fn task(status: StatusTarefa) -> Op {
        let mut t = Tarefa::clone(
            &nova(TipoTarefa::Backup, &(), "2026-01-01T00:00:00-03:00".into()).expect("task"),
        );
        t.status = status;
        Op::PutTarefa(Arc::new(t))
    }

    #[test]
    fn housekeeping_keeps_unfinished_tasks_and_the_newest_finished_ones() {
        let mut db = Db::empty();
        let statuses = [
            StatusTarefa::Concluida,
            StatusTarefa::Pendente,
            StatusTarefa::Falhou,
            StatusTarefa::Concluida,
            StatusTarefa::Executando,
            StatusTarefa::Concluida,
        ];
        let mut ids = Vec::new();
        for s in statuses {
            let op = task(s);
            if let Op::PutTarefa(t) = &op {
                ids.push(t.id.clone());
            }
            db.apply(op);
            std::thread::sleep(std::time::Duration::from_millis(2)); // distinct v7 ids
        }
        for (key, created) in [("velha", 100), ("nova", 200)] {
            db.apply(Op::PutIdem(Arc::new(IdemEntry {
                key: key.into(),
                fingerprint: String::new(),
                status: 201,
                body: "{}".into(),
                created,
            })));
        }
        let ops = stale(&db, 2, 150, 100);
        let gone: Vec<String> = ops
            .iter()
            .map(|op| match op {
                Op::DelTarefa(id) | Op::DelIdem(id) => id.clone(),
                _ => String::new(),
            })
            .collect();
        // Newest two finished (ids[5], ids[3]) stay; unfinished (ids[1], ids[4]) stay.
        assert_eq!(
            gone,
            vec![ids[2].clone(), ids[0].clone(), "velha".to_owned()]
        );
        assert_eq!(stale(&db, 2, 150, 1).len(), 2, "batch bounds each kind");
    }
}
