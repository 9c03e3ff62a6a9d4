//! One snapshot of the problem+json answer per error class (SPEC §1, STYLE 13): status,
//! content type, `Retry-After` when there is one, and the body, with record ids inside
//! sentences redacted. A changed status, code, title or sentence shows up in review.

use axum::body::Body;
use axum::http::Method;
use insta::dynamic_redaction;
use serde_json::{Value, json};

use crate::harness::{Resp, TestApp};
use crate::helpers::{at, consulta_body, monday, paciente_body};

/// `s` with every UUID (8-4-4-4-12 hex digits) replaced by `[id]`.
fn redact_uuids(s: &str) -> String {
    let bytes = s.as_bytes();
    let is_uuid = |w: &[u8]| {
        w.len() == 36
            && w.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes.len() - i >= 36 && is_uuid(&bytes[i..i + 36]) {
            out.push_str("[id]");
            i += 36;
        } else {
            let ch = s[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// What a client sees of an error answer, as one value to snapshot.
fn seen(r: &Resp) -> Value {
    let mut v = json!({
        "status": r.status,
        "content-type": r.header("content-type"),
        "body": r.body,
    });
    let retry = r.header("retry-after");
    if !retry.is_empty() {
        v["retry-after"] = json!(retry);
    }
    let challenge = r.header("www-authenticate");
    if !challenge.is_empty() {
        v["www-authenticate"] = json!(challenge);
    }
    v
}

/// Asserts the answer against the named snapshot, ids in `detail` redacted.
#[track_caller]
fn snapshot(name: &str, r: &Resp) {
    assert!(
        r.status >= 400,
        "{name}: not an error: {} {}",
        r.status,
        r.text
    );
    insta::assert_json_snapshot!(name, seen(r), {
        ".body.detail" => dynamic_redaction(|value, _| {
            value.as_str().map(redact_uuids).unwrap_or_default()
        }),
    });
}

#[test]
fn redact_uuids_replaces_only_uuids() {
    assert_eq!(
        redact_uuids("id 0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b; médico já"),
        "id [id]; médico já"
    );
    assert_eq!(redact_uuids("sem id"), "sem id");
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let app = TestApp::new().await;
    let r = app
        .send(
            Method::POST,
            "/pacientes",
            &[("content-type", "application/json")],
            "{\"nome\": ",
        )
        .await;
    r.expect_problem(400, "invalid_json");
    snapshot("400_invalid_json", &r);
}

#[tokio::test]
async fn unknown_route_is_404_and_unknown_record_is_404_not_found() {
    let app = TestApp::new().await;
    let route = app.get("/nao-existe").await;
    let record = app
        .get("/pacientes/0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b")
        .await;
    snapshot("404_route", &route);
    record.expect_problem(404, "not_found");
    snapshot("404_record", &record);
}

#[tokio::test]
async fn wrong_method_is_405() {
    let app = TestApp::new().await;
    let r = app.delete("/pacientes").await;
    r.expect_status(405);
    snapshot("405_method_not_allowed", &r);
}

#[tokio::test]
async fn duplicate_cpf_is_409_naming_the_existing_record() {
    let app = TestApp::new().await;
    app.paciente(1).await;
    let r = app.post("/pacientes", &paciente_body("Outra", 1)).await;
    r.expect_problem(409, "duplicate_cpf");
    snapshot("409_duplicate_cpf", &r);
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let app = TestApp::new().await;
    let big = paciente_body(&"a".repeat(70_000), 2);
    let r = app.post("/pacientes", &big).await;
    r.expect_status(413);
    snapshot("413_payload_too_large", &r);
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let app = TestApp::new().await;
    let r = app
        .send(
            Method::POST,
            "/pacientes",
            &[("content-type", "text/plain")],
            paciente_body("Texto", 3).to_string(),
        )
        .await;
    r.expect_status(415);
    snapshot("415_unsupported_media_type", &r);
}

#[tokio::test]
async fn bad_fields_are_422_with_one_error_per_field() {
    let app = TestApp::new().await;
    let mut body = paciente_body("", 4);
    body["cpf"] = json!("123");
    body["email"] = json!("sem-arroba");
    let r = app.post("/pacientes", &body).await;
    r.expect_problem(422, "validation_failed");
    snapshot("422_validation_failed", &r);
}

#[tokio::test]
async fn a_slot_grid_over_the_limit_is_422_agenda_too_large() {
    let app = TestApp::with(|c| c.max_slots = 10).await;
    let mid = app.medico(1, &[("segunda", "08:00", "12:00")]).await;
    let de = monday(1);
    // Two Mondays of 8 slots: 16, over the limit of 10.
    let r = app
        .get(&format!("/agenda/slots?medico_id={mid}&de={de}&days=14"))
        .await;
    r.expect_problem(422, "agenda_too_large");
    snapshot("422_agenda_too_large", &r);
}

#[tokio::test]
async fn booking_a_taken_slot_is_409_horario_ocupado() {
    let app = TestApp::new().await;
    let pid = app.paciente(5).await;
    let mid = app.medico(2, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    app.post("/consultas", &consulta_body(&pid, &mid, &ini, &fim))
        .await
        .expect_status(201);
    let r = app
        .post("/agenda/reservar", &json!({"medico_id": mid, "slot": ini}))
        .await;
    r.expect_problem(409, "horario_ocupado");
    // The slot's date moves with today: the sentence is compared with it replaced.
    let mut r = r;
    r.body["detail"] = json!(
        r.body["detail"]
            .as_str()
            .expect("detail")
            .replace(&ini, "[slot]")
    );
    snapshot("409_horario_ocupado", &r);
}

#[tokio::test]
async fn a_full_bulk_queue_is_429_queue_full_with_retry_after() {
    // The worker never runs here, so the first backup stays queued.
    let app = TestApp::with(|c| c.tarefas_fila_max = 1).await;
    app.post("/sistema/tasks/backup", &json!({}))
        .await
        .expect_status(202);
    let r = app.post("/sistema/tasks/backup", &json!({})).await;
    r.expect_problem(429, "queue_full");
    snapshot("429_queue_full", &r);
}

#[tokio::test]
async fn a_request_past_the_timeout_is_503_request_timeout_with_retry_after() {
    let app = TestApp::with(|c| c.request_timeout_secs = 1).await;
    // The body never comes: the handler waits for it until the timeout answers.
    let never = futures_util::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
    let r = app
        .send(
            Method::POST,
            "/pacientes",
            &[("content-type", "application/json")],
            Body::from_stream(never),
        )
        .await;
    r.expect_problem(503, "request_timeout");
    snapshot("503_request_timeout", &r);
    assert_eq!(app.get("/pacientes").await.body, json!([]));
}

/// SPEC-2 §10: no session (401 `nao_autenticado`), a failed login (401
/// `credenciais_invalidas`), a role that may not (403 `sem_permissao`).
#[tokio::test]
async fn sign_in_errors_are_401_and_a_role_that_may_not_is_403() {
    let app = TestApp::with_args(&["--auth", "on"]).await;
    agendamento::services::usuarios::criar_admin(
        &app.state,
        "admin@clinica.example",
        "Admin",
        "senha-do-admin".into(),
    )
    .await
    .expect("admin");
    let anon = app.get("/pacientes").await;
    anon.expect_problem(401, "nao_autenticado");
    snapshot("401_nao_autenticado", &anon);
    let login = |senha: &'static str| {
        let app = &app;
        async move {
            let body = json!({"email": "admin@clinica.example", "senha": senha});
            app.post("/auth/login", &body).await
        }
    };
    let wrong = login("senha-errada").await;
    wrong.expect_problem(401, "credenciais_invalidas");
    snapshot("401_credenciais_invalidas", &wrong);
    let ok = login("senha-do-admin").await;
    ok.expect_status(200);
    let auth = format!("Bearer {}", ok.body["token"].as_str().expect("token"));
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let body = json!({"nome": "Rita", "email": "rita@clinica.example",
        "papel": "recepcao", "senha": "senha-da-rita"});
    app.send(Method::POST, "/usuarios", &headers, body.to_string())
        .await
        .expect_status(201);
    let rita = app
        .post(
            "/auth/login",
            &json!({"email": "rita@clinica.example", "senha": "senha-da-rita"}),
        )
        .await;
    let auth = format!("Bearer {}", rita.body["token"].as_str().expect("token"));
    let r = app
        .send(
            Method::GET,
            "/sistema/logs",
            &[("authorization", auth.as_str())],
            "",
        )
        .await;
    r.expect_problem(403, "sem_permissao");
    snapshot("403_sem_permissao", &r);
}
