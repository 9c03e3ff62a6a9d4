//! Test harness: runs the real `agendamento` binary on 127.0.0.1:0 in its own temporary
//! folder, talks to it over HTTP with reqwest, and offers body builders and assertions
//! for the problem+json error envelope (SPEC §1).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub use crate::common::*;

/// How long a server may take to print its `listening on` line.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a graceful stop (SIGTERM) may take.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The real binary built by cargo for this test binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_agendamento")
}

/// Distinguishes the stderr files of the successive processes run in one folder.
static SPAWN_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A running (or stopped) server process with its own data folder.
pub struct TestServer {
    /// Base URL, e.g. `http://127.0.0.1:40123` (changes on every restart: port 0).
    pub base: String,
    /// Client that never follows redirects (so "no redirect" can be asserted).
    pub client: reqwest::Client,
    /// The child process while it runs.
    child: Option<Child>,
    /// Extra command-line arguments, reused on restart.
    extra_args: Vec<String>,
    /// stderr file of the current process.
    stderr_path: PathBuf,
    /// Keeps the folder (banco/, backups/, reports/, logs/) alive for the test's life.
    dir: TempDir,
}

/// What a process that was expected to stop at start-up did.
#[derive(Debug)]
pub struct StartFailure {
    /// Exit status, `None` if it was still running at the deadline (then it is killed).
    pub status: Option<ExitStatus>,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Reads a reqwest response completely.
pub async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("read response body");
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

/// A client that does not follow redirects and ignores proxy variables.
pub fn new_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's rustls (SPEC-2 §13 webhooks) needs one
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build reqwest client")
}

/// The standard arguments pointing every folder inside `dir`.
fn standard_args(dir: &Path) -> Vec<String> {
    vec![
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        dir.join("banco").display().to_string(),
        "--backup-dir".into(),
        dir.join("backups").display().to_string(),
        "--reports-dir".into(),
        dir.join("reports").display().to_string(),
        "--logs-dir".into(),
        dir.join("logs").display().to_string(),
        "--no-demo-data".into(),
    ]
}

/// Outcome of spawning a process and waiting for its `listening on` line.
enum Spawned {
    Listening { child: Child, base: String },
    Exited(StartFailure),
}

/// Spawns the binary in `dir` and waits (bounded) for `listening on http://HOST:PORT`.
fn spawn(dir: &Path, extra: &[String], stderr_path: &Path, timeout: Duration) -> Spawned {
    let mut args = standard_args(dir);
    args.extend(extra.iter().cloned());
    spawn_args(&args, stderr_path, timeout)
}

/// Runs the binary with exactly `args` expecting it to stop at start-up (bounded by `timeout`;
/// a process that does start listening is killed and reported with `status: None`).
pub fn run_expecting_failure(
    args: &[String],
    stderr_path: &Path,
    timeout: Duration,
) -> StartFailure {
    match spawn_args(args, stderr_path, timeout) {
        Spawned::Listening { mut child, base } => {
            let _ = child.kill();
            let _ = child.wait();
            StartFailure {
                status: None,
                stderr: format!(
                    "(it started and listened on {base})\n{}",
                    std::fs::read_to_string(stderr_path).unwrap_or_default()
                ),
                stdout: String::new(),
                elapsed: Duration::ZERO,
            }
        }
        Spawned::Exited(f) => f,
    }
}

