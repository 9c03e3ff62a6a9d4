//! The `agendamento` binary: parse the configuration, set up logging, serve.

use std::sync::Arc;

use agendamento::infra::logs::{HubLayer, LogHub};
use clap::Parser;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// mimalloc gives memory freed after big temporary buffers (snapshots, backups, reports)
/// back to the system instead of keeping it, so resident memory stays flat over time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `agendamento saude [HOST:PORT]`: probes `GET /sistema/saude` (the container's
/// `HEALTHCHECK`; the image has no curl). The address defaults to `AGENDAMENTO_ADDR`, then
/// `127.0.0.1:8000`; exit 0 when healthy, 1 otherwise.
fn saude(addr: Option<String>) -> std::process::ExitCode {
    let addr = addr
        .or_else(|| std::env::var("AGENDAMENTO_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:8000".to_owned());
    match agendamento::infra::sonda::verificar(&addr, std::time::Duration::from_secs(3)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("não saudável: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("saude") {
        return saude(args.next());
    }
    let config = agendamento::Config::parse();
    if let Some(agendamento::config::Comando::Usuarios {
        acao: agendamento::config::AcaoUsuarios::CriarAdmin { email, nome },
    }) = config.comando.clone()
    {
        return criar_admin(config, email, nome);
    }
    if let Some(agendamento::config::Comando::Importar) = config.comando {
        return match agendamento::importar(&config) {
            Ok(resumo) => {
                println!("{resumo}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("erro: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if let Some(motivo) = agendamento::recusa_sem_auth(&config) {
        eprintln!("erro: {motivo}");
        return std::process::ExitCode::from(2);
    }
    // Log lines are stamped in the clinic's zone; a bad zone name is reported by `serve`.
    let tz = jiff::tz::TimeZone::get(&config.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let hub = Arc::new(LogHub::new(tz));
    let _ = std::fs::create_dir_all(&config.logs_dir);
    // stderr is written by a background thread (flushed when the guard drops at the end of
    // `main`), so a slow terminal never slows a request. The per-request lines stay out of
    // it (they are in the log file and `GET /sistema/logs`): at tens of thousands of
    // requests a second they would cost more than the requests.
    let (stderr, _stderr_guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("agendamento-stderr")
        .finish(std::io::stderr());
    let not_requests = tracing_subscriber::filter::filter_fn(|meta| {
        meta.target() != "agendamento::http" || *meta.level() <= tracing::Level::WARN
    });
    tracing_subscriber::registry()
        .with(tracing_subscriber::filter::filter_fn(
            agendamento::infra::logs::permitido,
        ))
        .with(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(not_requests),
        )
        .with(HubLayer::new(hub.clone(), &config.logs_dir))
        .init();
    // Each SSE subscriber holds a socket: allow as many as the hard limit permits.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(target: "agendamento", error = %e, "could not raise the open-file limit");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("erro: não foi possível iniciar o runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(agendamento::serve(config, hub.clone()));
    hub.close();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erro: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `agendamento usuarios criar-admin`: the password from `AGENDAMENTO_ADMIN_SENHA` or one
/// line of standard input.
fn criar_admin(config: agendamento::Config, email: String, nome: String) -> std::process::ExitCode {
    let senha = match config.admin_senha.clone() {
        Some(s) => s.0,
        None => {
            let mut linha = String::new();
            if let Err(e) = std::io::stdin().read_line(&mut linha) {
                eprintln!("erro: não foi possível ler a senha da entrada padrão: {e}");
                return std::process::ExitCode::FAILURE;
            }
            linha.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("erro: não foi possível iniciar o runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(agendamento::criar_admin(config, email, nome, senha)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erro: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
