//! Background tasks (SPEC §4): creating them durably, the worker's runner with retries and
//! exponential backoff for transient failures, and recovery of unfinished tasks at start.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde::Serialize;

use super::{App, agenda, new_id};
use crate::error::AppError;
use crate::infra::queue::{Lane, Runner};
use crate::models::{ErroTarefa, StatusTarefa, Tarefa, TipoTarefa};
use crate::repositories::Op;

/// Attempts before a transient failure becomes final.
pub const MAX_ATTEMPTS: u32 = 3;
/// First retry delay; doubles on each further attempt.
pub const BACKOFF: Duration = Duration::from_millis(200);

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
        Falha::Transitoria(e.to_string())
    }
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
        TipoTarefa::AgendarConsulta => Lane::Agenda,
        TipoTarefa::Backup | TipoTarefa::GerarRelatorio => Lane::Bulk,
    }
}

/// After a task's journaling: announce it and hand it to its lane's worker.
pub fn accepted(app: &App, t: &Tarefa) {
    tracing::info!(target: "agendamento::tasks", task_id = %t.id, tipo = ?t.tipo, "task accepted");
    announce(app, t);
    app.queue.push(lane(t.tipo), t.id.clone());
}

/// 429 `queue_full` when `--tarefas-fila-max` backups and reports are already waiting or
/// running: bulk work cannot pile up without bound.
fn check_bulk_room(db: &crate::repositories::Db, max: usize) -> Result<(), AppError> {
    let queued = db
        .tarefas
        .iter()
        .filter(|t| lane(t.tipo) == Lane::Bulk && !t.status.is_final())
        .count();
    if queued < max {
        return Ok(());
    }
    Err(AppError::Busy {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "queue_full",
        detail: format!(
            "Já há {queued} backups e relatórios na fila (o máximo é {max}); nada foi enfileirado. Tente novamente quando terminarem."
        ),
        retry_after_secs: 10,
    })
}

