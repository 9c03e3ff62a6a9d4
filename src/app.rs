//! Start-up and shutdown: open the store, build the router with its middleware, serve,
//! and on SIGINT/SIGTERM stop accepting, drain, flush and exit (STYLE 11).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use tokio::net::TcpListener;
use tower::Layer as _;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::config::Config;
use crate::controllers::middleware;
use crate::infra::logs::LogHub;
use crate::infra::server::{self, Limits};
use crate::services::{App, AppState};

/// Opens the data folder and builds the shared state (blocking: reads the data files).
pub fn open_state(config: Config, logs: Arc<LogHub>) -> anyhow::Result<AppState> {
    let app = App::open(config, logs)?;
    // What every write carries beside its own operations, installed here before anything
    // writes, so no path can write without it: the waiting-list offers whose hold it takes
    // away go back in line (SPEC-2 §10–§11), and the notifications it causes (SPEC-2 §13).
    let notificar = crate::services::notificacoes::derivacao(
        app.clock.clone(),
        app.avisos.clone(),
        app.email.is_some(),
    );
    let clock = app.clock.clone();
    app.store.set_derive(Box::new(move |db, ops| {
        let agora = jiff::Timestamp::now();
        let em = clock.stamp_at(agora);
        let mut out = crate::services::lista_espera::ofertas_retiradas(db, ops, agora, &em);
        out.extend(notificar(db, ops, agora, &em));
        out
    }));
    if app.store.shared() {
        seguir_o_banco(&app);
    }
    Ok(AppState(Arc::new(app)))
}

/// With several instances (SPEC-2 §16): events go through the journal and every instance
/// publishes them with their position as the id; tasks and notifications other instances
/// write reach this one's worker when it leads.
fn seguir_o_banco(app: &crate::services::App) {
    use crate::infra::store::Hooks;
    use crate::repositories::Op;
    let store = app.store.clone();
    app.events
        .set_sink(Box::new(move |line| store.queue_event(line)));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    *app.seguidas.lock() = Some(rx);
    let events = app.events.clone();
    let avisos = app.avisos.clone();
    let recarga = app.avisos.clone();
    let tarefas = tx.clone();
    app.store.set_hooks(Hooks {
        event: Box::new(move |seq, line| events.publish_at(seq, line)),
        followed: Box::new(move |db, ops| {
            for op in ops {
                match op {
                    Op::PutTarefa(t) if !t.status.is_final() && db.tarefas.get(&t.id).is_none() => {
                        let _ = tx.send((crate::services::tarefas::lane(t.tipo), t.id.clone()));
                    }
                    Op::PutNotificacao(_) => avisos.notify_one(),
                    _ => {}
                }
            }
        }),
        // A reload skips the entries in between: the tasks they queued are found in the state.
        reloaded: Box::new(move |db| {
            for t in db.tarefas.iter() {
                if t.status == crate::models::StatusTarefa::Pendente {
                    let _ = tarefas.send((crate::services::tarefas::lane(t.tipo), t.id.clone()));
                }
            }
            recarga.notify_one();
        }),
    });
}

