//! E-mail settings at the process level (SPEC-2 §13): a malformed `--smtp-url` or
//! `--smtp-remetente` stops the start with a clear message that never repeats the password,
//! and a configured relay is logged with its password masked.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TestServer, binary};

const SENHA: &str = "segredo-9xq";

/// Arguments, environment, what stderr must say, and why the start is refused.
type Caso<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str, &'a str);

fn rodar(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let d = |s: &str| dir.join(s).display().to_string();
    let mut cmd = Command::new(binary());
    cmd.args(["--addr", "127.0.0.1:0", "--no-demo-data"])
        .args(["--data-dir", &d("banco"), "--backup-dir", &d("backups")])
        .args(["--reports-dir", &d("reports"), "--logs-dir", &d("logs")])
        .args(args)
        .env_remove("AGENDAMENTO_SMTP_URL")
        .env_remove("AGENDAMENTO_SMTP_REMETENTE")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run")
}

#[test]
fn a_malformed_smtp_setting_stops_the_start_with_a_clear_message_and_no_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url_ruim = format!("smtps://agenda:{SENHA}@smtp.exemplo.com:465?tls=starttls");
    let remetente = ["--smtp-remetente", "Clínica <agenda@clinica.com.br>"];
    let casos: Vec<Caso<'_>> = vec![
        (
            [&["--smtp-url", url_ruim.as_str()][..], &remetente[..]].concat(),
            vec![],
            "--smtp-url",
            "a flag with a contradictory URL",
        ),
        (
            remetente.to_vec(),
            vec![("AGENDAMENTO_SMTP_URL", url_ruim.as_str())],
            "AGENDAMENTO_SMTP_URL",
            "the same URL from the environment",
        ),
        (
            vec![
                "--smtp-url",
                "smtp://127.0.0.1:2525",
                "--smtp-remetente",
                "não é e-mail",
            ],
            vec![],
            "remetente inválido",
            "a sender that is no mailbox",
        ),
        (
            vec!["--smtp-url", "smtp://127.0.0.1:2525"],
            vec![],
            "--smtp-remetente",
            "a relay without a sender",
        ),
    ];
    for (args, env, espera, why) in casos {
        let out = rodar(dir.path(), &args, &env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{why}: {err}");
        assert!(err.contains(espera), "{why}: {err}");
        assert!(!err.contains(SENHA), "{why}: the password leaked: {err}");
        assert!(!dir.path().join("banco").exists(), "{why}: nothing opened");
    }
}

#[tokio::test]
async fn a_configured_relay_is_logged_with_its_password_masked() {
    let url = format!("smtps://agenda%40clinica.com.br:{SENHA}@127.0.0.1:1");
    let srv = TestServer::start_with(&[
        "--smtp-url",
        &url,
        "--smtp-remetente",
        "Clínica <agenda@clinica.com.br>",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !srv.stderr().contains("e-mail on") {
        assert!(
            Instant::now() < deadline,
            "no e-mail line: {}",
            srv.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stderr = srv.stderr();
    assert!(
        stderr.contains("smtps://agenda%40clinica.com.br:***@127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains(SENHA), "{stderr}");
    let logs = srv.data_dir().with_file_name("logs");
    for f in std::fs::read_dir(&logs).expect("logs dir").flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap_or_default();
        assert!(!text.contains(SENHA), "{}: {text}", f.path().display());
    }
}
