//! Issue 9, start-up: boolean variables accept `1/0/true/false/yes/no/on/off`, a start that
//! cannot listen writes nothing (no demo data), and the start-up lines say where the data
//! folder and Swagger UI are, after the `listening on` line scripts parse.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::helpers::*;

/// A server started with environment variables; killed on drop.
struct EnvServer {
    child: Child,
    base: String,
    /// The stdout lines after `listening on`, as they arrive.
    rest: mpsc::Receiver<String>,
}

impl Drop for EnvServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn args(dir: &Path, addr: &str) -> Vec<String> {
    let d = |s: &str| dir.join(s).display().to_string();
    vec![
        "--addr".into(),
        addr.into(),
        "--data-dir".into(),
        d("banco"),
        "--backup-dir".into(),
        d("backups"),
        "--reports-dir".into(),
        d("reports"),
        "--logs-dir".into(),
        d("logs"),
        "--backup-interval-secs".into(),
        "0".into(),
    ]
}

/// Runs the binary with `args` and `env`; `Ok` once it prints `listening on`, `Err(exit code)`
/// when it stops first.
fn spawn_env(args: &[String], env: &[(&str, &str)]) -> Result<EnvServer, Option<i32>> {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        // The part-1 contract: single-user mode unless a test sets it.
        .env("AGENDAMENTO_AUTH", "off")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn agendamento");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Some(base) = line.strip_prefix("listening on ") {
                    let base = base.trim().to_string();
                    return Ok(EnvServer {
                        child,
                        base,
                        rest: rx,
                    });
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(status.code());
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("wait");
                return Err(status.code());
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no `listening on` line within {START_TIMEOUT:?}");
}

async fn pacientes(base: &str) -> u64 {
    let r = read(
        new_client()
            .get(format!("{base}/pacientes"))
            .send()
            .await
            .expect("GET /pacientes"),
    )
    .await;
    r.expect_status(200);
    r.total_count()
}

#[tokio::test]
async fn boolean_variables_accept_1_0_true_false_yes_no_on_off() {
    // (value, is it true?)
    let cases = [
        ("1", true),
        ("true", true),
        ("yes", true),
        ("on", true),
        ("TRUE", true),
        ("0", false),
        ("false", false),
        ("no", false),
        ("off", false),
    ];
    for (value, truthy) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let srv = spawn_env(
            &args(dir.path(), "127.0.0.1:0"),
            &[
                ("AGENDAMENTO_NO_DEMO_DATA", value),
                ("AGENDAMENTO_WORKER_PAUSED", value),
            ],
        )
        .unwrap_or_else(|code| panic!("AGENDAMENTO_NO_DEMO_DATA={value} exited {code:?}"));
        let n = pacientes(&srv.base).await;
        assert_eq!(
            n == 0,
            truthy,
            "AGENDAMENTO_NO_DEMO_DATA={value}: {n} pacientes"
        );
        let saude = read(
            new_client()
                .get(format!("{}/sistema/saude", srv.base))
                .send()
                .await
                .expect("GET /sistema/saude"),
        )
        .await;
        assert_eq!(
            saude.body["worker"]["vivo"],
            serde_json::json!(!truthy),
            "AGENDAMENTO_WORKER_PAUSED={value}: {}",
            saude.text
        );
    }
}

#[tokio::test]
async fn a_boolean_variable_with_another_value_stops_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = spawn_env(
        &args(dir.path(), "127.0.0.1:0"),
        &[("AGENDAMENTO_NO_DEMO_DATA", "talvez")],
    );
    assert!(matches!(r, Err(Some(2))), "clap refuses it with exit 2");
}

/// `--backup-keep 0` would delete each automatic backup, and a restore's safety backup, as
/// soon as it is written (0 reads like "unlimited" beside `--backup-interval-secs 0` = off).
#[tokio::test]
async fn keeping_zero_backups_stops_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = args(dir.path(), "127.0.0.1:0");
    a.extend(["--backup-keep".to_owned(), "0".to_owned()]);
    let r = spawn_env(&a, &[]);
    assert!(matches!(r, Err(Some(2))), "clap refuses it with exit 2");
    let r = spawn_env(
        &args(dir.path(), "127.0.0.1:0"),
        &[("AGENDAMENTO_BACKUP_KEEP", "0")],
    );
    assert!(matches!(r, Err(Some(2))), "the variable too");
}

#[tokio::test]
async fn a_start_that_cannot_listen_loads_no_demo_data() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("tempdir");

    let r = spawn_env(&args(dir.path(), &addr), &[]);
    assert!(matches!(r, Err(Some(1))), "exit 1 when the port is taken");
    drop(taken);

    let mut again = args(dir.path(), "127.0.0.1:0");
    again.push("--no-demo-data".into());
    let srv = spawn_env(&again, &[]).unwrap_or_else(|code| panic!("second start exited {code:?}"));
    assert_eq!(
        pacientes(&srv.base).await,
        0,
        "the failed start wrote demo data"
    );
}

#[tokio::test]
async fn start_up_lines_name_the_data_folder_and_swagger_ui_after_the_listening_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = spawn_env(
        &args(dir.path(), "127.0.0.1:0"),
        &[("AGENDAMENTO_NO_DEMO_DATA", "1")],
    )
    .unwrap_or_else(|code| panic!("exited {code:?}"));
    let next = |what: &str| {
        srv.rest
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("no {what} line"))
    };
    let data = next("data folder");
    let banco = std::fs::canonicalize(dir.path().join("banco")).expect("banco exists");
    assert_eq!(data, format!("data folder: {}", banco.display()));
    let docs = next("Swagger UI");
    assert_eq!(docs, format!("Swagger UI: {}/docs", srv.base));
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_named_as_a_database_without_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = args(dir.path(), "127.0.0.1:0");
    a.extend([
        "--database-url".to_owned(),
        "postgres://clinica:senha-do-banco@127.0.0.1:1/agenda".to_owned(),
    ]);
    let out = Command::new(binary())
        .args(&a)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "exit 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "não foi possível usar o banco de dados postgres://clinica@127.0.0.1:1/agenda"
        ),
        "names the database, not a data folder: {err}"
    );
    assert!(!err.contains("senha-do-banco"), "no password: {err}");
}