/// Keeps (or takes over) the leadership every second; the new leader queues every
/// unfinished task again, and runs the tasks other instances queue meanwhile.
async fn liderar_sempre(state: AppState) {
    let mut stop = state.shutdown.subscribe();
    let mut seguidas = state.seguidas.lock().take();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When this instance, leading, last told the others where to forward their writes.
    let mut anunciado = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let store = state.store.clone();
                let lider = tokio::task::spawn_blocking(move || store.lead()).await.unwrap_or(false);
                anunciado = encaminhar_ao_lider(&state, lider, anunciado).await;
                let antes = state.lider.swap(lider, std::sync::atomic::Ordering::AcqRel);
                if lider && !antes {
                    tracing::info!(target: "agendamento", "this instance leads: it runs the tasks and the timers");
                    crate::services::tarefas::recover(&state);
                    state.avisos.notify_one();
                } else if !lider && antes {
                    tracing::warn!(target: "agendamento", "leadership lost: tasks and timers stop here");
                }
            }
            Some((lane, id)) = async {
                match seguidas.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if state.lider() {
                    state.queue.push(lane, id);
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// One leadership tick of write forwarding (SPEC-2 §16): the leader announces its address
/// at a new leadership and every 10 s after (its leadership session may have been replaced
/// meanwhile; returns when it last did), every other instance reads where to forward its
/// writes.
async fn encaminhar_ao_lider(
    state: &AppState,
    lider: bool,
    anunciado: Option<std::time::Instant>,
) -> Option<std::time::Instant> {
    let store = state.store.clone();
    if lider {
        state.encaminhamento.definir_lider(None);
        if anunciado.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return anunciado;
        }
        let proprio = state.encaminhamento.proprio().map(str::to_owned);
        let maquina = state.encaminhamento.maquina().to_owned();
        let feito = tokio::task::spawn_blocking(move || {
            store.announce_leader(proprio.as_deref(), &maquina)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r);
        if let Err(e) = &feito {
            tracing::warn!(target: "agendamento::store", error = %e, "could not announce where the other instances forward their writes; trying again in a second");
        }
        return feito.ok().map(|()| std::time::Instant::now());
    }
    match tokio::task::spawn_blocking(move || store.leader_address()).await {
        Ok(Ok(anunciado)) => state.encaminhamento.definir_lider(anunciado),
        // Unknown: writes are made here until the database answers again.
        _ => state.encaminhamento.definir_lider(None),
    }
    None
}

fn cors(config: &Config) -> CorsLayer {
    let origins = config.cors_origins.trim();
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(Any)
        .expose_headers([
            HeaderName::from_static("x-total-count"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotent-replayed"),
            HeaderName::from_static(middleware::POSICAO),
        ])
        .max_age(Duration::from_secs(3600));
    if origins == "*" || origins.is_empty() {
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins
            .split(',')
            .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

/// The production router with every middleware: what `serve` runs and tests exercise.
pub fn build_router(state: AppState) -> Router {
    let config = state.config.clone();
    crate::router::router(state.clone())
        .fallback(middleware::fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::idempotency,
        ))
        // Outside the idempotency layer: a stored answer is replayed only to a signed-in caller.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::controllers::auth::autenticar,
        ))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(axum::middleware::from_fn(middleware::method_not_allowed))
        // Outside sign-in and idempotency (the leader does both for a forwarded write),
        // inside the timeout.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::controllers::encaminhar::encaminhar,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Duration::from_secs(config.request_timeout_secs.max(1)),
            middleware::timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::posicao,
        ))
        .layer(cors(&config))
        .layer(axum::middleware::from_fn(middleware::request_id_and_panics))
}

/// Why the server must not start: `--auth off` on a non-loopback address without
/// `--inseguro-sem-auth` (SPEC-2 §10).
pub fn recusa_sem_auth(config: &Config) -> Option<String> {
    let aberto = !config.addr.ip().is_loopback();
    (config.auth == crate::config::ModoAuth::Off && aberto && !config.inseguro_sem_auth).then(|| {
        format!(
            "recusado: --auth off (modo de usuário único, sem login) em {}, um endereço fora desta máquina, \
             deixaria qualquer pessoa da rede ler e alterar dados de pacientes. Use --auth on, \
             escute em 127.0.0.1, ou confirme com --inseguro-sem-auth.",
            config.addr
        )
    })
}

/// `agendamento usuarios criar-admin`: opens the data folder (refused while a server holds
/// its lock), creates the administrator and closes the store.
pub async fn criar_admin(
    config: Config,
    email: String,
    nome: String,
    senha: String,
) -> anyhow::Result<()> {
    let logs = Arc::new(LogHub::new(jiff::tz::TimeZone::UTC));
    let state = tokio::task::spawn_blocking(move || open_state(config, logs)).await??;
    let u = crate::services::usuarios::criar_admin(&state, &email, &nome, senha)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.problema().detail))?;
    println!("administrador criado: {}", u.id);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.close())
        .await?
        .context("não foi possível gravar os dados")?;
    Ok(())
}

