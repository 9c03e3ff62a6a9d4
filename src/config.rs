//! Every setting in one struct, each from a flag or an `AGENDAMENTO_*` variable (SPEC §9).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
// Boolean variables accept 1/0, true/false, yes/no, on/off (and y/n, t/f), any case.
use clap::builder::BoolishValueParser;

/// Agendamento: a medical-appointment scheduling server.
#[derive(Debug, Clone, Parser)]
#[command(name = "agendamento", version, about)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "AGENDAMENTO_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// Data folder (journal and snapshots).
    #[arg(
        long,
        env = "AGENDAMENTO_DATA_DIR",
        default_value = "./banco",
        global = true
    )]
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
    /// How many automatic backups to keep (and, separately, how many safety backups); at
    /// least 1, so a restore's safety backup is never deleted as it is made.
    #[arg(long, env = "AGENDAMENTO_BACKUP_KEEP", default_value_t = 14, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub backup_keep: usize,
    /// Largest backup archive accepted by `POST /backup/enviar`, in bytes.
    #[arg(
        long,
        env = "AGENDAMENTO_BACKUP_UPLOAD_MAX_BYTES",
        default_value_t = 512 << 20
    )]
    pub backup_upload_max_bytes: u64,
    /// How many report PDFs to keep of each owner (the clinic-wide ones, and each doctor's:
    /// the newest; older ones are deleted after each report).
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
    #[arg(long, env = "AGENDAMENTO_NO_DEMO_DATA", value_parser = BoolishValueParser::new())]
    pub no_demo_data: bool,
    /// Fold the journal into the snapshot files after this many journal entries.
    #[arg(long, env = "AGENDAMENTO_COMPACT_EVERY", default_value_t = 50_000)]
    pub compact_every: u64,
    /// Do not start the task worker (tasks are accepted and wait on disk): for tests of
    /// crash recovery and for maintenance.
    #[arg(long, env = "AGENDAMENTO_WORKER_PAUSED", value_parser = BoolishValueParser::new())]
    pub worker_paused: bool,
    /// Most slots one `GET /agenda/slots` answer may hold (doctors × days × slots per day);
    /// a larger request is refused with 422 `agenda_too_large`.
    #[arg(long, env = "AGENDAMENTO_MAX_SLOTS", default_value_t = 200_000)]
    pub max_slots: u64,
    /// Holds and bookings (`/agenda/reservar`, `/consultas/agendar`) only up to this many days
    /// ahead; later slots answer 422 `fora_do_horizonte`.
    #[arg(long, env = "AGENDAMENTO_HORIZONTE_DIAS", default_value_t = 366, value_parser = clap::value_parser!(u16).range(1..))]
    pub horizonte_dias: u16,
    /// Most live `Idempotency-Key` answers kept (24 h each); a new keyed request that would
    /// store one more answers 429 `idempotency_limit` with `Retry-After`.
    #[arg(long, env = "AGENDAMENTO_IDEMPOTENCIA_MAX", default_value_t = 50_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub idempotencia_max: usize,
    /// Most backups and reports waiting or running at once; one more answers 429
    /// `queue_full` with `Retry-After`, except a backup while no other is unfinished
    /// (bookings have their own lane and no such limit).
    #[arg(long, env = "AGENDAMENTO_TAREFAS_FILA_MAX", default_value_t = 32, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub tarefas_fila_max: usize,
    /// Most connections open at once (default: the open-file limit minus a reserve, at most
    /// 50,000). At the cap a new connection closes the longest-waiting idle one, or is
    /// answered 503 `too_many_connections` when all are busy.
    #[arg(long, env = "AGENDAMENTO_MAX_CONEXOES", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_conexoes: Option<usize>,
    /// Seconds a client may take to send a request's head (method, path, headers) before
    /// the connection is closed.
    #[arg(long, env = "AGENDAMENTO_TIMEOUT_CABECALHOS_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_cabecalhos_secs: u64,
    /// Seconds a keep-alive connection may stay open with no request (open streams are not
    /// idle: they keep their own keep-alive).
    #[arg(long, env = "AGENDAMENTO_TIMEOUT_OCIOSO_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ocioso_secs: u64,
    /// Seconds a stop (SIGTERM) waits for requests still in flight (a stalled upload, a
    /// client that stopped reading a download) before it closes their connections.
    #[arg(long, env = "AGENDAMENTO_TIMEOUT_ENCERRAMENTO_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_encerramento_secs: u64,
    /// Addresses of the clinic's own reverse proxies (comma-separated IPs; every proxy of a
    /// chain). A request from one of them is taken to come from the nearest address in its
    /// `X-Forwarded-For` that is not one of them, for the per-address limits and the audit
    /// trail; from any other peer the header is ignored, so a client cannot choose its own
    /// address.
    #[arg(long, env = "AGENDAMENTO_PROXY_CONFIAVEL", value_delimiter = ',')]
    pub proxy_confiavel: Vec<std::net::IpAddr>,
    /// Seconds a request may take to its response head before it is answered 503
    /// problem+json `request_timeout` with `Retry-After` (stream bodies are not cut).
    #[arg(long, env = "AGENDAMENTO_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Bearer token that opens `GET /metrics` (`Authorization: Bearer …`) to a scraper. Without
    /// one, `/metrics` is for administrators with sign-in on, and open to any caller in
    /// single-user mode (`--auth off`).
    #[arg(long, env = "AGENDAMENTO_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Do not record metrics (no recorder is installed; `GET /metrics` answers 404).
    #[arg(long, env = "AGENDAMENTO_NO_METRICS", value_parser = BoolishValueParser::new())]
    pub no_metrics: bool,
    /// Sign-in (SPEC-2 §10): `on` asks every request but the public ones for a bearer token;
    /// `off` is single-user mode (every request acts as an administrator), refused beyond
    /// loopback unless `--inseguro-sem-auth`.
    #[arg(long, env = "AGENDAMENTO_AUTH", value_enum, default_value_t = ModoAuth::On)]
    pub auth: ModoAuth,
    /// With `--auth off`, listen on a non-loopback address anyway.
    #[arg(long, env = "AGENDAMENTO_INSEGURO_SEM_AUTH", value_parser = BoolishValueParser::new())]
    pub inseguro_sem_auth: bool,
    /// Hours a session token stays valid.
    #[arg(long, env = "AGENDAMENTO_SESSAO_HORAS", default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=8760))]
    pub sessao_horas: u64,
    /// Days the audit trail is kept (SPEC-2 §10); older entries are deleted by housekeeping.
    #[arg(long, env = "AGENDAMENTO_AUDITORIA_DIAS", default_value_t = 1825, value_parser = clap::value_parser!(u64).range(90..=36500))]
    pub auditoria_dias: u64,
    /// Days a delivered or failed notification stays listed (SPEC-2 §13); counted from the
    /// latest of its creation, its delivery and, for a reminder, its appointment's start.
    /// Pending ones are never forgotten.
    #[arg(long, env = "AGENDAMENTO_NOTIFICACOES_DIAS", default_value_t = 90, value_parser = clap::value_parser!(u64).range(7..=36500))]
    pub notificacoes_dias: u64,
    /// Seconds a waiting-list offer holds its slot (SPEC-2 §11), overriding the clinic rule
    /// `oferta_minutos`; for tests and benchmarks (hidden from `--help`).
    #[arg(long, env = "AGENDAMENTO_OFERTA_SEGUNDOS", hide = true)]
    pub oferta_segundos: Option<u64>,
    /// E-mail of the first administrator, created at start when no user exists (with
    /// `AGENDAMENTO_ADMIN_SENHA`).
    #[arg(long, env = "AGENDAMENTO_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Password of the first administrator (environment only: a flag would show in `ps`).
    #[arg(skip = std::env::var("AGENDAMENTO_ADMIN_SENHA").ok().filter(|s| !s.is_empty()).map(Segredo))]
    pub admin_senha: Option<Segredo>,
    /// The e-mail relay (SPEC-2 §13): `smtp://host:port`, `smtp://host:port?tls=starttls` or
    /// `smtps://user:pass@host:465` (user and password percent-encoded); e-mail is off
    /// when unset. Default ports 25, 587 (STARTTLS) and 465 (`smtps`).
    #[arg(long, env = "AGENDAMENTO_SMTP_URL", hide_env_values = true,
        value_parser = SmtpUrlParser, requires = "smtp_remetente")]
    pub smtp_url: Option<crate::domain::SmtpUrl>,
    /// The sender of patient e-mail, e.g. `Clínica <agenda@clinica.com.br>`; a bare address
    /// writes with `--clinica-nome` as its name.
    #[arg(long, env = "AGENDAMENTO_SMTP_REMETENTE", value_parser = remetente)]
    pub smtp_remetente: Option<lettre::message::Mailbox>,
    /// A PEM file of extra certificate authorities to trust for the relay's TLS (a private
    /// CA; the tests' self-signed relay). Hidden from `--help`.
    #[arg(long, env = "AGENDAMENTO_SMTP_CA_EXTRA", hide = true)]
    pub smtp_ca_extra: Option<PathBuf>,
    /// The clinic's public base URL (`https://agenda.clinica.example`): public links to
    /// confirm or cancel (`/c/{token}`) and absolute calendar feed URLs are made with it
    /// (SPEC-2 §13, §14). Unset: no public links.
    #[arg(long, env = "AGENDAMENTO_URL_PUBLICA", value_parser = url_publica)]
    pub url_publica: Option<String>,
    /// PostgreSQL instead of the data folder (SPEC-2 §16): `postgres://user:senha@host/db`.
    /// The journal and one table per collection live there, and several instances can serve
    /// the same clinic at once; each still holds the whole data in memory.
    #[arg(
        long,
        env = "AGENDAMENTO_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Option<String>,
    /// With `--database-url`: the address the other instances reach this one at
    /// (`http://10.0.0.5:8000`). While this instance leads, the others forward their writes
    /// to it (one writer: no contention for the journal). Unset: `http://` plus the address
    /// listened on, unless that is every interface (`0.0.0.0`, `[::]`): then writes
    /// through the other instances are not forwarded, each appends its own.
    #[arg(long, env = "AGENDAMENTO_ENDERECO_INTERNO", value_parser = endereco_interno)]
    pub endereco_interno: Option<String>,
    /// With `--database-url`: whether writes through an instance that does not lead go to
    /// the leader (`--endereco-interno`). Off: each instance appends its own writes, taking
    /// the append lock in turn with the others (slower under load, no traffic between
    /// instances).
    #[arg(
        long,
        env = "AGENDAMENTO_ENCAMINHAR_ESCRITAS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    pub encaminhar_escritas: bool,
    /// A maintenance command instead of serving.
    #[command(subcommand)]
    pub comando: Option<Comando>,
    /// Let webhooks reach loopback, private, link-local and CGNAT addresses (SPEC-2 §13):
    /// for tests and for receivers inside the clinic's own network. Off: such addresses are
    /// refused at every delivery attempt, after DNS.
    #[arg(long, env = "AGENDAMENTO_WEBHOOKS_REDE_LOCAL", value_parser = BoolishValueParser::new())]
    pub webhooks_rede_local: bool,
    /// The waits before each retry of a failed notification, in seconds, comma-separated
    /// (each with ±10 % jitter); after the last one fails the notification is `falhou`.
    #[arg(
        long,
        env = "AGENDAMENTO_WEBHOOK_ATRASOS_SEGUNDOS",
        value_delimiter = ',',
        default_value = "5,300,1800,7200,18000,36000,36000",
        value_parser = clap::value_parser!(u64).range(1..=604_800)
    )]
    pub webhook_atrasos_segundos: Vec<u64>,
}

