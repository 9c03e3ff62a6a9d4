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
pub(crate) struct Servidor {
    child: Child,
    pub(crate) base: String,
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
pub(crate) fn iniciar(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Servidor, Option<i32>> {
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

/// A server in `dir` with sign-in on, no demo data and the administrator
/// `chefe@clinica.example` (from the environment), with that administrator's token.
pub(crate) async fn com_chefe(dir: &Path) -> (Servidor, String) {
    let env = [
        ("AGENDAMENTO_ADMIN_EMAIL", "chefe@clinica.example"),
        ("AGENDAMENTO_ADMIN_SENHA", "senha-da-chefe"),
    ];
    let srv = iniciar(dir, &["--addr", "127.0.0.1:0", "--no-demo-data"], &env).expect("start");
    let r = login(&srv.base, "chefe@clinica.example", "senha-da-chefe").await;
    let token = crate::common::str_field(&r.body, "token");
    (srv, token)
}

pub(crate) async fn login(base: &str, email: &str, senha: &str) -> crate::common::Resp {
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

/// A compose file's `${AGENDAMENTO_ADMIN_EMAIL:-}` passes empty values when the operator set
/// nothing: the server starts without an administrator instead of exiting on a blank one.
#[tokio::test]
async fn empty_administrator_variables_count_as_unset() {
    for env in [
        [
            ("AGENDAMENTO_ADMIN_EMAIL", ""),
            ("AGENDAMENTO_ADMIN_SENHA", ""),
        ],
        [
            ("AGENDAMENTO_ADMIN_EMAIL", "chefe@clinica.example"),
            ("AGENDAMENTO_ADMIN_SENHA", ""),
        ],
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let srv = iniciar(
            dir.path(),
            &["--addr", "127.0.0.1:0", "--no-demo-data"],
            &env,
        )
        .unwrap_or_else(|code| panic!("{env:?}: exited with {code:?}"));
        let r = login(&srv.base, "chefe@clinica.example", "").await;
        assert_ne!(
            r.status, 200,
            "{env:?}: no administrator with a blank password"
        );
    }
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
async fn a_folder_with_a_clinics_records_and_no_users_gets_no_demo_users() {
    // A data folder from before sign-in existed: records, no users.
    let dir = tempfile::tempdir().expect("tempdir");
    let antes = iniciar(
        dir.path(),
        &["--addr", "127.0.0.1:0", "--no-demo-data", "--auth", "off"],
        &[],
    )
    .expect("start without sign-in");
    let r = new_client()
        .post(format!("{}/pacientes", antes.base))
        .json(&crate::common::paciente_body("Maria Real", 7))
        .send()
        .await
        .expect("POST /pacientes");
    assert_eq!(r.status(), 201);
    drop(antes);

    // The upgrade: the default start (demo data on, sign-in on).
    let depois = iniciar(dir.path(), &["--addr", "127.0.0.1:0"], &[]).expect("restart");
    assert!(
        !depois
            .saida
            .iter()
            .any(|l| l.contains("demo.agendamento.local")),
        "no demo users on a clinic's data: {:?}",
        depois.saida
    );
    let r = login(
        &depois.base,
        "admin@demo.agendamento.local",
        "qualquer-senha",
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(
        depois
            .saida
            .iter()
            .any(|l| l.contains("no users yet") && l.contains("usuarios criar-admin")),
        "says how to make the first administrator: {:?}",
        depois.saida
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

/// An SSE stream read over a real socket with a bearer token: every `data:` line, in order.
pub(crate) struct Fluxo {
    resp: reqwest::Response,
    buf: String,
    pub(crate) dados: Vec<serde_json::Value>,
}

impl Fluxo {
    pub(crate) async fn abrir(base: &str, token: &str, path: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's rustls (SPEC-2 §13 webhooks) needs one
        let resp = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("stream");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        Self {
            resp,
            buf: String::new(),
            dados: Vec::new(),
        }
    }

    /// Reads until the server ends the stream (bounded by 20 s); the events that came
    /// meanwhile are added to `dados`.
    pub(crate) async fn encerrado(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .unwrap_or_else(|_| panic!("the stream stayed open; got {:#?}", self.dados));
            match chunk {
                Ok(Some(c)) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                Ok(None) | Err(_) => break,
            }
        }
        for linha in self.buf.lines() {
            if let Some(d) = linha.strip_prefix("data:") {
                self.dados
                    .push(serde_json::from_str(d.trim()).unwrap_or_else(|_| d.trim().into()));
            }
        }
    }

    /// Reads until an event satisfies `pred` (bounded by 20 s).
    pub(crate) async fn ate(&mut self, pred: impl Fn(&serde_json::Value) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            while let Some(fim) = self.buf.find("\n\n") {
                let bloco: String = self.buf.drain(..fim + 2).collect();
                for linha in bloco.lines() {
                    if let Some(d) = linha.strip_prefix("data:") {
                        // Agenda events are JSON; a log line is kept as a string.
                        let v: serde_json::Value =
                            serde_json::from_str(d.trim()).unwrap_or_else(|_| d.trim().into());
                        let achou = pred(&v);
                        self.dados.push(v);
                        if achou {
                            return;
                        }
                    }
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .unwrap_or_else(|_| panic!("event not seen; got {:#?}", self.dados))
                .expect("read")
                .expect("stream open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agenda_events_are_filtered_per_role_over_a_real_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (srv, adm) = com_chefe(dir.path()).await;
    let base = srv.base.clone();
    let cliente = new_client();
    let post = |tok: &str, path: &str, body: serde_json::Value| {
        let req = cliente
            .post(format!("{base}{path}"))
            .bearer_auth(tok)
            .json(&body);
        async move { read(req.send().await.expect("post")).await }
    };
    let id = |r: crate::common::Resp| crate::common::str_field(&r.body, "id");
    let p1 = id(post(
        &adm,
        "/pacientes",
        crate::common::paciente_body("Paciente Um", 61),
    )
    .await);
    let p2 = id(post(
        &adm,
        "/pacientes",
        crate::common::paciente_body("Paciente Dois", 62),
    )
    .await);
    let m1 = id(post(
        &adm,
        "/medicos",
        crate::common::medico_body("Dr. Um", 61, "Clínica Geral"),
    )
    .await);
    let m2 = id(post(
        &adm,
        "/medicos",
        crate::common::medico_body("Dra. Dois", 62, "Pediatria"),
    )
    .await);
    for m in [&m1, &m2] {
        for dia in [
            "segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo",
        ] {
            post(
                &adm,
                &format!("/horarios/medico/{m}"),
                json!({"dia_semana": dia, "hora_inicio": "08:00", "hora_fim": "12:00"}),
            )
            .await
            .expect_status(201);
        }
    }
    for (email, extra) in [
        (
            "p1@clinica.example",
            json!({"papel": "paciente", "paciente_id": p1}),
        ),
        (
            "m1@clinica.example",
            json!({"papel": "medico", "medico_id": m1}),
        ),
    ] {
        let mut body = json!({"nome": "Usuário", "email": email, "senha": "senha-comum-1"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        post(&adm, "/usuarios", body).await.expect_status(201);
    }
    let tok = |r: crate::common::Resp| crate::common::str_field(&r.body, "token");
    let pac = tok(login(&base, "p1@clinica.example", "senha-comum-1").await);
    let med = tok(login(&base, "m1@clinica.example", "senha-comum-1").await);
    let mut fluxo_pac = Fluxo::abrir(&base, &pac, "/sistema/agenda/stream").await;
    let mut fluxo_med = Fluxo::abrir(&base, &med, "/sistema/agenda/stream").await;
    let mut fluxo_adm = Fluxo::abrir(&base, &adm, "/sistema/agenda/stream").await;
    let dia = jiff::Zoned::now().date().tomorrow().expect("tomorrow");
    let agendar = |p: &str, m: &str, h: u8| {
        json!({"paciente_id": p, "medico_id": m,
               "inicio": format!("{dia}T{h:02}:00:00"), "fim": format!("{dia}T{h:02}:30:00")})
    };
    // Patient two with doctor one, patient one with doctor two (both by the front desk).
    let t2 = post(&adm, "/consultas/agendar", agendar(&p2, &m1, 9)).await;
    t2.expect_status(202);
    let t2 = crate::common::str_field(&t2.body, "task_id");
    let t1 = post(&adm, "/consultas/agendar", agendar(&p1, &m2, 10)).await;
    t1.expect_status(202);
    let t1 = crate::common::str_field(&t1.body, "task_id");
    // Both bookings done (the administrator sees everything), then a marker hold.
    let concluida = |t: &str| {
        let t = t.to_owned();
        move |v: &serde_json::Value| {
            v["tipo"] == "tarefa_atualizada"
                && v["dados"]["task_id"] == t.as_str()
                && v["dados"]["status"] == "concluida"
        }
    };
    fluxo_adm.ate(concluida(&t2)).await;
    fluxo_adm.ate(concluida(&t1)).await;
    post(
        &pac,
        "/agenda/reservar",
        json!({"medico_id": m1, "slot": format!("{dia}T11:00:00")}),
    )
    .await
    .expect_status(200);
    let marca = |v: &serde_json::Value| {
        v["tipo"] == "horario_reservado"
            && v["dados"]["slot"]
                .as_str()
                .is_some_and(|s| s.ends_with("T11:00:00"))
    };
    fluxo_pac.ate(marca).await;
    fluxo_med.ate(marca).await;

    // The patient: slot states without another patient's data, their own tasks only.
    let texto = serde_json::to_string(&fluxo_pac.dados).expect("json");
    assert!(
        !texto.contains(&p2),
        "another patient's id reached a patient: {texto}"
    );
    assert!(
        !texto.contains(&t2),
        "another patient's task reached a patient"
    );
    assert!(
        fluxo_pac
            .dados
            .iter()
            .any(|v| v["tipo"] == "horario_ocupado"
                && v["dados"]["medico_id"] == m1.as_str()
                && v["dados"].get("consulta").is_none()),
        "the slot taken by someone else, without the consulta: {texto}"
    );
    assert!(
        fluxo_pac
            .dados
            .iter()
            .any(|v| v["tipo"] == "horario_ocupado"
                && v["dados"]["consulta"]["paciente_id"] == p1.as_str()),
        "their own consulta in full: {texto}"
    );
    assert!(
        fluxo_pac
            .dados
            .iter()
            .any(|v| v["tipo"] == "tarefa_atualizada" && v["dados"]["task_id"] == t1.as_str())
    );
    // The doctor: their own agenda in full, others' slot states only.
    let texto = serde_json::to_string(&fluxo_med.dados).expect("json");
    assert!(
        fluxo_med
            .dados
            .iter()
            .any(|v| v["tipo"] == "horario_ocupado"
                && v["dados"]["consulta"]["paciente_id"] == p2.as_str()),
        "their own agenda in full: {texto}"
    );
    assert!(
        !texto.contains(&p1),
        "another agenda's patient reached a doctor: {texto}"
    );
    assert!(
        !texto.contains(&t1),
        "another agenda's task reached a doctor"
    );
    assert!(
        fluxo_med
            .dados
            .iter()
            .any(|v| v["tipo"] == "horario_ocupado"
                && v["dados"]["medico_id"] == m2.as_str()
                && v["dados"].get("consulta").is_none()),
        "another agenda's slot state: {texto}"
    );
    // Logs are the administrator's only.
    for t in [&pac, &med] {
        let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's rustls (SPEC-2 §13 webhooks) needs one
        let r = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(format!("{base}/sistema/logs/stream"))
            .bearer_auth(t)
            .send()
            .await
            .expect("logs stream");
        assert_eq!(r.status().as_u16(), 403);
    }
}

/// "`POST /auth/logout` → 204 and the token is dead … Deactivating a user ends their
/// sessions" (SPEC-2 §10) also for event streams opened before: a receptionist's agenda
/// stream ends at the next event after logging out, without delivering it; an administrator
/// deactivated by another loses the log stream the same way. (They used to go on for as
/// long as the connection stayed open.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_end_with_their_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (srv, adm) = com_chefe(dir.path()).await;
    let base = srv.base.clone();
    let tok = |r: crate::common::Resp| crate::common::str_field(&r.body, "token");
    let cliente = new_client();
    let enviar = |metodo: reqwest::Method, tok: &str, path: &str, body: serde_json::Value| {
        let req = cliente
            .request(metodo, format!("{base}{path}"))
            .bearer_auth(tok)
            .json(&body);
        async move { read(req.send().await.expect("request")).await }
    };
    let post = |tok: &str, path: &str, body: serde_json::Value| {
        enviar(reqwest::Method::POST, tok, path, body)
    };
    let m = post(
        &adm,
        "/medicos",
        crate::common::medico_body("Dr. Fluxo", 71, "Clínica Geral"),
    )
    .await;
    m.expect_status(201);
    let m = crate::common::str_field(&m.body, "id");
    for dia in [
        "segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo",
    ] {
        post(
            &adm,
            &format!("/horarios/medico/{m}"),
            json!({"dia_semana": dia, "hora_inicio": "08:00", "hora_fim": "12:00"}),
        )
        .await
        .expect_status(201);
    }
    let mut ids = Vec::new();
    for (email, papel) in [
        ("rec@clinica.example", "recepcao"),
        ("adm2@clinica.example", "admin"),
    ] {
        let r = post(
            &adm,
            "/usuarios",
            json!({"nome": "Usuário", "email": email, "senha": "senha-comum-1", "papel": papel}),
        )
        .await;
        r.expect_status(201);
        ids.push(crate::common::str_field(&r.body, "id"));
    }
    let rec = tok(login(&base, "rec@clinica.example", "senha-comum-1").await);
    let adm2 = tok(login(&base, "adm2@clinica.example", "senha-comum-1").await);
    let mut agenda = Fluxo::abrir(&base, &rec, "/sistema/agenda/stream").await;
    let mut logs = Fluxo::abrir(&base, &adm2, "/sistema/logs/stream").await;
    let dia = jiff::Zoned::now().date().tomorrow().expect("tomorrow");
    let reservar = |h: u8| json!({"medico_id": m, "slot": format!("{dia}T{h:02}:00:00")});
    let reservado = |h: u8| {
        move |v: &serde_json::Value| {
            v["tipo"] == "horario_reservado"
                && v["dados"]["slot"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(&format!("T{h:02}:00:00")))
        }
    };
    // Both streams live.
    post(&adm, "/agenda/reservar", reservar(9))
        .await
        .expect_status(200);
    agenda.ate(reservado(9)).await;
    logs.ate(|_| true).await;
    // The receptionist signs out; the next event is not delivered and the stream ends.
    post(&rec, "/auth/logout", json!({}))
        .await
        .expect_status(204);
    post(&adm, "/agenda/reservar", reservar(10))
        .await
        .expect_status(200);
    agenda.encerrado().await;
    assert!(
        !agenda.dados.iter().any(reservado(10)),
        "an event after logout: {:#?}",
        agenda.dados
    );
    // The second administrator is deactivated: their log stream ends.
    enviar(
        reqwest::Method::DELETE,
        &adm,
        &format!("/usuarios/{}", ids[1]),
        json!(null),
    )
    .await
    .expect_status(204);
    post(&adm, "/agenda/reservar", reservar(11))
        .await
        .expect_status(200);
    logs.encerrado().await;
}

/// The failed sign-in's audit entry, with `X-Forwarded-For: 198.51.100.1, 203.0.113.7`
/// sent by the client, on a server started with `extra`; its `ip`.
async fn ip_auditado(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("AGENDAMENTO_ADMIN_EMAIL", "chefe@clinica.example"),
        ("AGENDAMENTO_ADMIN_SENHA", "senha-da-chefe"),
    ];
    let mut args = vec!["--addr", "127.0.0.1:0", "--no-demo-data"];
    args.extend_from_slice(extra);
    let srv = iniciar(dir.path(), &args, &env).expect("start");
    let r = new_client()
        .post(format!("{}/auth/login", srv.base))
        .header("x-forwarded-for", "198.51.100.1, 203.0.113.7")
        .json(&json!({"email": "chefe@clinica.example", "senha": "errada"}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 401);
    let token = crate::common::str_field(
        &login(&srv.base, "chefe@clinica.example", "senha-da-chefe")
            .await
            .body,
        "token",
    );
    let a = read(
        new_client()
            .get(format!("{}/sistema/auditoria?acao=login_falhou", srv.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("audit"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    crate::common::str_field(&a.body[0], "ip")
}

/// Behind the clinic's reverse proxy (`--proxy-confiavel`) the client's address is the one
/// that proxy added last to `X-Forwarded-For`, in the audit trail and the per-address
/// limits; without the setting the header is the client's word and is ignored.
#[tokio::test]
async fn the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy() {
    assert_eq!(ip_auditado(&[]).await, "127.0.0.1");
    assert_eq!(
        ip_auditado(&["--proxy-confiavel", "127.0.0.1"]).await,
        "203.0.113.7"
    );
    // Another proxy's address: still the peer's.
    assert_eq!(
        ip_auditado(&["--proxy-confiavel", "10.0.0.1,::1"]).await,
        "127.0.0.1"
    );
}
