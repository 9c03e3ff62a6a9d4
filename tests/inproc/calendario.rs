//! Calendars and public links (SPEC-2 §13–§14) through the production router: the `.ics` of
//! one appointment, feed tokens and feeds, the `/c/{token}` pages. Every `.ics` is checked by
//! `tests/ics_estrito.py` (byte-level RFC 5545 rules plus the Python `icalendar` parser),
//! independent of the server's generator.

use std::io::Write as _;
use std::process::{Command, Stdio};

use agendamento::services::usuarios;
use axum::http::Method;
use serde_json::{Value, json};

use crate::harness::{Resp, TestApp};
use crate::helpers::{
    assert_problem, at, criar_consulta, criar_medico, criar_paciente, monday, str_field, unknown_id,
};

/// The strict check's verdict on `ics` (it must pass) and what it parsed.
fn estrito(ics: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ics_estrito.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (the CI installs it with the icalendar package)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ics.as_bytes())
        .expect("write ics");
    let out = child.wait_with_output().expect("python3 ends");
    assert!(
        out.status.success(),
        "checker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("checker JSON");
    assert_eq!(v["ok"], json!(true), "strict RFC 5545 check: {v:#}\n{ics}");
    v
}

/// The one event of a per-appointment `.ics`.
fn evento(v: &Value) -> Value {
    let evs = v["eventos"].as_array().expect("eventos");
    assert_eq!(evs.len(), 1, "{v:#}");
    evs[0].clone()
}

async fn ics(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/consultas/{id}/ics")).await;
    r.expect_status(200);
    assert_eq!(r.header("content-type"), "text/calendar; charset=utf-8");
    assert_eq!(
        r.header("content-disposition"),
        format!("attachment; filename=\"consulta-{id}.ics\"")
    );
    let v = estrito(&r.text);
    assert_eq!(v["method"], "PUBLISH");
    evento(&v)
}