/// `agendamento importar`: copies the data folder into the empty database of
/// `--database-url` (SPEC-2 §16), with the server secret, so links already sent keep working.
pub fn importar(config: &Config) -> anyhow::Result<String> {
    use crate::infra::store::{Store, pg::PgJournal};
    use crate::repositories::{Collection, Db};
    let url = config
        .database_url
        .as_deref()
        .context("importar precisa de --database-url (ou AGENDAMENTO_DATABASE_URL)")?;
    if !config.data_dir.join("journal.jsonl").exists()
        && !Collection::ALL
            .iter()
            .any(|c| config.data_dir.join(format!("{}.json", c.name())).exists())
    {
        anyhow::bail!(
            "a pasta {} não tem dados do Agendamento",
            config.data_dir.display()
        );
    }
    let store = Store::<Db>::open(&config.data_dir, config.compact_every)?;
    let (seq, snap, registros) =
        store.snapshot_all(|db| Collection::ALL.iter().map(|c| db.count(*c)).sum::<usize>());
    let pg = PgJournal::<Db>::open(url)?;
    let segredo = crate::infra::segredo::SegredoServidor::carregar_ou_criar(&config.data_dir)?;
    pg.import(seq, &snap).with_context(|| {
        format!(
            "não foi possível importar para {} (o banco precisa estar vazio)",
            crate::infra::store::pg::without_password(url)
        )
    })?;
    // The data folder's secret signed the links its patients hold: it replaces one that
    // instances started on the empty database created meanwhile.
    let trocado = pg
        .trocar_segredo(segredo.bytes().to_vec())
        .context("o segredo do servidor")?;
    store
        .close()
        .context("não foi possível fechar a pasta de dados")?;
    let aviso = if trocado {
        "; o segredo dos links públicos foi substituído pelo da pasta de dados: reinicie as instâncias que já estavam rodando"
    } else {
        ""
    };
    Ok(format!(
        "importados {registros} registros de {} (posição {}){aviso}",
        config.data_dir.display(),
        seq.max(1)
    ))
}

