//! Business rules (SPEC §2): uniqueness, overlaps, status transitions, delete rules.
//! Each write decides under the store's write lock and returns the operations to journal.

pub mod agenda;
pub mod alvo;
pub mod auditoria;
pub mod backup_regras;
pub mod backups;
pub mod bloqueios;
pub mod consultas;
pub mod contexto;
pub mod convenios;
pub mod estatisticas;
pub mod grade;
pub mod horarios;
pub mod idempotency;
pub mod lista_espera;
pub mod medicos;
pub mod metricas;
pub mod pacientes;
pub mod pagamento;
pub mod relatorio_pdf;
pub mod relatorios;
pub mod tarefas;
pub mod tentativas;
pub mod trilha;
pub mod usuarios;

pub mod email;
pub mod historico;
pub mod regras;

pub mod calendario;
pub mod links;
pub mod notificacoes;
pub mod webhooks;

use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::domain::Relogio;
use crate::error::AppError;
use crate::infra::store::Store;
use crate::repositories::{Db, IdemEntry, Op};

pub use contexto::{Chamador, Contexto, Escopo};

/// Which part of a list a request asks for: skip `offset` items, then take at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Janela {
    /// Items skipped first.
    pub offset: usize,
    /// At most this many items.
    pub limit: usize,
}

/// One page of a list, and how many items the whole (filtered) list has.
#[derive(Debug)]
pub struct Recorte<T> {
    /// The page's records.
    pub itens: Vec<Arc<T>>,
    /// Items in the whole filtered list.
    pub total: usize,
}

impl Janela {
    /// The whole list.
    pub const TUDO: Self = Self {
        offset: 0,
        limit: usize::MAX,
    };

    /// Takes the page out of a filtered iterator, cloning only the page's records. With
    /// `total` known (an unfiltered collection) it stops at the end of the page; otherwise
    /// it counts the rest without copying it.
    pub fn recortar<'a, T: 'a>(
        self,
        mut iter: impl Iterator<Item = &'a Arc<T>>,
        total: Option<usize>,
    ) -> Recorte<T> {
        // What was passed over: fewer than `offset` when the offset is past the end.
        let pulados = iter.by_ref().take(self.offset).count();
        let itens: Vec<Arc<T>> = iter.by_ref().take(self.limit).cloned().collect();
        let total = match total {
            Some(t) => t,
            None => pulados + itens.len() + iter.count(),
        };
        Recorte { itens, total }
    }

    /// The page of a list already collected.
    pub fn de<T>(self, all: &[Arc<T>]) -> Recorte<T> {
        self.recortar(all.iter(), Some(all.len()))
    }
}

/// Everything a request needs, shared by all handlers.
pub struct App {
    /// The durable in-memory database.
    pub store: Store<Db>,
    /// The clinic's clock and time zone.
    pub clock: Relogio,
    /// The settings it was started with.
    pub config: Config,
    /// Idempotency keys whose first request is still running.
    pub idem_inflight: parking_lot::Mutex<std::collections::HashSet<String>>,
    /// Live events for SSE subscribers.
    pub events: Arc<crate::infra::events::Broker>,
    /// Recent log lines and their stream.
    pub logs: Arc<crate::infra::logs::LogHub>,
    /// The task queue and its worker thread.
    pub queue: crate::infra::queue::Queue,
    /// Flips to true when shutdown starts, ending open streams.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Recent login attempts, for the limits of SPEC-2 §10.
    pub tentativas: tentativas::Tentativas,
    /// The e-mail sender (SPEC-2 §13), when `--smtp-url` is set.
    pub email: Option<Arc<email::Remetente>>,
    /// The server secret that signs public links (SPEC-2 §13), from the data folder.
    pub segredo: crate::infra::segredo::SegredoServidor,
    /// Wakes the notification delivery worker (SPEC-2 §13).
    pub avisos: Arc<tokio::sync::Notify>,
    /// The task that journals delivery outcomes, once the delivery worker runs: a stop
    /// waits for it, so an attempt that ended records its outcome (an e-mail sent is not
    /// sent again after the restart).
    pub registro_entregas: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Whether this instance runs the task worker and the timers: always with the data
    /// folder; with PostgreSQL, the one instance holding the leadership (SPEC-2 §16).
    pub lider: Arc<std::sync::atomic::AtomicBool>,
    /// The last answer of the storage probe and when it was taken: with PostgreSQL, one
    /// probe at a time and at most one a second, however many health checks arrive.
    pub sonda: tokio::sync::Mutex<Option<(std::time::Instant, bool)>>,
    /// Tasks other instances queued (PostgreSQL), for the leader's worker.
    pub seguidas: parking_lot::Mutex<
        Option<tokio::sync::mpsc::UnboundedReceiver<(crate::infra::queue::Lane, String)>>,
    >,
    /// Where this instance forwards writes: to the leader, with PostgreSQL (SPEC-2 §16).
    pub encaminhamento: crate::infra::encaminhamento::Encaminhamento,
}

