//! The worker's runner (SPEC §4): takes a queued task, marks it running, dispatches it to
//! its job (`services::agenda`, `services::backups`, `services::relatorios`), retries
//! transient failures with exponential backoff and records the final state. It sits above
//! the jobs it runs: services never import it.

use std::sync::Arc;
use std::time::Duration;

use crate::error::AppError;
use crate::infra::metricas;
use crate::infra::queue::Runner;
use crate::models::{ErroTarefa, StatusTarefa, Tarefa, TipoTarefa};
use crate::repositories::Op;
use crate::services::tarefas::{Falha, announce, finished};
use crate::services::{App, agenda, backups, relatorios};

/// Attempts before a transient failure becomes final.
pub const MAX_ATTEMPTS: u32 = 3;
/// First retry delay; doubles on each further attempt.
pub const BACKOFF: Duration = Duration::from_millis(200);

/// The worker's runner: owns the retry loop; each task kind's handler does the work and
/// journals the final state together with its effect.
pub struct Worker {
    /// The application (store, events, queue).
    pub app: Arc<App>,
    /// The runtime the store's async writes run on.
    pub rt: tokio::runtime::Handle,
}

impl Worker {
    /// Journals task state `t`; 409 when the stored task already ended (another leader
    /// finished it while this instance was cut off): the caller re-reads it and stops.
    fn set(&self, t: Arc<Tarefa>) -> Result<Arc<Tarefa>, AppError> {
        let out = self.rt.block_on(self.app.write(|db| {
            crate::services::tarefas::ainda_aberta(db, &t.id)?;
            Ok((vec![Op::PutTarefa(t.clone())], ()))
        }));
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
            TipoTarefa::Backup => backups::executar(&self.app, &self.rt, t),
            TipoTarefa::GerarRelatorio => relatorios::executar(&self.app, &self.rt, t),
            TipoTarefa::AgendarSerie => agenda::executar_serie(&self.app, &self.rt, t),
        }
    }
}

impl Worker {
    /// Records a task that reached its final state since `started`: its duration by kind and
    /// status, and for a booking its outcome (`agendada` or the failure's code).
    fn record_final(&self, task_id: &str, started: std::time::Instant) {
        let Some(t) = self.app.store.read().tarefas.get(task_id).cloned() else {
            return;
        };
        if !t.status.is_final() {
            return;
        }
        let tipo = t.tipo.as_str();
        let status = if t.status == StatusTarefa::Concluida {
            "concluida"
        } else {
            "falhou"
        };
        metrics::histogram!(metricas::TASK_DURATION, "tipo" => tipo, "status" => status)
            .record(started.elapsed().as_secs_f64());
        // Both booking tasks: one appointment, or a whole series (SPEC-2 §11).
        if matches!(
            t.tipo,
            TipoTarefa::AgendarConsulta | TipoTarefa::AgendarSerie
        ) {
            let outcome = match &t.erro {
                None => "agendada".to_owned(),
                Some(e) => e.code.clone(),
            };
            metrics::counter!(metricas::BOOKINGS, "outcome" => outcome).increment(1);
        }
    }

    fn run_one(&self, task_id: &str) {
        let started = std::time::Instant::now();
        let was_final = self
            .app
            .store
            .read()
            .tarefas
            .get(task_id)
            .is_none_or(|t| t.status.is_final());
        self.run_attempts(task_id);
        if !was_final {
            self.record_final(task_id, started);
        }
    }

    fn run_attempts(&self, task_id: &str) {
        // Failed starts in a row: the pause after each doubles, up to 5 s.
        let mut sem_inicio = 0u32;
        loop {
            // An instance that lost the leadership (SPEC-2 §16) starts nothing more: the new
            // leader queued every unfinished task again and runs it.
            if !self.app.lider() || *self.app.shutdown.borrow() {
                return;
            }
            let Some(t) = self.app.store.read().tarefas.get(task_id).cloned() else {
                return;
            };
            if t.status.is_final() {
                return;
            }
            let running = match self.set(self.starting(&t)) {
                Ok(r) => r,
                // Another leader ended it meanwhile: nothing to start, nothing wrong.
                Err(AppError::Conflict {
                    code: "tarefa_encerrada",
                    ..
                }) => return,
                Err(e) => {
                    // Not even the start could be journaled (storage refused or unreachable):
                    // the task stays as it was and is tried again after a pause, until
                    // storage answers, the leadership moves or the server stops. Giving up
                    // here left an accepted (202) booking pending until the next restart.
                    tracing::error!(target: "agendamento::tasks", task_id, error = %e, "could not start task; will retry");
                    std::thread::sleep(
                        (BACKOFF * 2u32.pow(sem_inicio.min(5))).min(Duration::from_secs(5)),
                    );
                    sem_inicio += 1;
                    continue;
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
                            conflitos: Vec::new(),
                        };
                        let _ = self.set(finished(&running, self.app.clock.stamp(), Err(e)));
                        return;
                    }
                    std::thread::sleep(BACKOFF * 2u32.pow(running.tentativas - 1));
                }
            }
        }
    }
}

impl Runner for Worker {
    fn run(&self, task_id: &str) {
        self.run_one(task_id);
    }

    /// Bookings already queued are decided back to back without waiting for each one's
    /// fsync: each decision sees the previous ones in memory, and all of them reach the disk
    /// in one or a few group commits. Nothing is announced before it is durable; a write the
    /// disk refuses is undone with everything after it, and those tasks run again one by one.
    fn run_batch(&self, task_ids: &[String]) {
        // See `run_attempts`: after losing the leadership, nothing more starts here.
        if !self.app.lider() {
            return;
        }
        let started_at = std::time::Instant::now();
        let minutes = self.app.config.slot_minutes;
        // With several instances, the right to write is taken once for the whole batch.
        let turn = if self.app.store.shared() {
            self.rt.block_on(self.app.store.ready()).ok()
        } else {
            None
        };
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
            // The start and the decision are one journal entry: the final record carries the
            // attempt (a crash before it leaves the task pending, and it runs again).
            let running = self.starting(&t);
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
                Ok((decided, d)) => pipeline.push((id.clone(), running, decided, d)),
                Err(_) => one_by_one.push(id.clone()),
            }
        }
        drop(turn);
        for (id, running, decided, d) in pipeline {
            let durable = self.rt.block_on(decided.durable());
            match durable {
                Ok(()) => {
                    announce(&self.app, &running);
                    let _ = agenda::announce(&self.app, &self.rt, d);
                    self.record_final(&id, started_at);
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
                conflitos: Vec::new(),
            };
            let _ = self.set(finished(&t, self.app.clock.stamp(), Err(e)));
        }
    }
}
