//! A throwaway PostgreSQL cluster for the tests of SPEC-2 §16 (`--database-url`): a real
//! server from the machine's Debian packages (`/usr/lib/postgresql/<version>/bin`), never a
//! mock. Each [`PgCluster`] runs `initdb` in its own temporary folder (as the `postgres` user
//! when the tests run as root: `initdb` and `pg_ctl` refuse root), listens on a free port on
//! 127.0.0.1 with `fsync=on`, and holds a database `agendamento`. Dropping it stops the server
//! (immediate mode) and removes the folder, also when the test panics; a small watchdog process
//! does the same if the test process dies without running `Drop` (SIGKILL, a nextest timeout).
//! Both test binaries include this file with `#[path]`.

// Each binary uses a different part of this file.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The database every cluster creates (the name the server's URL points at).
pub const DATABASE: &str = "agendamento";

/// Overrides the folder of the PostgreSQL binaries (`initdb`, `pg_ctl`, `createdb`).
pub const BIN_ENV: &str = "AGENDAMENTO_TEST_PG_BIN";

/// How many fresh ports `start` tries when another process takes the chosen one first.
const PORT_ATTEMPTS: usize = 5;

/// The watchdog: waits for end of file on its standard input (the write end lives only in the
/// test process, close-on-exec, so it closes when `Drop` runs or the process dies however it
/// dies), then stops the server if its data folder is still there and removes the folder.
/// Arguments: the folder, the data folder, then the `pg_ctl` command (with `runuser` as root).
const WATCHDOG: &str = r#"
root=$1; data=$2; shift 2
cat >/dev/null
if [ -d "$data" ]; then
  "$@" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1
  rm -rf "$root"
fi
"#;

/// A running (or stopped) PostgreSQL server with its own data folder, removed on drop.
pub struct PgCluster {
    /// The temporary folder: `data/` (the cluster), the Unix socket and `postgres.log`.
    root: PathBuf,
    /// Keeps the folder until drop (removed explicitly there; `None` once removed).
    dir: Option<tempfile::TempDir>,
    /// The cluster's data folder (`root/data`).
    data: PathBuf,
    /// The TCP port on 127.0.0.1 (the same after every restart).
    port: u16,
    /// The folder of the PostgreSQL binaries.
    bin: PathBuf,
    /// Whether `initdb`/`pg_ctl` run through `runuser -u postgres` (the tests run as root).
    as_postgres: bool,
    /// The watchdog process and the write end of its standard input.
    watchdog: Option<(Child, ChildStdin)>,
}