/// The cheap-to-clone handle handlers receive through `State`.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// A new record id: UUID v7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl App {
    /// Whether requests must sign in (`--auth on`); off is single-user mode.
    pub fn auth_ligada(&self) -> bool {
        self.config.auth == crate::config::ModoAuth::On
    }

    /// True when the clinic has neither doctors nor patients (a fresh data folder).
    pub fn vazio(&self) -> bool {
        let db = self.store.read();
        db.medicos.is_empty() && db.pacientes.is_empty()
    }

    /// The live answer stored for Idempotency-Key `key` at `now` (Unix seconds), if any.
    pub fn resposta_guardada(&self, key: &str, now: i64) -> Option<Arc<IdemEntry>> {
        let db = self.store.read();
        db.idem
            .get(key)
            .filter(|e| idempotency::live(e, now))
            .cloned()
    }

    /// Whether storage can write now. After a failed write marked it unwritable, a probe
    /// (on a blocking thread) lets the answer recover once the disk does. With several
    /// instances the database is asked (an instance that has not written since it went
    /// away would not know), once at a time and at most once a second: a flood of
    /// unauthenticated health checks cannot take the connections the instance needs to
    /// follow the journal.
    pub async fn gravavel(&self) -> bool {
        if self.store.writable() && !self.store.shared() {
            return true;
        }
        let mut ultima = self.sonda.lock().await;
        if let Some((quando, ok)) = *ultima
            && quando.elapsed() < std::time::Duration::from_secs(1)
        {
            return ok;
        }
        let store = self.store.clone();
        let ok = tokio::task::spawn_blocking(move || store.probe())
            .await
            .unwrap_or(false);
        *ultima = Some((std::time::Instant::now(), ok));
        ok
    }

    /// Opens the data folder and builds the application (blocking: reads the data files).
    pub fn open(config: Config, logs: Arc<crate::infra::logs::LogHub>) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let tz = jiff::tz::TimeZone::get(&config.timezone)
            .with_context(|| format!("fuso horário desconhecido: {}", config.timezone))?;
        for dir in [&config.backup_dir, &config.reports_dir, &config.logs_dir] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("não foi possível criar a pasta {}", dir.display()))?;
        }
        if !config.no_metrics {
            // Once per process; later calls (another App in the same process) reuse it.
            crate::infra::metricas::instalar();
        }
        let (store, segredo) = match &config.database_url {
            Some(url) => {
                let pg = crate::infra::store::pg::PgJournal::<Db>::open(url)?;
                // One secret for every instance: links signed by one open on the others.
                let mut novo = vec![0u8; crate::infra::segredo::TAMANHO];
                getrandom::fill(&mut novo).map_err(|e| anyhow::anyhow!("random: {e}"))?;
                let bytes = pg.segredo(novo).context("o segredo do servidor no banco")?;
                let b = <[u8; crate::infra::segredo::TAMANHO]>::try_from(bytes.as_slice())
                    .map_err(|_| {
                        anyhow::anyhow!("o segredo do servidor no banco está corrompido")
                    })?;
                let store = Store::<Db>::with_journal(Box::new(pg), config.compact_every)?;
                (store, crate::infra::segredo::SegredoServidor::de_bytes(b))
            }
            None => {
                let store = Store::<Db>::open(&config.data_dir, config.compact_every)?;
                // With the data folder's lock held: one instance creates the secret.
                let segredo =
                    crate::infra::segredo::SegredoServidor::carregar_ou_criar(&config.data_dir)?;
                (store, segredo)
            }
        };
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "não foi possível criar a pasta {}",
                config.data_dir.display()
            )
        })?;
        // Only once the data folder's lock is ours: another running instance may be writing
        // them. With a shared journal there is no such lock and other instances may share
        // the folders: only files left untouched for an hour go.
        crate::infra::arquivos::varrer_temporarios(
            &config.backup_dir,
            &config.reports_dir,
            store
                .shared()
                .then_some(std::time::Duration::from_secs(3600)),
        );
        let email = email::Remetente::da_config(&config)
            .map_err(|e| anyhow::anyhow!("e-mail: {e}"))?
            .map(Arc::new);
        let lider = Arc::new(std::sync::atomic::AtomicBool::new(!store.shared()));
        Ok(Self {
            store,
            clock: Relogio::new(tz),
            config,
            idem_inflight: Default::default(),
            events: Arc::new(crate::infra::events::Broker::new()),
            logs,
            queue: crate::infra::queue::Queue::new(),
            shutdown: tokio::sync::watch::Sender::new(false),
            tentativas: Default::default(),
            email,
            avisos: Default::default(),
            registro_entregas: Default::default(),
            lider,
            sonda: Default::default(),
            seguidas: parking_lot::Mutex::new(None),
            encaminhamento: crate::infra::encaminhamento::Encaminhamento::new(),
            segredo,
        })
    }

    /// Whether the data lives in PostgreSQL, shared with other instances (SPEC-2 §16).
    pub fn compartilhado(&self) -> bool {
        self.store.shared()
    }

    /// The journal position this instance has applied (SPEC-2 §16 `x-posicao`).
    pub fn posicao(&self) -> u64 {
        self.store.position()
    }

    /// Waits up to `timeout` for this instance to have applied position `n`.
    pub async fn alcancar(&self, n: u64, timeout: std::time::Duration) -> bool {
        self.store.wait_position(n, timeout).await
    }

    /// The newest agenda event id this instance has: its journal position with a shared
    /// journal (SPEC-2 §16: event ids are positions), else the broker's newest id.
    pub fn evento_mais_recente(&self) -> u64 {
        if self.store.shared() {
            self.store.applied_seq()
        } else {
            self.events.newest_id()
        }
    }

    /// Whether this instance runs the task worker and the timers (SPEC-2 §16).
    pub fn lider(&self) -> bool {
        self.lider.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Runs a write through the store, without idempotency bookkeeping (the worker's writes).
    pub async fn write<T>(
        &self,
        decide: impl FnOnce(&Db) -> Result<(Vec<Op>, T), AppError>,
    ) -> Result<T, AppError> {
        self.store.write(decide).await
    }

    /// Runs a write whose result is the response body, see [`App::commit_reply`].
    pub async fn commit<T: Serialize>(
        &self,
        ctx: &Contexto,
        decide: impl FnOnce(&Db) -> Result<(Vec<Op>, T), AppError>,
    ) -> Result<T, AppError> {
        self.commit_reply(ctx, decide, |t| t).await
    }

    /// Runs a write through the store. When the request carries an `Idempotency-Key` and
    /// changes something, the answer (`ctx.status` + `reply(out)` as JSON) is journaled in the
    /// same entry as the change, so a crash can never keep one without the other; the same
    /// entry forgets a few expired answers, and past `--idempotencia-max` live answers the
    /// request is refused (429) before anything changes.
    pub async fn commit_reply<T, R: Serialize>(
        &self,
        ctx: &Contexto,
        decide: impl FnOnce(&Db) -> Result<(Vec<Op>, T), AppError>,
        reply: impl FnOnce(&T) -> &R,
    ) -> Result<T, AppError> {
        let ctx_req = ctx;
        let idem = ctx.idempotencia.as_ref();
        let status = ctx.status;
        let max = self.config.idempotencia_max;
        self.store
            .write(|db| {
                // The key's answer may have been stored since the request was let in: by
                // another instance (the middleware looked at this one's state, which may
                // have been behind), or before a restart. The newest state says so before
                // the business rules would answer the repeat as a conflict with itself
                // (a duplicate CPF, a taken slot): the retry then gets the stored answer.
                if let Some(ctx) = idem {
                    let now = jiff::Timestamp::now().as_second();
                    if let Some(e) = db.idem.get(&ctx.key).filter(|e| idempotency::live(e, now)) {
                        return Err(if e.fingerprint == ctx.fingerprint {
                            idempotency::in_progress()
                        } else {
                            idempotency::reused()
                        });
                    }
                }
                let (mut ops, out) = decide(db)?;
                // An appointment's history travels with its change too (SPEC-2 §11).
                let usuario = ctx_req
                    .chamador
                    .as_ref()
                    .and_then(|c| c.usuario_id.as_deref());
                let hist = historico::derivar(db, &ops, &self.clock.stamp(), usuario);
                ops.extend(hist);
                // The audit entry travels in the same journal entry as the change (SPEC-2 §10).
                // (The `bench-sem-trilha` feature, for the benchmark's comparison build only,
                // leaves it out to measure what it costs.)
                if !cfg!(feature = "bench-sem-trilha")
                    && let Some((acao, recurso, id)) = trilha::da_escrita(db, &ops)
                {
                    let e = trilha::registro(self.clock.stamp(), ctx_req, acao, recurso, Some(id));
                    ops.push(Op::PutAuditoria(e));
                }
                // A request that changed nothing keeps no answer: nothing to protect from a
                // second run, and neither memory nor the journal grows with such requests.
                if let Some(ctx) = idem.filter(|_| !ops.is_empty()) {
                    // (A live answer for the key was refused above; an expired one is
                    // replaced: the key runs again as a new request.)
                    let now = jiff::Timestamp::now().as_second();
                    let prune = idempotency::expired(db, now);
                    idempotency::check_room(db, max, prune.len(), now)?;
                    let body = serde_json::to_string(reply(&out))
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    ops.extend(prune);
                    ops.push(Op::PutIdem(Arc::new(IdemEntry {
                        key: ctx.key.clone(),
                        fingerprint: ctx.fingerprint.clone(),
                        status,
                        body,
                        created: now,
                    })));
                }
                Ok((ops, out))
            })
            .await
    }
}