/// Releases lapsed holds (SPEC §3) a few times a second until shutdown.
async fn expire_holds_forever(state: AppState) {
    let mut stop = state.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if !state.lider() {
                    continue;
                }
                if let Err(e) = crate::services::agenda::expire_holds(&state).await {
                    tracing::warn!(target: "agendamento::agenda", error = %e, "could not release lapsed holds; will retry");
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Rows removed or moved per write by housekeeping.
const LOTE_LIMPEZA: usize = 5_000;

/// Runs `passo` (one write of at most [`LOTE_LIMPEZA`]) until a batch comes back short, so
/// pruning keeps up with any rate; how many went in all.
async fn em_lotes<F, Fut>(mut passo: F) -> Result<usize, crate::error::AppError>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<usize, crate::error::AppError>>,
{
    let mut total = 0;
    loop {
        let n = passo(LOTE_LIMPEZA).await?;
        total += n;
        if n < LOTE_LIMPEZA {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Every minute (on the leader), bounds memory: forgets old finished tasks, expired
/// idempotency answers and finished notifications past `--notificacoes-dias`, and moves old
/// audit entries to their daily files; and brings the reminders of the appointments ahead
/// in line with the clinic's rules, webhooks and addresses.
async fn housekeeping_forever(state: AppState) {
    use crate::services::{auditoria, notificacoes, tarefas};
    let mut stop = state.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if !state.lider() {
                    continue;
                }
                match em_lotes(|max| tarefas::housekeeping(&state, max)).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(target: "agendamento::tasks", removed, "old tasks and idempotency answers forgotten"),
                    Err(e) => tracing::warn!(target: "agendamento::tasks", error = %e, "housekeeping failed; will retry"),
                }
                match em_lotes(|max| notificacoes::esquecer(&state, max)).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(target: "agendamento::notificacoes", removed, "old finished notifications forgotten"),
                    Err(e) => tracing::warn!(target: "agendamento::notificacoes", error = %e, "notification retention failed; will retry"),
                }
                let inicio = std::time::Instant::now();
                match notificacoes::acertar_lembretes(&state).await {
                    Ok(0) => {}
                    Ok(consultas) => tracing::info!(target: "agendamento::notificacoes", consultas, ms = inicio.elapsed().as_millis() as u64, "reminders brought in line with the clinic's rules, webhooks and addresses"),
                    Err(e) => tracing::warn!(target: "agendamento::notificacoes", error = %e, "reminders not brought in line; will retry"),
                }
                // Files past `--auditoria-dias` are deleted on the way.
                match em_lotes(|max| auditoria::arquivar(&state, max)).await {
                    Ok(0) => {}
                    Ok(moved) => tracing::info!(target: "agendamento::auditoria", moved, "audit entries moved to their daily files"),
                    Err(e) => tracing::warn!(target: "agendamento::auditoria", error = %e, "audit retention failed; will retry"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Every 5 s, the exporter's upkeep (drains histogram samples into their buckets so memory
/// stays bounded between scrapes), as `metrics-exporter-prometheus` asks of its caller.
async fn metrics_upkeep(
    state: AppState,
    handle: &'static metrics_exporter_prometheus::PrometheusHandle,
) {
    let mut stop = state.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => handle.run_upkeep(),
            _ = stop.changed() => return,
        }
    }
}

/// Queues an automatic backup every `--backup-interval-secs`, the first one when that much
/// has passed since the newest automatic backup (`backups::primeira_espera`); retention of
/// the newest `--backup-keep` automatic backups runs after each.
async fn automatic_backups(state: AppState) {
    let mut stop = state.shutdown.subscribe();
    let every = Duration::from_secs(state.config.backup_interval_secs);
    let dir = state.config.backup_dir.clone();
    let primeira = tokio::task::spawn_blocking(move || {
        crate::services::backups::primeira_espera(&dir, every, jiff::Timestamp::now())
    })
    .await
    .unwrap_or(every);
    let mut proxima = tokio::time::Instant::now() + primeira;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(proxima) => {
                if !state.lider() {
                    // Not leading (yet: on PostgreSQL leadership comes a moment after the
                    // start): look again in a minute rather than a whole interval later.
                    proxima = tokio::time::Instant::now() + every.min(Duration::from_secs(60));
                    continue;
                }
                proxima = tokio::time::Instant::now() + every;
                if let Err(e) = crate::services::backups::solicitar(
                    &state,
                    &crate::services::Contexto::interno("backup_automatico"),
                    "automatico",
                ).await {
                    tracing::warn!(target: "agendamento::backup", error = %e, "could not queue the automatic backup");
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!(target: "agendamento", "shutdown requested; draining");
}

/// Runs the server until SIGINT/SIGTERM: opens the store, binds, loads demo data into an
/// empty store, prints `listening on http://HOST:PORT` (then the data folder and the Swagger
/// UI address), serves, then flushes the store.
pub async fn serve(config: Config, logs: Arc<LogHub>) -> anyhow::Result<()> {
    let addr = config.addr;
    let demo = !config.no_demo_data;
    let state = tokio::task::spawn_blocking(move || open_state(config, logs)).await??;
    // Bind before writing anything: a start that cannot listen must leave the store as it was.
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("não foi possível escutar em {addr}"))?;
    let local = listener.local_addr()?;
    // Where the other instances forward their writes while this one leads (SPEC-2 §16).
    state.encaminhamento.definir_proprio(
        state
            .config
            .endereco_interno
            .clone()
            .or_else(|| (!local.ip().is_unspecified()).then(|| format!("http://{local}"))),
    );
    // Demo users only beside demo data just loaded: a folder with a clinic's own records
    // (one from before sign-in existed, or a new machine's) never gets a demo administrator.
    let primeira = state.vazio() && state.store.read().usuarios.is_empty();
    if demo {
        crate::demo::load_if_empty(&state).await?;
    }
    if crate::services::usuarios::primeiro_admin(&state).await? {
        tracing::info!(target: "agendamento", "first administrator created from AGENDAMENTO_ADMIN_EMAIL");
    }
    let demo_usuarios = if demo && primeira && state.config.auth == crate::config::ModoAuth::On {
        crate::services::usuarios::criar_demo(&state).await?
    } else {
        None
    };
    if let Some(r) = &state.email {
        // The relay with its password masked (`SmtpUrl`'s Display); never the credentials.
        tracing::info!(target: "agendamento", smtp = r.destino(), "e-mail on");
    }
    if state.lider() {
        crate::services::tarefas::recover(&state);
    }
    if state.store.shared() {
        tokio::spawn(liderar_sempre(state.clone()));
    }
    if state.config.worker_paused {
        tracing::warn!(target: "agendamento", "worker paused by configuration: tasks wait on disk");
    } else {
        state.queue.start(Arc::new(crate::worker::Worker {
            app: state.0.clone(),
            rt: tokio::runtime::Handle::current(),
        }))?;
    }
    tokio::spawn(expire_holds_forever(state.clone()));
    tokio::spawn(housekeeping_forever(state.clone()));
    // The outbox's delivery worker (SPEC-2 §13); pending notifications survive restarts.
    if !state.config.worker_paused {
        crate::services::notificacoes::iniciar(state.clone())
            .context("não foi possível iniciar a entrega de notificações")?;
    }
    if let Some(handle) = crate::infra::metricas::handle().filter(|_| !state.config.no_metrics) {
        tokio::spawn(metrics_upkeep(state.clone(), handle));
    }
    if state.config.backup_interval_secs > 0 {
        tokio::spawn(automatic_backups(state.clone()));
    }
    let app = build_router(state.clone());
    let service = tower::util::MapRequestLayer::new(crate::router::normalize_path).layer(app);
    let limits = Limits {
        max: state
            .config
            .max_conexoes
            .unwrap_or_else(server::default_max_conexoes),
        header_timeout: Duration::from_secs(state.config.timeout_cabecalhos_secs),
        idle_timeout: Duration::from_secs(state.config.timeout_ocioso_secs),
        drain_timeout: Duration::from_secs(state.config.timeout_encerramento_secs),
        proxies: state.config.proxy_confiavel.clone().into(),
    };
    tracing::info!(target: "agendamento", %local, max_conexoes = limits.max, "server started");
    if cfg!(feature = "bench-sem-trilha") {
        tracing::warn!(target: "agendamento",
            "built with the bench-sem-trilha feature: writes keep NO audit trail (benchmark comparison only)");
    }
    // Scripts parse this first line; the others are for people.
    println!("listening on http://{local}");
    let data_dir = std::fs::canonicalize(&state.config.data_dir)
        .unwrap_or_else(|_| state.config.data_dir.clone());
    println!("data folder: {}", data_dir.display());
    println!("Swagger UI: http://{local}/docs");
    let ninguem =
        state.config.auth == crate::config::ModoAuth::On && state.store.read().usuarios.is_empty();
    if ninguem {
        // Sign-in on and no user at all (a folder that ran without sign-in, a new database
        // with --no-demo-data): say how to make the first administrator.
        println!(
            "no users yet: nobody can sign in; set AGENDAMENTO_ADMIN_EMAIL and AGENDAMENTO_ADMIN_SENHA for a start, or run `agendamento usuarios criar-admin`"
        );
        tracing::warn!(target: "agendamento", "sign-in is on and there is no user: see `agendamento usuarios criar-admin`");
    }
    if let Some((usuarios, senha)) = demo_usuarios {
        // Printed once, on the first start only (SPEC-2 §10); never logged.
        println!("demo users (password for all: {senha}):");
        for (papel, email) in usuarios {
            println!("  {:<9} {email}", papel.nome());
        }
    }
    let stopping = state.clone();
    server::run(listener, service, limits, async move {
        shutdown_signal().await;
        // Open SSE streams would hold the drain forever: end them first.
        stopping.shutdown.send_replace(true);
    })
    .await?;
    // The delivery outcomes still coming in are journaled before the store closes.
    let registro = state.registro_entregas.lock().take();
    if let Some(registro) = registro
        && tokio::time::timeout(
            crate::services::notificacoes::ESPERA_AO_PARAR + Duration::from_secs(3),
            registro,
        )
        .await
        .is_err()
    {
        tracing::warn!(target: "agendamento::notificacoes",
            "delivery outcomes still unrecorded at the stop: those notifications are sent again after the restart");
    }
    // A restore or an upload whose client the drain cut off goes on in the background:
    // let it finish before the final snapshots.
    let desde = std::time::Instant::now();
    while crate::services::backups::restauracao_em_curso()
        && desde.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let worker = state.clone();
    tokio::task::spawn_blocking(move || worker.queue.shutdown()).await?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.close())
        .await?
        .context("não foi possível gravar os dados ao encerrar")?;
    tracing::info!(target: "agendamento", "stopped cleanly");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repositories::{IdemEntry, Op};
    use crate::services::{Contexto, idempotency};

    #[tokio::test]
    async fn an_expired_answer_under_the_same_key_lets_the_request_run_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::for_tests(dir.path());
        let logs = Arc::new(LogHub::new(jiff::tz::TimeZone::UTC));
        let app = open_state(config, logs).expect("state");
        let now = jiff::Timestamp::now().as_second();
        let old = Arc::new(IdemEntry {
            key: "antiga".into(),
            fingerprint: "f".into(),
            status: 201,
            body: "{}".into(),
            created: now - idempotency::TTL_SECS - 3600,
        });
        app.write(|_| Ok((vec![Op::PutIdem(old)], ())))
            .await
            .expect("seed");
        let ctx = Contexto {
            request_id: "teste".into(),
            idempotencia: Some(idempotency::IdemCtx {
                key: "antiga".into(),
                fingerprint: "g".into(),
            }),
            status: 201,
            chamador: None,
            ip: None,
        };
        let out = app
            .commit(&ctx, |_| Ok((vec![Op::DelReserva("nenhuma".into())], 7)))
            .await;
        assert!(matches!(out, Ok(7)), "{out:?}");
        let stored = app
            .store
            .read()
            .idem
            .get("antiga")
            .cloned()
            .expect("answer");
        assert_eq!(
            stored.fingerprint, "g",
            "the new answer replaced the expired one"
        );
        assert!(idempotency::live(&stored, now));
    }
}
