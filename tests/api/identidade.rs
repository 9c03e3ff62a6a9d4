//! Sign-in at the process level (SPEC-2 §10): `--auth on` by default, the refusal of
//! `--auth off` beyond loopback, the first administrator from the environment, the
//! `usuarios criar-admin` command and the demo users printed once.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{binary, new_client, read};

/// A running server, killed when dropped.
struct Servidor {
    child: Child,
    base: String,
    /// Standard output up to and including the lines after `Swagger UI:` that arrived.
    saida: Vec<String>,
}

impl Drop for Servidor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pastas(dir: &Path) -> Vec<String> {
    let d = |s: &str| dir.join(s).display().to_string();
    vec![
        "--data-dir".into(),
        d("banco"),
        "--backup-dir".into(),
        d("backups"),
        "--reports-dir".into(),
        d("reports"),
        "--logs-dir".into(),
        d("logs"),
    ]
}

/// Starts the binary with sign-in on unless `args` say otherwise; `Err(code)` if it exits.
fn iniciar(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Servidor, Option<i32>> {
    let mut cmd = Command::new(binary());
    cmd.args(pastas(dir))
        .args(["--backup-interval-secs", "0"])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("AGENDAMENTO_AUTH")
        .env_remove("AGENDAMENTO_ADMIN_EMAIL")
        .env_remove("AGENDAMENTO_ADMIN_SENHA")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut saida = Vec::new();
    let mut base = None;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Some(b) = line.strip_prefix("listening on ") {
                    base = Some(b.trim().to_owned());
                }
                let fim = line.starts_with("Swagger UI:");
                saida.push(line);
                if fim {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(status.code());
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(child.wait().expect("wait").code());
            }
        }
    }
    // The demo users are printed right after the Swagger UI line, in the same function.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
        saida.push(line);
    }
    let base = base.expect("listening on");
    Ok(Servidor { child, base, saida })
}

async fn login(base: &str, email: &str, senha: &str) -> crate::common::Resp {
    read(
        new_client()
            .post(format!("{base}/auth/login"))
            .json(&json!({"email": email, "senha": senha}))
            .send()
            .await
            .expect("login"),
    )
    .await
}

#[tokio::test]
async fn sign_in_is_on_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = iniciar(
        dir.path(),
        &["--addr", "127.0.0.1:0", "--no-demo-data"],
        &[],
    )
    .expect("start");
    let r = read(
        new_client()
            .get(format!("{}/pacientes", srv.base))
            .send()
            .await
            .expect("get"),
    )
    .await;
    r.expect_status(401);
    assert_eq!(r.body["code"], "nao_autenticado");
    assert_eq!(r.header("www-authenticate"), "Bearer");
}

#[tokio::test]
async fn auth_off_beyond_loopback_is_refused_with_exit_2_unless_insecure_is_confirmed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(binary())
        .args(pastas(dir.path()))
        .args(["--addr", "0.0.0.0:0", "--no-demo-data", "--auth", "off"])
        .env_remove("AGENDAMENTO_AUTH")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--auth off") && err.contains("--inseguro-sem-auth"),
        "{err}"
    );
    assert!(!dir.path().join("banco").exists(), "nothing opened");
    let srv = iniciar(
        dir.path(),
        &[
            "--addr",
            "0.0.0.0:0",
            "--no-demo-data",
            "--auth",
            "off",
            "--inseguro-sem-auth",
        ],
        &[],
    );
    assert!(srv.is_ok(), "starts when confirmed");
}

#[tokio::test]
async fn the_first_administrator_comes_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("AGENDAMENTO_ADMIN_EMAIL", "chefe@clinica.example"),
        ("AGENDAMENTO_ADMIN_SENHA", "senha-da-chefe"),
    ];
    let srv = iniciar(
        dir.path(),
        &["--addr", "127.0.0.1:0", "--no-demo-data"],
        &env,
    )
    .expect("start");
    let r = login(&srv.base, "chefe@clinica.example", "senha-da-chefe").await;
    r.expect_status(200);
    assert_eq!(r.body["usuario"]["papel"], "admin");
}

#[tokio::test]
async fn criar_admin_reads_the_password_from_stdin_and_is_refused_while_a_server_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let criar = |senha: &str| {
        let mut child = Command::new(binary())
            .args([
                "usuarios",
                "criar-admin",
                "--email",
                "ana@clinica.example",
                "--nome",
                "Ana",
            ])
            .args([
                "--data-dir",
                &dir.path().join("banco").display().to_string(),
            ])
            .env_remove("AGENDAMENTO_ADMIN_SENHA")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{senha}\n").as_bytes())
            .expect("write");
        child.wait_with_output().expect("wait")
    };
    let out = criar("senha-da-ana");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let srv = iniciar(
        dir.path(),
        &["--addr", "127.0.0.1:0", "--no-demo-data"],
        &[],
    )
    .expect("start");
    login(&srv.base, "ana@clinica.example", "senha-da-ana")
        .await
        .expect_status(200);
    let again = criar("outra-senha-longa");
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("em uso"),
        "clear error while the server holds the folder: {err}"
    );
}

#[tokio::test]
async fn demo_users_are_created_and_printed_once_on_the_first_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = iniciar(dir.path(), &["--addr", "127.0.0.1:0"], &[]).expect("start");
    let linha = srv
        .saida
        .iter()
        .find(|l| l.starts_with("demo users (password for all: "))
        .unwrap_or_else(|| panic!("no demo users in {:?}", srv.saida));
    let senha = linha
        .trim_start_matches("demo users (password for all: ")
        .trim_end_matches("):")
        .to_owned();
    for papel in ["admin", "recepcao", "medico", "paciente"] {
        let email = format!("{papel}@demo.agendamento.local");
        assert!(srv.saida.iter().any(|l| l.contains(&email)), "{email}");
        let r = login(&srv.base, &email, &senha).await;
        r.expect_status(200);
        assert_eq!(r.body["usuario"]["papel"], papel);
    }
    drop(srv);
    let again = iniciar(dir.path(), &["--addr", "127.0.0.1:0"], &[]).expect("restart");
    assert!(
        !again.saida.iter().any(|l| l.contains("password")),
        "printed only once: {:?}",
        again.saida
    );
}

#[tokio::test]
async fn more_than_30_logins_a_minute_from_one_client_address_are_429_over_a_real_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = iniciar(
        dir.path(),
        &["--addr", "127.0.0.1:0", "--no-demo-data"],
        &[],
    )
    .expect("start");
    for i in 0..30 {
        let r = login(
            &srv.base,
            &format!("u{i}@clinica.example"),
            "qualquer-senha",
        )
        .await;
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text);
    }
    let r = login(&srv.base, "outro@clinica.example", "qualquer-senha").await;
    r.expect_status(429);
    assert_eq!(r.body["code"], "muitas_tentativas");
    let secs: u64 = r
        .header("retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&secs), "{secs}");
}