/// Journals a new task on its own and hands it to the worker (backups, reports); 429 past
/// `--tarefas-fila-max` unfinished ones.
pub async fn enqueue<P: Serialize>(
    app: &App,
    tipo: TipoTarefa,
    params: &P,
    reply: impl Fn(&Tarefa) -> serde_json::Value,
) -> Result<serde_json::Value, AppError> {
    let t = nova(tipo, params, app.clock.stamp())?;
    let max = app.config.tarefas_fila_max;
    let out = app
        .commit(StatusCode::ACCEPTED, |db| {
            check_bulk_room(db, max)?;
            Ok((vec![Op::PutTarefa(t.clone())], reply(&t)))
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
    rt.block_on(app.write(|_| Ok((vec![Op::PutTarefa(done.clone())], ()))))?;
    announce(app, &done);
    Ok(())
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
            .block_on(self.app.write(|_| Ok((vec![Op::PutTarefa(t.clone())], ()))))
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

/// The worker's runner: owns the retry loop; each task kind's handler does the work and
/// journals the final state together with its effect.
pub struct Worker {
    /// The application (store, events, queue).
    pub app: Arc<App>,
    /// The runtime the store's async writes run on.
    pub rt: tokio::runtime::Handle,
}

impl Worker {
    fn set(&self, t: Arc<Tarefa>) -> Result<Arc<Tarefa>, AppError> {
        let out = self
            .rt
            .block_on(self.app.write(|_| Ok((vec![Op::PutTarefa(t.clone())], ()))));
        out.map(|()| {
            announce(&self.app, &t);
            t
        })
    }

    /// The task as it starts an attempt.
    fn starting(&self, t: &Tarefa) -> Arc<Tarefa> {
        let mut running = t.clone();
        running.status = StatusTarefa::Executando;
        running.tentativas += 1;
        running.iniciado_em = Some(self.app.clock.stamp());
        Arc::new(running)
    }

    fn attempt(&self, t: &Tarefa) -> Result<(), Falha> {
        match t.tipo {
            TipoTarefa::AgendarConsulta => agenda::executar(&self.app, &self.rt, t),
            TipoTarefa::Backup => super::backups::executar(&self.app, &self.rt, t),
            TipoTarefa::GerarRelatorio => super::relatorios::executar(&self.app, &self.rt, t),
        }
    }
}

impl Runner for Worker {
    fn run(&self, task_id: &str) {
        loop {
            let Some(t) = self.app.store.read().tarefas.get(task_id).cloned() else {
                return;
            };
            if t.status.is_final() {
                return;
            }
            let running = match self.set(self.starting(&t)) {
                Ok(r) => r,
                Err(e) => {
                    // Not even the start could be journaled: the task stays as it was on disk
                    // and runs again after the next start; wait before the next attempt.
                    tracing::error!(target: "agendamento::tasks", task_id, error = %e, "could not start task");
                    std::thread::sleep(BACKOFF);
                    return;
                }
            };
            match self.attempt(&running) {
                Ok(()) | Err(Falha::Recusada) => return,
                Err(Falha::Transitoria(msg)) => {
                    tracing::warn!(target: "agendamento::tasks", task_id, attempt = running.tentativas, error = %msg, "task attempt failed");
                    if running.tentativas >= MAX_ATTEMPTS {
                        let e = ErroTarefa {
                            code: "falha_transitoria".into(),
                            detail: format!(
                                "A tarefa falhou após {} tentativas: erro de armazenamento.",
                                running.tentativas
                            ),
                        };
                        let _ = self.set(finished(&running, self.app.clock.stamp(), Err(e)));
                        return;
                    }
                    std::thread::sleep(BACKOFF * 2u32.pow(running.tentativas - 1));
                }
            }
        }
    }

    /// Bookings already queued are decided back to back without waiting for each one's
    /// fsync: each decision sees the previous ones in memory, and all of them reach the disk
    /// in one or a few group commits. Nothing is announced before it is durable; a write the
    /// disk refuses is undone with everything after it, and those tasks run again one by one.
    fn run_batch(&self, task_ids: &[String]) {
        let minutes = self.app.config.slot_minutes;
        let mut pipeline = Vec::new();
        let mut one_by_one = Vec::new();
        for id in task_ids {
            let Some(t) = self.app.store.read().tarefas.get(id).cloned() else {
                continue;
            };
            if t.status.is_final() {
                continue;
            }
            if t.tipo != TipoTarefa::AgendarConsulta {
                one_by_one.push(id.clone());
                continue;
            }
            let running = self.starting(&t);
            let started = self
                .app
                .store
                .submit::<_, AppError>(|_| Ok((vec![Op::PutTarefa(running.clone())], ())));
            let Ok((started, ())) = started else {
                one_by_one.push(id.clone());
                continue;
            };
            let agora = self.app.clock.stamp();
            match self.app.store.submit::<_, AppError>(|db| {
                Ok(agenda::decidir(
                    db,
                    &running,
                    minutes,
                    &agora,
                    self.app.clock.tz(),
                ))
            }) {
                Ok((decided, d)) => pipeline.push((id.clone(), running, started, decided, d)),
                Err(_) => {
                    let _ = self.rt.block_on(started.durable());
                    one_by_one.push(id.clone());
                }
            }
        }
        for (id, running, started, decided, d) in pipeline {
            let durable = self
                .rt
                .block_on(async { started.durable().await.and(decided.durable().await) });
            match durable {
                Ok(()) => {
                    announce(&self.app, &running);
                    let _ = agenda::anunciar(&self.app, d);
                }
                Err(e) => {
                    tracing::warn!(target: "agendamento::tasks", task_id = %id, error = %e, "batched attempt refused by storage; retrying alone");
                    one_by_one.push(id);
                }
            }
        }
        for id in one_by_one {
            self.run(&id);
        }
    }

    fn panicked(&self, task_id: &str, _message: &str) {
        // Bind first: a read guard living through the body would deadlock `set`'s write.
        let current = self.app.store.read().tarefas.get(task_id).cloned();
        if let Some(t) = current.filter(|t| !t.status.is_final()) {
            let e = ErroTarefa {
                code: "erro_interno".into(),
                detail: "Erro interno ao executar a tarefa.".into(),
            };
            let _ = self.set(finished(&t, self.app.clock.stamp(), Err(e)));
        }
    }
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