/// `--url-publica`: an `http(s)://host[...]` URL without query or fragment; kept without a
/// trailing slash.
fn url_publica(v: &str) -> Result<String, String> {
    let v = v.trim();
    let resto = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or("deve começar com http:// ou https://")?;
    let host = resto.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err("deve ter um endereço (host), sem usuário nem senha".into());
    }
    if v.contains(['?', '#']) || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("não pode ter consulta (?), fragmento (#) nem espaços".into());
    }
    Ok(v.trim_end_matches('/').to_owned())
}

/// `--endereco-interno`: `http://host:port`, nothing after the port (the forwarded request
/// keeps its own path). Plain HTTP: the instances talk inside the clinic's network.
fn endereco_interno(v: &str) -> Result<String, String> {
    let v = v.trim().trim_end_matches('/');
    let resto = v
        .strip_prefix("http://")
        .ok_or("deve começar com http:// (ex.: http://10.0.0.5:8000)")?;
    if resto.is_empty()
        || resto.contains(['/', '?', '#', '@'])
        || resto.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("deve ser http://servidor:porta, sem caminho, usuário nem senha".into());
    }
    let url = reqwest::Url::parse(v).map_err(|e| format!("endereço inválido: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("deve ter um servidor (ex.: http://10.0.0.5:8000)".into());
    }
    Ok(v.to_owned())
}

/// A secret setting: its `Debug` never shows the value (the configuration may be printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Segredo(pub String);

impl std::fmt::Debug for Segredo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segredo(***)")
    }
}