fn spawn_args(args: &[String], stderr_path: &Path, timeout: Duration) -> Spawned {
    let stderr_file = File::create(stderr_path).expect("create stderr file");
    let started = Instant::now();
    let mut child = Command::new(binary())
        .args(args)
        // The part-1 contract: single-user mode unless a test passes `--auth on`.
        .env("AGENDAMENTO_AUTH", "off")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr_file))
        .spawn()
        .expect("spawn agendamento binary");

    // A thread drains stdout for the life of the process so it can never block on a full pipe.
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // Nobody listens any more; keep draining.
                continue;
            }
        }
    });

    let mut seen = Vec::new();
    let deadline = started + timeout;
    loop {
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Spawned::Exited(StartFailure {
                status: None,
                stderr: std::fs::read_to_string(stderr_path).unwrap_or_default(),
                stdout: seen.join("\n"),
                elapsed: started.elapsed(),
            });
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(100))) {
            Ok(line) => {
                if let Some(rest) = line.trim().strip_prefix("listening on ") {
                    let base = rest.trim().trim_end_matches('/').to_string();
                    assert!(
                        base.starts_with("http://"),
                        "listening line without http:// URL: {line:?}"
                    );
                    return Spawned::Listening { child, base };
                }
                seen.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    // Give the stdout thread a moment to deliver the last lines.
                    while let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
                        seen.push(line);
                    }
                    return Spawned::Exited(StartFailure {
                        status: Some(status),
                        stderr: std::fs::read_to_string(stderr_path).unwrap_or_default(),
                        stdout: seen.join("\n"),
                        elapsed: started.elapsed(),
                    });
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // stdout closed: the process is exiting. Wait (bounded) for its status.
                let status = wait_bounded(
                    &mut child,
                    deadline.saturating_duration_since(Instant::now()),
                );
                if status.is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                return Spawned::Exited(StartFailure {
                    status,
                    stderr: std::fs::read_to_string(stderr_path).unwrap_or_default(),
                    stdout: seen.join("\n"),
                    elapsed: started.elapsed(),
                });
            }
        }
    }
}

/// Polls `try_wait` until the child exits or `timeout` passes.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