/// `inicio` (clinic-local, São Paulo, UTC−3 with no daylight saving since 2019) in UTC.
fn utc(local: &str) -> String {
    let dt: jiff::civil::DateTime = local.parse().expect("datetime");
    let z = dt.in_tz("America/Sao_Paulo").expect("zone");
    z.timestamp().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[tokio::test]
async fn an_appointment_ics_folds_long_accented_names_escapes_text_and_publishes_utc() {
    let nome_clinica = "Clínica São José; Unidade 1, Centro \\ Sul\nBloco B";
    let app = TestApp::with(|c| c.clinica_nome = nome_clinica.into()).await;
    let p = criar_paciente(&app, "Joana, a Paciente; \\ Teste", 11).await;
    let nome_medico = "Dra. Maria da Conceição Assunção Brandão Guimarães Magalhães de Araújo \
        e Sá Gonçalves Conceição Ávila";
    let m = criar_medico(&app, nome_medico, 11, "Ortopedia, Traumatologia; Coluna").await;
    let seg = monday(1);
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let c = criar_consulta(&app, &str_field(&p, "id"), &str_field(&m, "id"), &ini, &fim).await;
    let id = str_field(&c, "id");

    let r = app.get(&format!("/consultas/{id}/ics")).await;
    r.expect_status(200);
    // The long line was folded (the checker verified every line is at most 75 octets).
    assert!(r.text.contains("\r\n "), "{}", r.text);
    let e = ics(&app, &id).await;

    assert_eq!(e["uid"], format!("{id}@agendamento"));
    assert_eq!(e["dtstart"], utc(&ini));
    assert_eq!(e["dtend"], utc(&fim));
    assert_eq!(e["status"], "TENTATIVE");
    assert_eq!(e["sequence"], 0);
    assert_eq!(
        e["summary"],
        format!("Consulta — {nome_medico} (Ortopedia, Traumatologia; Coluna)")
    );
    assert_eq!(e["location"], nome_clinica);
    // The per-appointment copy for staff carries the patient's name.
    assert_eq!(e["description"], "Paciente: Joana, a Paciente; \\ Teste");
}

#[tokio::test]
async fn the_uid_stays_across_a_move_the_sequence_grows_and_a_cancelled_one_is_cancelled() {
    let app = TestApp::new().await;
    let pid = app.paciente(21).await;
    let mid = app.medico(21, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let c = criar_consulta(&app, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let id = str_field(&c, "id");
    let e0 = ics(&app, &id).await;
    assert_eq!(
        (e0["sequence"].clone(), e0["status"].clone()),
        (json!(0), json!("TENTATIVE"))
    );

    app.put(
        &format!("/consultas/{id}"),
        &json!({"status": "confirmada"}),
    )
    .await
    .expect_status(200);
    let e1 = ics(&app, &id).await;
    assert_eq!(
        (e1["sequence"].clone(), e1["status"].clone()),
        (json!(1), json!("CONFIRMED"))
    );

    app.post(
        &format!("/consultas/{id}/remarcar"),
        &json!({"inicio": at(seg, "10:00")}),
    )
    .await
    .expect_status(200);
    let e2 = ics(&app, &id).await;
    assert_eq!(e2["uid"], e0["uid"]);
    assert_eq!(e2["sequence"], 2);
    assert_eq!(e2["dtstart"], utc(&at(seg, "10:00")));
    assert_eq!(e2["dtend"], utc(&at(seg, "10:30")));

    // A new end alone is a change too: the history says `remarcada` from and to the same
    // start, and the calendar sees a new SEQUENCE with the new DTEND.
    app.put(
        &format!("/consultas/{id}"),
        &json!({"fim": at(seg, "11:00")}),
    )
    .await
    .expect_status(200);
    let e3 = ics(&app, &id).await;
    assert_eq!(e3["sequence"], 3);
    assert_eq!(e3["dtend"], utc(&at(seg, "11:00")));
    let h = app.get(&format!("/consultas/{id}/historico")).await;
    h.expect_status(200);
    let ultima = h
        .body
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .expect("entries");
    assert_eq!(
        (
            ultima["acao"].clone(),
            ultima["de"].clone(),
            ultima["para"].clone()
        ),
        (
            json!("remarcada"),
            json!(at(seg, "10:00")),
            json!(at(seg, "10:00"))
        )
    );

    app.post(&format!("/consultas/{id}/cancelar"), &json!({}))
        .await
        .expect_status(200);
    let e4 = ics(&app, &id).await;
    assert_eq!(e4["uid"], e0["uid"]);
    assert_eq!(e4["status"], "CANCELLED");
    assert_eq!(e4["sequence"], 4);

    assert_problem(
        &app.get(&format!("/consultas/{}/ics", unknown_id())).await,
        404,
        "not_found",
    );
}

const ADMIN_EMAIL: &str = "admin@clinica.example";
const ADMIN_SENHA: &str = "senha-do-admin";
const SENHA: &str = "senha-comum-1";

async fn token(app: &TestApp, email: &str, senha: &str) -> String {
    let r = app
        .post("/auth/login", &json!({"email": email, "senha": senha}))
        .await;
    r.expect_status(200);
    str_field(&r.body, "token")
}

async fn com(app: &TestApp, tok: &str, method: Method, uri: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {tok}");
    let mut h = vec![("authorization", auth.as_str())];
    match body {
        Some(b) => {
            h.push(("content-type", "application/json"));
            app.send(method, uri, &h, b.to_string()).await
        }
        None => app.send(method, uri, &h, "").await,
    }
}

/// Sign-in on: admin, a doctor user, a patient user and another patient user; an
/// appointment of the first patient with the doctor.
struct Cena {
    app: TestApp,
    admin: String,
    medico: String,
    paciente: String,
    outro: String,
    mid: String,
    pid: String,
    consulta: String,
}

async fn cena() -> Cena {
    let app = TestApp::with_args(&["--auth", "on"]).await;
    usuarios::criar_admin(&app.state, ADMIN_EMAIL, "Admin", ADMIN_SENHA.into())
        .await
        .expect("first admin");
    let admin = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let mk = |uri: &'static str, body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let r = com(app, &admin, Method::POST, uri, Some(&body)).await;
            r.expect_status(201);
            str_field(&r.body, "id")
        }
    };
    let pid = mk(
        "/pacientes",
        crate::common::paciente_body("Paula Ramos", 31),
    )
    .await;
    let outro_pid = mk("/pacientes", crate::common::paciente_body("Otto Lima", 32)).await;
    let mid = mk(
        "/medicos",
        crate::common::medico_body("Dr. Marco Aurélio", 31, "Cardiologia"),
    )
    .await;
    for (papel, extra) in [
        ("medico", json!({"medico_id": mid})),
        ("paciente", json!({"paciente_id": pid})),
        ("outro", json!({"paciente_id": outro_pid})),
    ] {
        let mut b = json!({"nome": format!("Usuário {papel}"), "email": format!("{papel}@clinica.example"),
            "papel": if papel == "outro" { "paciente" } else { papel }, "senha": SENHA});
        b.as_object_mut()
            .expect("obj")
            .extend(extra.as_object().expect("obj").clone());
        com(&app, &admin, Method::POST, "/usuarios", Some(&b))
            .await
            .expect_status(201);
    }
    let seg = monday(1);
    let consulta = mk(
        "/consultas",
        crate::common::consulta_body(&pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")),
    )
    .await;
    Cena {
        medico: token(&app, "medico@clinica.example", SENHA).await,
        paciente: token(&app, "paciente@clinica.example", SENHA).await,
        outro: token(&app, "outro@clinica.example", SENHA).await,
        app,
        admin,
        mid,
        pid,
        consulta,
    }
}

#[tokio::test]
async fn staff_and_the_patient_get_the_patient_name_the_doctor_does_not_others_get_404() {
    let c = cena().await;
    let uri = format!("/consultas/{}/ics", c.consulta);
    for (quem, tok, com_nome) in [
        ("admin", &c.admin, true),
        ("paciente", &c.paciente, true),
        ("medico", &c.medico, false),
    ] {
        let r = com(&c.app, tok, Method::GET, &uri, None).await;
        r.expect_status(200);
        let e = evento(&estrito(&r.text));
        assert_eq!(
            e["summary"], "Consulta — Dr. Marco Aurélio (Cardiologia)",
            "{quem}"
        );
        assert_eq!(r.text.contains("Paula"), com_nome, "{quem}: {}", r.text);
    }
    assert_problem(
        &com(&c.app, &c.outro, Method::GET, &uri, None).await,
        404,
        "not_found",
    );
    assert_problem(&c.app.get(&uri).await, 401, "nao_autenticado");
}

async fn novo_feed(c: &Cena, tok: &str, body: Value) -> Resp {
    com(&c.app, tok, Method::POST, "/calendario/token", Some(&body)).await
}

#[tokio::test]
async fn feeds_hold_no_personal_data_answer_304_and_a_new_token_revokes_the_old() {
    let c = cena().await;
    // A cancelled appointment stays in the feed as CANCELLED; one from 100 days ago is out.
    let seg = monday(2);
    let r = com(
        &c.app,
        &c.admin,
        Method::POST,
        "/consultas",
        Some(&crate::common::consulta_body(
            &c.pid,
            &c.mid,
            &at(seg, "10:00"),
            &at(seg, "10:30"),
        )),
    )
    .await;
    r.expect_status(201);
    let cancelada = str_field(&r.body, "id");
    com(
        &c.app,
        &c.admin,
        Method::POST,
        &format!("/consultas/{cancelada}/cancelar"),
        Some(&json!({})),
    )
    .await
    .expect_status(200);
    let antiga = monday(0)
        .checked_sub(jiff::Span::new().days(100))
        .expect("date");
    com(
        &c.app,
        &c.admin,
        Method::POST,
        "/consultas",
        Some(&crate::common::consulta_body(
            &c.pid,
            &c.mid,
            &at(antiga, "10:00"),
            &at(antiga, "10:30"),
        )),
    )
    .await
    .expect_status(201);

    // The doctor asks for their own feed (a path: no --url-publica).
    let r = novo_feed(&c, &c.medico, json!({"medico_id": c.mid})).await;
    r.expect_status(200);
    let url = str_field(&r.body, "url");
    assert!(
        url.starts_with(&format!("/calendario/medico/{}.ics?token=", c.mid)),
        "{url}"
    );
    let feed = c.app.get(&url).await;
    feed.expect_status(200);
    assert_eq!(feed.header("content-type"), "text/calendar; charset=utf-8");
    let v = estrito(&feed.text);
    assert_eq!(v["method"], "PUBLISH");
    let evs = v["eventos"].as_array().expect("eventos");
    assert_eq!(evs.len(), 2, "{v:#}");
    let status: Vec<&str> = evs
        .iter()
        .map(|e| e["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(status, ["TENTATIVE", "CANCELLED"]);
    assert_eq!(evs[0]["summary"], "Consulta 09:00");
    for pessoal in ["Paula", "Ramos", "Paciente:", &crate::common::cpf(31)] {
        assert!(
            !feed.text.contains(pessoal),
            "{pessoal} in the feed:\n{}",
            feed.text
        );
    }
    // ETag → 304 with If-None-Match; another tag → 200.
    let etag = feed.header("etag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let r304 = c
        .app
        .send(Method::GET, &url, &[("if-none-match", etag.as_str())], "")
        .await;
    r304.expect_status(304);
    assert_eq!(r304.header("etag"), etag);
    assert!(r304.text.is_empty());
    c.app
        .send(Method::GET, &url, &[("if-none-match", "\"outro\"")], "")
        .await
        .expect_status(200);
    // A change changes the tag.
    com(
        &c.app,
        &c.admin,
        Method::PUT,
        &format!("/consultas/{}", c.consulta),
        Some(&json!({"status": "confirmada"})),
    )
    .await
    .expect_status(200);
    let depois = c
        .app
        .send(Method::GET, &url, &[("if-none-match", etag.as_str())], "")
        .await;
    depois.expect_status(200);
    assert_ne!(depois.header("etag"), etag);

    // A new token revokes the previous one; wrong and missing tokens are 404.
    let r2 = novo_feed(&c, &c.admin, json!({"medico_id": c.mid})).await;
    r2.expect_status(200);
    let url2 = str_field(&r2.body, "url");
    assert_ne!(url2, url);
    assert_problem(&c.app.get(&url).await, 404, "not_found");
    c.app.get(&url2).await.expect_status(200);
    let sem = format!("/calendario/medico/{}.ics", c.mid);
    assert_problem(&c.app.get(&sem).await, 404, "not_found");
    assert_problem(
        &c.app.get(&format!("{sem}?token=errado")).await,
        404,
        "not_found",
    );
    let token2 = url2.split("token=").nth(1).expect("token");
    let sem_ics = format!("/calendario/medico/{}?token={token2}", c.mid);
    assert_problem(&c.app.get(&sem_ics).await, 404, "not_found");
    // A token of the doctor's feed opens no patient feed.
    let trocado = format!("/calendario/paciente/{}.ics?token={token2}", c.mid);
    assert_problem(&c.app.get(&trocado).await, 404, "not_found");

    // The patient's feed: the doctor and speciality, nothing of the patient.
    let r3 = novo_feed(&c, &c.paciente, json!({"paciente_id": c.pid})).await;
    r3.expect_status(200);
    let pf = c.app.get(&str_field(&r3.body, "url")).await;
    pf.expect_status(200);
    let v = estrito(&pf.text);
    assert_eq!(
        v["eventos"][0]["summary"],
        "Consulta — Dr. Marco Aurélio (Cardiologia)"
    );
    assert!(!pf.text.contains("Paula"), "{}", pf.text);
}

/// A new doctor's feed has no appointment yet, and RFC 5545 asks a calendar for at least
/// one component: it carries the clinic's zone as a VTIMEZONE (no time refers to it).
#[tokio::test]
async fn a_feed_with_no_appointment_is_still_a_valid_calendar() {
    let c = cena().await;
    let r = com(
        &c.app,
        &c.admin,
        Method::POST,
        "/medicos",
        Some(&crate::common::medico_body(
            "Dra. Nova Sem Agenda",
            33,
            "Pediatria",
        )),
    )
    .await;
    r.expect_status(201);
    let novo = str_field(&r.body, "id");
    let r = novo_feed(&c, &c.admin, json!({"medico_id": novo})).await;
    r.expect_status(200);
    let feed = c.app.get(&str_field(&r.body, "url")).await;
    feed.expect_status(200);
    let v = estrito(&feed.text);
    assert_eq!(v["eventos"].as_array().map(Vec::len), Some(0), "{v:#}");
    assert!(
        feed.text
            .contains("BEGIN:VTIMEZONE\r\nTZID:America/Sao_Paulo\r\n")
            && feed.text.contains("TZOFFSETTO:-0300\r\n"),
        "{}",
        feed.text
    );
}

#[tokio::test]
async fn a_feed_token_is_for_oneself_or_staff_and_names_exactly_one_owner() {
    let c = cena().await;
    // Someone else's feed: 404 (as any record outside one's own).
    let outro_medico = crate::common::unknown_id();
    assert_problem(
        &novo_feed(&c, &c.medico, json!({"medico_id": outro_medico})).await,
        404,
        "not_found",
    );
    assert_problem(
        &novo_feed(&c, &c.outro, json!({"paciente_id": c.pid})).await,
        404,
        "not_found",
    );
    assert_problem(
        &novo_feed(&c, &c.medico, json!({"paciente_id": c.pid})).await,
        404,
        "not_found",
    );
    assert_problem(
        &novo_feed(&c, &c.admin, json!({"medico_id": outro_medico})).await,
        404,
        "not_found",
    );
    for body in [
        json!({}),
        json!({"medico_id": c.mid, "paciente_id": c.pid}),
        json!({"medico_id": "  "}),
    ] {
        assert_problem(
            &novo_feed(&c, &c.admin, body).await,
            422,
            "validation_failed",
        );
    }
    // Staff may issue anyone's; nothing of the token is journaled but its hash.
    let r = novo_feed(&c, &c.admin, json!({"paciente_id": c.pid})).await;
    r.expect_status(200);
    let tok = str_field(&r.body, "url")
        .split("token=")
        .nth(1)
        .expect("token")
        .to_owned();
    let journal =
        std::fs::read_to_string(c.app.dir.path().join("banco/journal.jsonl")).expect("journal");
    assert!(!journal.contains(&tok), "the token itself was journaled");
}

#[tokio::test]
async fn with_url_publica_the_feed_url_is_absolute() {
    let app = TestApp::with_args(&["--url-publica", "https://agenda.clinica.example/"]).await;
    let mid = app.medico(41, &[]).await;
    let r = app
        .post("/calendario/token", &json!({"medico_id": mid}))
        .await;
    r.expect_status(200);
    let url = str_field(&r.body, "url");
    let prefixo = format!("https://agenda.clinica.example/calendario/medico/{mid}.ics?token=");
    assert!(url.starts_with(&prefixo), "{url}");
    app.get(&url["https://agenda.clinica.example".len()..])
        .await
        .expect_status(200);
}

/// A clinic with `--url-publica`, an appointment next week and its link's token.
async fn com_link(extra: &[&str]) -> (TestApp, String, String, String) {
    let mut args = vec!["--url-publica", "https://agenda.clinica.example"];
    args.extend_from_slice(extra);
    let app = TestApp::with_args(&args).await;
    let p = criar_paciente(&app, "Maria <b>Helena</b> Souza", 51).await;
    let m = criar_medico(&app, "Dra. Ana Souza", 51, "Dermatologia").await;
    let seg = monday(1);
    let c = criar_consulta(
        &app,
        &str_field(&p, "id"),
        &str_field(&m, "id"),
        &at(seg, "09:00"),
        &at(seg, "09:30"),
    )
    .await;
    let id = str_field(&c, "id");
    let consulta = app
        .state
        .store
        .read()
        .consultas
        .get(&id)
        .cloned()
        .expect("stored");
    let url = agendamento::services::links::url(&app.state, &consulta).expect("a link");
    let token = url
        .strip_prefix("https://agenda.clinica.example/c/")
        .expect("the link is under --url-publica")
        .to_owned();
    (app, id, token, str_field(&p, "cpf"))
}

fn cabecalhos_de_link(r: &Resp) {
    assert_eq!(r.header("referrer-policy"), "no-referrer");
    assert_eq!(r.header("cache-control"), "no-store");
}

#[tokio::test]
async fn a_link_page_shows_the_appointment_without_personal_data_and_confirms_it() {
    let (app, id, token, cpf) = com_link(&[]).await;
    assert!(token.len() <= 60, "short token: {token}");
    let r = app.get(&format!("/c/{token}")).await;
    r.expect_status(200);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    cabecalhos_de_link(&r);
    assert!(
        r.header("content-security-policy")
            .contains("default-src 'none'")
    );
    assert!(!r.text.contains("<script"), "no JavaScript");
    for esperado in [
        "Dra. Ana Souza",
        "Dermatologia",
        "09:00",
        "Olá, Maria.",
        "Confirmar",
        "Cancelar",
        "<form method=\"post\"",
    ] {
        assert!(r.text.contains(esperado), "{esperado} missing:\n{}", r.text);
    }
    for pessoal in ["Helena", "Souza</", &cpf, "11987654321", "data_nascimento"] {
        assert!(
            !r.text.contains(pessoal) || pessoal == "Souza</",
            "{pessoal}"
        );
    }
    assert!(!r.text.contains("Helena"), "only the first name");
    assert!(!r.text.contains(&cpf));

    // JSON on request.
    let j = app
        .send(
            Method::GET,
            &format!("/c/{token}"),
            &[("accept", "application/json")],
            "",
        )
        .await;
    j.expect_status(200);
    assert_eq!(j.body["paciente"], "Maria");
    assert_eq!(j.body["status"], "agendada");
    assert_eq!(j.body["medico"], "Dra. Ana Souza");

    // Confirm (a plain form post, no JSON).
    let r = app
        .send(
            Method::POST,
            &format!("/c/{token}/confirmar"),
            &[("content-type", "application/x-www-form-urlencoded")],
            "",
        )
        .await;
    r.expect_status(200);
    cabecalhos_de_link(&r);
    assert!(r.text.contains("Consulta confirmada"), "{}", r.text);
    assert_eq!(
        app.get(&format!("/consultas/{id}")).await.body["status"],
        "confirmada"
    );
    // Audited with the link as the actor.
    let aud = app.get("/sistema/auditoria?recurso=consultas").await;
    aud.expect_status(200);
    let pelo_link: Vec<&Value> = aud
        .array()
        .iter()
        .filter(|e| {
            e["request_id"]
                .as_str()
                .is_some_and(|s| s.starts_with("link público:"))
        })
        .collect();
    assert_eq!(pelo_link.len(), 1, "{:#}", aud.body);
    assert_eq!(pelo_link[0]["acao"], "alterar");
    assert_eq!(pelo_link[0]["recurso_id"], json!(id));
    assert_eq!(pelo_link[0]["usuario_id"], Value::Null);
    // The address the button led to, opened again (a GET): the page, acting on nothing.
    for acao in ["confirmar", "cancelar"] {
        let g = app.get(&format!("/c/{token}/{acao}")).await;
        g.expect_status(200);
        cabecalhos_de_link(&g);
        assert!(g.text.contains("Confirmada"), "{}", g.text);
        assert!(g.text.contains("action=\"cancelar\""), "{}", g.text);
    }
    assert_eq!(
        app.get(&format!("/consultas/{id}")).await.body["status"],
        "confirmada"
    );

    // Cancel, as JSON.
    let r = app
        .send(
            Method::POST,
            &format!("/c/{token}/cancelar"),
            &[("accept", "application/json")],
            "",
        )
        .await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "cancelada");
    assert_eq!(r.body["mensagem"], "Consulta cancelada.");
    // Confirming a cancelled appointment is refused, explained in the page.
    let r = app
        .post_raw(
            &format!("/c/{token}/confirmar"),
            "application/x-www-form-urlencoded",
            "",
        )
        .await;
    r.expect_status(409);
    assert!(r.text.contains("cancelada"), "{}", r.text);
    assert!(r.header("content-type").starts_with("text/html"));
}

#[tokio::test]
async fn the_cancellation_cutoff_refuses_a_cancel_through_the_link_with_an_explanation() {
    let (app, id, token, _) = com_link(&[]).await;
    app.put(
        "/sistema/regras",
        &json!({"prazo_cancelamento_horas": 24 * 30}),
    )
    .await
    .expect_status(200);
    let r = app
        .post_raw(
            &format!("/c/{token}/cancelar"),
            "application/x-www-form-urlencoded",
            "",
        )
        .await;
    r.expect_status(409);
    assert!(r.text.contains("prazo para cancelar"), "{}", r.text);
    assert!(
        r.text.contains("Dra. Ana Souza"),
        "the appointment is shown again"
    );
    let j = app
        .send(
            Method::POST,
            &format!("/c/{token}/cancelar"),
            &[("accept", "application/json")],
            "",
        )
        .await;
    assert_problem(&j, 409, "prazo_cancelamento");
    assert_eq!(
        app.get(&format!("/consultas/{id}")).await.body["status"],
        "agendada"
    );
}

#[tokio::test]
async fn tampered_expired_and_unknown_links_are_the_same_404_page() {
    let (app, _, token, _) = com_link(&[]).await;
    let segredo = &app.state.segredo;
    // Tampered: one character changed.
    let mut b = token.clone().into_bytes();
    b[5] = if b[5] == b'A' { b'B' } else { b'A' };
    let adulterado = String::from_utf8(b).expect("ascii");
    // Unknown appointment, validly signed.
    let futuro = jiff::Timestamp::now().as_second() + 86_400;
    let desconhecido =
        agendamento::services::links::assinar(segredo, &unknown_id(), futuro).expect("uuid");
    // Expired: an appointment that has started (recorded in the past by the desk).
    let p = criar_paciente(&app, "Pedro Passado", 52).await;
    let m = criar_medico(&app, "Dr. Ontem", 52, "Clínica Geral").await;
    let ontem = jiff::Timestamp::now()
        .in_tz("America/Sao_Paulo")
        .expect("tz")
        .date()
        .yesterday()
        .expect("date");
    let c = criar_consulta(
        &app,
        &str_field(&p, "id"),
        &str_field(&m, "id"),
        &at(ontem, "09:00"),
        &at(ontem, "09:30"),
    )
    .await;
    let passada = app
        .state
        .store
        .read()
        .consultas
        .get(&str_field(&c, "id"))
        .cloned()
        .expect("stored");
    let expirado = agendamento::services::links::token(&app.state, &passada).expect("token");
    // And a link of this appointment whose own expiry has passed (valid MAC).
    let vencido =
        agendamento::services::links::assinar(segredo, &str_field(&c, "id"), futuro - 2 * 86_400)
            .expect("uuid");

    let mut corpos = Vec::new();
    for t in [
        &adulterado,
        &desconhecido,
        &expirado,
        &vencido,
        &"lixo".to_owned(),
    ] {
        let r = app.get(&format!("/c/{t}")).await;
        r.expect_status(404);
        cabecalhos_de_link(&r);
        assert!(r.text.contains("não é válido ou já expirou"), "{}", r.text);
        corpos.push(r.text.clone());
        for acao in ["confirmar", "cancelar"] {
            let r = app
                .post_raw(
                    &format!("/c/{t}/{acao}"),
                    "application/x-www-form-urlencoded",
                    "",
                )
                .await;
            r.expect_status(404);
            assert_eq!(r.text, corpos[0], "the same page for every invalid link");
            let j = app
                .send(
                    Method::POST,
                    &format!("/c/{t}/{acao}"),
                    &[("accept", "application/json")],
                    "",
                )
                .await;
            let p = assert_problem(&j, 404, "not_found");
            assert_eq!(p["detail"], "Link inválido ou expirado.");
        }
    }
    assert!(corpos.windows(2).all(|w| w[0] == w[1]));
    // Nothing changed.
    assert_eq!(
        app.get(&format!("/consultas/{}", str_field(&c, "id")))
            .await
            .body["status"],
        "agendada"
    );
}

#[tokio::test]
async fn without_url_publica_there_are_no_links() {
    let app = TestApp::new().await;
    let (pid, mid) = crate::helpers::paciente_e_medico(&app).await;
    let seg = monday(1);
    let c = criar_consulta(&app, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let consulta = app
        .state
        .store
        .read()
        .consultas
        .get(&str_field(&c, "id"))
        .cloned()
        .expect("stored");
    assert_eq!(
        agendamento::services::links::url(&app.state, &consulta),
        None
    );
}

#[tokio::test]
async fn link_routes_are_limited_per_address_like_sign_in() {
    let (app, _, token, _) = com_link(&[]).await;
    let mut ultimo = 0;
    for _ in 0..31 {
        ultimo = app.get(&format!("/c/{token}")).await.status;
    }
    assert_eq!(ultimo, 429);
}

#[tokio::test]
async fn the_request_log_never_carries_a_link_token() {
    let app = TestApp::with_logs().await;
    let (pid, mid) = crate::helpers::paciente_e_medico(&app).await;
    let seg = monday(1);
    let c = criar_consulta(&app, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let consulta = app
        .state
        .store
        .read()
        .consultas
        .get(&str_field(&c, "id"))
        .cloned()
        .expect("stored");
    let token = agendamento::services::links::token(&app.state, &consulta).expect("token");
    app.get(&format!("/c/{token}")).await.expect_status(200);
    app.post_raw(
        &format!("/c/{token}/confirmar"),
        "application/x-www-form-urlencoded",
        "",
    )
    .await
    .expect_status(200);
    let logs = app.get("/sistema/logs?limit=1000").await;
    logs.expect_status(200);
    assert!(logs.text.contains("/c/{token}"), "{}", logs.text);
    assert!(!logs.text.contains(&token), "a token reached the log");
}

#[tokio::test]
async fn an_idempotency_key_never_stores_a_feed_token() {
    let app = TestApp::new().await;
    let mid = app.medico(61, &[]).await;
    let body = json!({"medico_id": mid}).to_string();
    let h = [
        ("content-type", "application/json"),
        ("idempotency-key", "feed-1"),
    ];
    let a = app
        .send(Method::POST, "/calendario/token", &h, body.clone())
        .await;
    a.expect_status(200);
    let b = app.send(Method::POST, "/calendario/token", &h, body).await;
    b.expect_status(200);
    let (ua, ub) = (str_field(&a.body, "url"), str_field(&b.body, "url"));
    assert_ne!(ua, ub, "a retry issues a new token");
    assert_problem(&app.get(&ua).await, 404, "not_found");
    app.get(&ub).await.expect_status(200);
    assert!(app.state.store.read().idem.is_empty(), "no answer kept");
}

/// POSTs `/c/{token}/confirmar` twice with the same `Idempotency-Key`, without a session:
/// both answers are the link's page, never a stored answer (which would be the whole
/// appointment record, notes and payment included, to whoever repeats the request).
async fn confirmar_duas_vezes_com_a_mesma_chave(app: &TestApp, token: &str) {
    let uri = format!("/c/{token}/confirmar");
    let h = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("idempotency-key", "link-1"),
    ];
    for vez in ["first", "second"] {
        let r = app.send(Method::POST, &uri, &h, "").await;
        r.expect_status(200);
        assert!(
            r.header("content-type").starts_with("text/html"),
            "{vez} answer: {} {}",
            r.header("content-type"),
            r.text
        );
        assert_eq!(r.header("idempotent-replayed"), "", "{vez} answer replayed");
        assert!(!r.text.contains("observacoes"), "{vez}: {}", r.text);
    }
}

#[tokio::test]
async fn an_idempotency_key_on_a_link_never_replays_the_appointment_record() {
    // Single-user mode (a caller is always there): the link's write stores no answer.
    let (app, _, token, _) = com_link(&[]).await;
    confirmar_duas_vezes_com_a_mesma_chave(&app, &token).await;
    // Sign-in on: a caller without a session gets no stored answers at all.
    let c = cena().await;
    let consulta = c
        .app
        .state
        .store
        .read()
        .consultas
        .get(&c.consulta)
        .cloned()
        .expect("stored");
    let token = agendamento::services::links::token(&c.app.state, &consulta).expect("token");
    confirmar_duas_vezes_com_a_mesma_chave(&c.app, &token).await;
}