/// Whether requests must sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModoAuth {
    /// Every route but the public ones needs a bearer token.
    On,
    /// Single-user mode: every request acts as an administrator.
    Off,
}

/// Maintenance commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Comando {
    /// Manage users on the data folder (while no server holds it).
    Usuarios {
        /// What to do.
        #[command(subcommand)]
        acao: AcaoUsuarios,
    },
    /// Copies the data folder (`--data-dir`) into the empty PostgreSQL database of
    /// `--database-url` (SPEC-2 §16), while no server holds either.
    Importar,
}

/// `agendamento usuarios …`
#[derive(Debug, Clone, Subcommand)]
pub enum AcaoUsuarios {
    /// Creates an administrator; the password is read from standard input (one line) or
    /// from `AGENDAMENTO_ADMIN_SENHA`.
    CriarAdmin {
        /// The administrator's e-mail.
        #[arg(long)]
        email: String,
        /// The administrator's name.
        #[arg(long)]
        nome: String,
    },
}

impl Config {
    /// The settings tests use: no demo data, port 0, single-user mode (`--auth off`, the
    /// part-1 contract), everything under `root`.
    pub fn for_tests(root: &std::path::Path) -> Self {
        let mut c = Self::parse_from([
            "agendamento",
            "--addr",
            "127.0.0.1:0",
            "--no-demo-data",
            "--auth",
            "off",
        ]);
        c.admin_email = None;
        c.admin_senha = None;
        c.data_dir = root.join("banco");
        c.backup_dir = root.join("backups");
        c.reports_dir = root.join("reports");
        c.logs_dir = root.join("logs");
        c
    }
}