impl TestServer {
    /// Starts a server in a fresh temporary folder with the standard arguments.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server in a fresh temporary folder with extra arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("agendamento-test-")
            .tempdir()
            .expect("create temp dir");
        Self::start_in(dir, extra)
    }

    /// Starts a server in `dir` (which it keeps alive) with extra arguments.
    pub fn start_in(dir: TempDir, extra: &[&str]) -> Self {
        let extra_args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let stderr_path = next_stderr_path(dir.path());
        match spawn(dir.path(), &extra_args, &stderr_path, START_TIMEOUT) {
            Spawned::Listening { child, base } => TestServer {
                base,
                client: new_client(),
                child: Some(child),
                extra_args,
                stderr_path,
                dir,
            },
            Spawned::Exited(f) => panic!(
                "server did not print `listening on` within {:?} (status {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                START_TIMEOUT, f.status, f.stdout, f.stderr
            ),
        }
    }

    /// The server process's id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The data folder (`banco/`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("banco")
    }

    /// The stderr collected so far from the current process.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Full URL of a path (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends SIGTERM to this server's own PID and waits (bounded) for it to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(ok.success(), "kill -TERM failed");
        match wait_bounded(&mut child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not exit within {STOP_TIMEOUT:?} after SIGTERM\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
        }
    }

    /// Kills the process with SIGKILL (its own PID only) and reaps it.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("server is running");
        child.kill().expect("kill -9 the server");
        let _ = child.wait();
    }

    /// Starts a new process on the same folder (after `stop` or `kill9`).
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "stop or kill the server before restarting it"
        );
        self.stderr_path = next_stderr_path(self.dir.path());
        match spawn(
            self.dir.path(),
            &self.extra_args,
            &self.stderr_path,
            START_TIMEOUT,
        ) {
            Spawned::Listening { child, base } => {
                self.child = Some(child);
                self.base = base;
                // Fresh pool: the old connections point at a dead process.
                self.client = new_client();
            }
            Spawned::Exited(f) => panic!(
                "restarted server did not print `listening on` (status {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                f.status, f.stdout, f.stderr
            ),
        }
    }

    /// Starts a process on the same folder expecting it to stop at start-up; returns what it did.
    /// A process that does start is killed and reported with `status: None`.
    pub fn start_expecting_failure(&self, timeout: Duration) -> StartFailure {
        let stderr_path = next_stderr_path(self.dir.path());
        let mut args = standard_args(self.dir.path());
        args.extend(self.extra_args.iter().cloned());
        run_expecting_failure(&args, &stderr_path, timeout)
    }

    /// GET a path.
    pub async fn get(&self, path: &str) -> Resp {
        read(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        read(
            self.client
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// PUT a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        read(
            self.client
                .put(self.url(path))
                .json(body)
                .send()
                .await
                .expect("PUT"),
        )
        .await
    }

    /// DELETE a path.
    pub async fn delete(&self, path: &str) -> Resp {
        read(
            self.client
                .delete(self.url(path))
                .send()
                .await
                .expect("DELETE"),
        )
        .await
    }

    /// Number of records in a list endpoint (from `x-total-count`, cross-checked with the array).
    pub async fn count(&self, path: &str) -> u64 {
        let r = self.get(path).await;
        r.expect_status(200);
        let total = r.total_count();
        assert_eq!(
            total as usize,
            r.array().len(),
            "x-total-count disagrees with the array on {path}"
        );
        total
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn next_stderr_path(dir: &Path) -> PathBuf {
    let n = SPAWN_COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("stderr-{n}.log"))
}

// ---------------------------------------------------------------------------------------------
// Valid data builders
// ---------------------------------------------------------------------------------------------

/// Creates a patient (asserting 201) and returns the stored record.
pub async fn criar_paciente(srv: &TestServer, nome: &str, seed: u64) -> Value {
    let r = srv.post("/pacientes", &paciente_body(nome, seed)).await;
    r.expect_status(201);
    r.body
}

/// Creates a doctor (asserting 201) and returns the stored record.
pub async fn criar_medico(
    srv: &TestServer,
    nome: &str,
    crm_num: u32,
    especialidade: &str,
) -> Value {
    let r = srv
        .post("/medicos", &medico_body(nome, crm_num, especialidade))
        .await;
    r.expect_status(201);
    r.body
}

/// Creates a working-hours entry (asserting 201) and returns the stored record.
pub async fn criar_horario(
    srv: &TestServer,
    medico_id: &str,
    dia: &str,
    inicio: &str,
    fim: &str,
) -> Value {
    let r = srv
        .post(
            &format!("/horarios/medico/{medico_id}"),
            &horario_body(dia, inicio, fim),
        )
        .await;
    r.expect_status(201);
    r.body
}

/// Creates an appointment (asserting 201) and returns the stored record.
pub async fn criar_consulta(
    srv: &TestServer,
    paciente_id: &str,
    medico_id: &str,
    inicio: &str,
    fim: &str,
) -> Value {
    let r = srv
        .post(
            "/consultas",
            &consulta_body(paciente_id, medico_id, inicio, fim),
        )
        .await;
    r.expect_status(201);
    r.body
}

/// A patient and a doctor, returned as (paciente_id, medico_id).
pub async fn paciente_e_medico(srv: &TestServer) -> (String, String) {
    let p = criar_paciente(srv, "Paciente Padrão", 1).await;
    let m = criar_medico(srv, "Dra. Médica Padrão", 1, "Clínica Geral").await;
    (str_field(&p, "id"), str_field(&m, "id"))
}

// ---------------------------------------------------------------------------------------------
// Problem details
// ---------------------------------------------------------------------------------------------

#[test]
fn cpf_helper_produces_known_valid_cpf() {
    // 123.456.789-09 is the classic valid example.
    assert_eq!(cpf_check_digits(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), (0, 9));
    assert_eq!(cpf(0).len(), 11);
    assert_ne!(cpf(1), cpf(2));
    assert_ne!(cpf(1), cpf_invalido(1));
}

// ---------------------------------------------------------------------------------------------
// Added for the scheduling tests (agenda, booking, queue, sse)
// ---------------------------------------------------------------------------------------------

impl TestServer {
    /// Starts a new process on the same folder (after `stop` or `kill9`) with `extra` as its
    /// extra arguments instead of the ones it had; later `restart`s reuse the new ones.
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.extra_args = extra.iter().map(|s| s.to_string()).collect();
        self.restart();
    }
}

/// Sends every request at once (one task each) and returns their statuses, in order.
pub async fn send_all(requests: Vec<reqwest::RequestBuilder>) -> Vec<u16> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|r| tokio::spawn(async move { read(r.send().await.expect("send")).await.status }))
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    statuses
}
