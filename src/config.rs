//! Every setting in one struct, each from a flag or an `AGENDAMENTO_*` variable (SPEC §9).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Agendamento: a medical-appointment scheduling server.
#[derive(Debug, Clone, Parser)]
#[command(name = "agendamento", version, about)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "AGENDAMENTO_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// Data folder (journal and snapshots).
    #[arg(long, env = "AGENDAMENTO_DATA_DIR", default_value = "./banco")]
    pub data_dir: PathBuf,
    /// Backup folder.
    #[arg(long, env = "AGENDAMENTO_BACKUP_DIR", default_value = "./backups")]
    pub backup_dir: PathBuf,
    /// Report folder.
    #[arg(long, env = "AGENDAMENTO_REPORTS_DIR", default_value = "./reports")]
    pub reports_dir: PathBuf,
    /// Log folder.
    #[arg(long, env = "AGENDAMENTO_LOGS_DIR", default_value = "./logs")]
    pub logs_dir: PathBuf,
    /// The clinic's IANA time zone.
    #[arg(
        long,
        env = "AGENDAMENTO_TIMEZONE",
        default_value = "America/Sao_Paulo"
    )]
    pub timezone: String,
    /// Length of an agenda slot in minutes.
    #[arg(long, env = "AGENDAMENTO_SLOT_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(u16).range(5..=240))]
    pub slot_minutes: u16,
    /// How long a slot hold lasts, in seconds.
    #[arg(long, env = "AGENDAMENTO_HOLD_TTL_SECS", default_value_t = 300)]
    pub hold_ttl_secs: u64,
    /// Seconds between automatic backups (0 = off).
    #[arg(
        long,
        env = "AGENDAMENTO_BACKUP_INTERVAL_SECS",
        default_value_t = 86_400
    )]
    pub backup_interval_secs: u64,
    /// How many automatic backups to keep (and, separately, how many safety backups).
    #[arg(long, env = "AGENDAMENTO_BACKUP_KEEP", default_value_t = 14)]
    pub backup_keep: usize,
    /// Largest backup archive accepted by `POST /backup/enviar`, in bytes.
    #[arg(
        long,
        env = "AGENDAMENTO_BACKUP_UPLOAD_MAX_BYTES",
        default_value_t = 512 << 20
    )]
    pub backup_upload_max_bytes: u64,
    /// How many report PDFs to keep (the newest; older ones are deleted after each report).
    #[arg(long, env = "AGENDAMENTO_RELATORIOS_MANTER", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    pub relatorios_manter: u64,
    /// The clinic's name, shown in the title of its reports.
    #[arg(long, env = "AGENDAMENTO_CLINICA_NOME", default_value = "Clínica")]
    pub clinica_nome: String,
    /// Allowed CORS origins, comma-separated, or `*`.
    #[arg(long, env = "AGENDAMENTO_CORS_ORIGINS", default_value = "*")]
    pub cors_origins: String,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "AGENDAMENTO_BODY_LIMIT_BYTES", default_value_t = 65_536)]
    pub body_limit_bytes: usize,
    /// Do not load demo data into an empty store.
    #[arg(long, env = "AGENDAMENTO_NO_DEMO_DATA")]
    pub no_demo_data: bool,
    /// Fold the journal into the snapshot files after this many journal entries.
    #[arg(long, env = "AGENDAMENTO_COMPACT_EVERY", default_value_t = 50_000)]
    pub compact_every: u64,
    /// Do not start the task worker (tasks are accepted and wait on disk): for tests of
    /// crash recovery and for maintenance.
    #[arg(long, env = "AGENDAMENTO_WORKER_PAUSED")]
    pub worker_paused: bool,
    /// Seconds a request may take before it is answered 503 (streams are not cut).
    #[arg(long, env = "AGENDAMENTO_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
}

impl Config {
    /// The settings tests use: no demo data, port 0, everything under `root`.
    pub fn for_tests(root: &std::path::Path) -> Self {
        let mut c = Self::parse_from(["agendamento", "--addr", "127.0.0.1:0", "--no-demo-data"]);
        c.data_dir = root.join("banco");
        c.backup_dir = root.join("backups");
        c.reports_dir = root.join("reports");
        c.logs_dir = root.join("logs");
        c
    }
}