/// Parses `--smtp-url` with an error that never repeats the value: it may hold a password,
/// and clap's own message would print it.
#[derive(Debug, Clone, Copy)]
pub struct SmtpUrlParser;

impl clap::builder::TypedValueParser for SmtpUrlParser {
    type Value = crate::domain::SmtpUrl;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let motivo = match value.to_str() {
            Some(s) => match crate::domain::SmtpUrl::parse(s) {
                Ok(u) => return Ok(u),
                Err(m) => m,
            },
            None => "não é UTF-8".to_owned(),
        };
        let msg = format!(
            "--smtp-url (AGENDAMENTO_SMTP_URL) inválida: {motivo}. Formas aceitas: \
             smtp://servidor:porta, smtp://servidor:porta?tls=starttls, \
             smtps://usuario:senha@servidor:465 (o valor não é repetido: pode conter uma senha)\n"
        );
        Err(clap::Error::raw(clap::error::ErrorKind::ValueValidation, msg).with_cmd(cmd))
    }
}

/// Parses `--smtp-remetente`: `Nome <email@dominio>` or `email@dominio`.
fn remetente(s: &str) -> Result<lettre::message::Mailbox, String> {
    s.trim().parse().map_err(|_| {
        "remetente inválido: use \"Nome <agenda@clinica.com.br>\" ou agenda@clinica.com.br"
            .to_owned()
    })
}