impl PgCluster {
    /// Creates, starts and fills (database [`DATABASE`]) a new cluster. Takes about a second.
    ///
    /// Panics with what to install when the PostgreSQL binaries are missing: a test that needs
    /// PostgreSQL never skips silently.
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("agendamento-pg-")
            .tempdir()
            .expect("create the temporary folder for PostgreSQL");
        let root = dir.path().to_path_buf();
        if as_postgres {
            // initdb refuses root: the cluster belongs to `postgres`, who needs the folder.
            run(
                Command::new("chown").arg("postgres:").arg(&root),
                "chown the temporary folder to the postgres user (does the user exist?)",
            );
        }
        let mut cluster = PgCluster {
            data: root.join("data"),
            root,
            dir: Some(dir),
            port: 0,
            bin,
            as_postgres,
            watchdog: None,
        };
        cluster.spawn_watchdog();
        // `--no-sync`: initdb skips its final sync of the fresh files (halves the start-up);
        // the server itself runs with fsync=on, and a test only ever kills processes, which
        // the page cache survives.
        run(
            cluster
                .pg_command("initdb")
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
                .args(["--locale=C.UTF-8", "--no-sync", "-D"])
                .arg(&cluster.data),
            "initdb",
        );
        cluster.start_on_a_free_port();
        run(
            Command::new(cluster.bin.join("createdb"))
                .arg("-h")
                .arg(&cluster.root)
                .args(["-p", &cluster.port.to_string(), "-U", "postgres", DATABASE]),
            "createdb",
        );
        cluster
    }

    /// The URL of database [`DATABASE`] over TCP, for `--database-url` and tokio-postgres:
    /// `postgres://postgres@127.0.0.1:PORT/agendamento` (trust authentication, no password).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// A client of database [`DATABASE`], its connection driven on a task (which ends with
    /// an error when the server stops: expected in tests that stop it).
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}\n{}", self.url(), self.log()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary folder (data, socket, log); gone after drop.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Everything the server logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default()
    }

    /// Stops the server cleanly (`pg_ctl stop -m fast`: sessions are ended, a checkpoint is
    /// written), waiting until it is gone. For the "PostgreSQL down" tests.
    pub fn stop(&self) {
        self.pg_ctl_stop("fast");
    }

    /// Stops the server like a crash (`pg_ctl stop -m immediate`: every process quits at
    /// once, no checkpoint; the next start replays the WAL), waiting until it is gone.
    pub fn stop_immediate(&self) {
        self.pg_ctl_stop("immediate");
    }

    /// Starts the stopped server again: the same port, the same data.
    pub fn start_again(&self) {
        let out = self.pg_ctl_start();
        assert!(
            out.status.success(),
            "pg_ctl start (again) on port {} failed: {}{}\n{}",
            self.port,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// Stops the server cleanly and starts it again (the same port, the same data).
    pub fn restart_db(&self) {
        self.stop();
        self.start_again();
    }

    /// Whether something accepts TCP connections on the cluster's port.
    pub fn accepts_connections(&self) -> bool {
        port_accepts(self.port)
    }

    /// The command that runs one of the PostgreSQL binaries, as `postgres` when we are root.
    fn pg_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// Starts the server for the first time, choosing a fresh port again when another
    /// process took the free one between our check and the server's bind.
    fn start_on_a_free_port(&mut self) {
        let mut failures = String::new();
        for _ in 0..PORT_ATTEMPTS {
            self.port = free_port();
            let out = self.pg_ctl_start();
            if out.status.success() {
                return;
            }
            let log = self.log();
            failures.push_str(&format!(
                "port {}: {}{}\n{log}\n",
                self.port,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
            if !log.contains("could not bind") && !log.contains("already in use") {
                break;
            }
            let _ = std::fs::remove_file(self.root.join("postgres.log"));
        }
        panic!("PostgreSQL did not start:\n{failures}");
    }

    /// `pg_ctl start -w` with the test settings; returns what it printed.
    fn pg_ctl_start(&self) -> Output {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k '{}' -c fsync=on -c max_connections=200",
            self.port,
            self.root.display()
        );
        self.pg_command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.root.join("postgres.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl start")
    }

    /// `pg_ctl stop -w -m MODE`, panicking with the log when it fails.
    fn pg_ctl_stop(&self, mode: &str) {
        let out = self.pg_ctl_stop_output(mode);
        assert!(
            out.status.success(),
            "pg_ctl stop -m {mode} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// `pg_ctl stop -w -m MODE`; returns what it printed.
    fn pg_ctl_stop_output(&self, mode: &str) -> Output {
        self.pg_command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "-t", "60", "stop"])
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl stop")
    }

    /// Starts the watchdog (see [`WATCHDOG`]) in its own process group, so that a signal to
    /// the test's group (a nextest timeout) does not take it down with the test.
    fn spawn_watchdog(&mut self) {
        let pg_ctl = self.pg_command("pg_ctl");
        let mut command = Command::new("sh");
        command
            .args(["-c", WATCHDOG, "pg-watchdog"])
            .arg(&self.root)
            .arg(&self.data)
            .arg(pg_ctl.get_program())
            .args(pg_ctl.get_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = command.spawn().expect("start the PostgreSQL watchdog (sh)");
        let stdin = child.stdin.take().expect("the watchdog's stdin is piped");
        self.watchdog = Some((child, stdin));
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Never panics: this also runs while a failing test unwinds.
        let _ = self.pg_ctl_stop_output("immediate");
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
        if let Some((mut child, stdin)) = self.watchdog.take() {
            // End of file: the folder is gone, so the watchdog just exits.
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// The folder of the PostgreSQL binaries: [`BIN_ENV`], else `/usr/lib/postgresql/15/bin`,
/// else the newest `/usr/lib/postgresql/*/bin`. Panics with what to install when none has
/// `initdb`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(BIN_ENV) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("initdb").is_file(),
            "{BIN_ENV}={} has no initdb",
            dir.display()
        );
        return dir;
    }
    let preferred = PathBuf::from("/usr/lib/postgresql/15/bin");
    if preferred.join("initdb").is_file() {
        return preferred;
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max();
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. These tests need a \
             real server: `apt-get install -y postgresql` (Debian), or set {BIN_ENV} to the \
             folder holding initdb and pg_ctl"
        ),
    }
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective user).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|meta| meta.uid() == 0)
        .unwrap_or(false)
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Whether a `postgres` server process for this data folder still runs (a process whose
/// program is `postgres` and whose arguments name the folder).
pub fn postmaster_running(data_dir: &Path) -> bool {
    let data = data_dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| {
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            args.first()
                .is_some_and(|program| program == "postgres" || program.ends_with("/postgres"))
                && args.contains(&data)
        })
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command to completion, panicking with its output when it fails.
fn run(command: &mut Command, what: &str) {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run {:?}: {e}", command.get_program()));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The one value of a one-row, one-column query.
pub async fn valor<T: for<'a> tokio_postgres::types::FromSql<'a>>(
    client: &tokio_postgres::Client,
    sql: &str,
) -> T {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// The first column of every row of a query, in order.
pub async fn coluna<T: for<'a> tokio_postgres::types::FromSql<'a>>(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Vec<T> {
    client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}