#[cfg(test)]
mod smtp_tests {
    use clap::Parser as _;

    use super::Config;

    /// The configuration may be printed (`{:?}`) at start or in a bug report: the relay's
    /// password must not be in it.
    #[test]
    fn the_printed_configuration_masks_the_smtp_password() {
        let c = Config::try_parse_from([
            "agendamento",
            "--smtp-url",
            "smtps://agenda:s3nh4-secreta@smtp.exemplo.com",
            "--smtp-remetente",
            "Clínica <agenda@clinica.com.br>",
        ])
        .expect("valid settings");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3nh4-secreta"), "{shown}");
        assert!(
            shown.contains("smtps://agenda:***@smtp.exemplo.com:465"),
            "{shown}"
        );
        let e = Config::try_parse_from([
            "agendamento",
            "--smtp-url",
            "smtps://agenda:s3nh4-secreta@smtp.exemplo.com/caminho",
            "--smtp-remetente",
            "agenda@clinica.com.br",
        ])
        .expect_err("a path is refused");
        assert!(!e.to_string().contains("s3nh4-secreta"), "{e}");
    }
}

#[cfg(test)]
mod comando_tests {
    use clap::Parser as _;

    use super::{Comando, Config};

    /// `agendamento importar --data-dir banco --database-url …` (the README's order) parses:
    /// both flags are accepted after the subcommand.
    #[test]
    fn the_database_url_may_follow_the_import_subcommand() {
        for args in [
            [
                "agendamento",
                "importar",
                "--data-dir",
                "banco",
                "--database-url",
                "postgres://u@h/db",
            ],
            [
                "agendamento",
                "--database-url",
                "postgres://u@h/db",
                "importar",
                "--data-dir",
                "banco",
            ],
        ] {
            let c = Config::try_parse_from(args).expect("parses");
            assert!(matches!(c.comando, Some(Comando::Importar)), "{args:?}");
            assert_eq!(
                c.database_url.as_deref(),
                Some("postgres://u@h/db"),
                "{args:?}"
            );
            assert_eq!(c.data_dir, std::path::Path::new("banco"), "{args:?}");
        }
    }
}

#[cfg(test)]
mod encaminhamento_tests {
    use clap::Parser as _;

    use super::Config;

    fn endereco(v: &str) -> Result<Option<String>, String> {
        Config::try_parse_from(["agendamento", "--endereco-interno", v])
            .map(|c| c.endereco_interno)
            .map_err(|e| e.to_string())
    }

    /// `--endereco-interno` is where the other instances send a write's own path: an
    /// `http://host:port` and nothing more.
    #[test]
    fn the_internal_address_is_plain_http_to_a_host_and_port() {
        assert_eq!(
            endereco("http://10.0.0.5:8000/").expect("valid"),
            Some("http://10.0.0.5:8000".to_owned())
        );
        assert_eq!(
            endereco("http://instancia-1:8000").expect("valid"),
            Some("http://instancia-1:8000".to_owned())
        );
        for ruim in [
            "10.0.0.5:8000",
            "https://10.0.0.5:8000",
            "http://",
            "http://10.0.0.5:8000/api",
            "http://u:senha@10.0.0.5:8000",
            "http://10.0.0.5:8000?x=1",
            "http://10.0.0.5 :8000",
        ] {
            assert!(endereco(ruim).is_err(), "{ruim} accepted");
        }
        let c = Config::try_parse_from(["agendamento"]).expect("defaults");
        assert!(c.encaminhar_escritas && c.endereco_interno.is_none());
        let c =
            Config::try_parse_from(["agendamento", "--encaminhar-escritas", "false"]).expect("off");
        assert!(!c.encaminhar_escritas);
    }
}
