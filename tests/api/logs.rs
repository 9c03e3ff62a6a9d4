//! Issue 9, "the Logs page stays empty": one log line per request and one per record change,
//! read back through `GET /sistema/logs` (SPEC §5), with ids only.

use serde_json::json;

use crate::helpers::*;

/// The log lines, newest first.
async fn logs(srv: &TestServer) -> Vec<String> {
    let r = srv.get("/sistema/logs?limit=5000").await;
    r.expect_status(200);
    r.body["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("{{\"logs\": [...]}} expected, got {}", r.text))
        .iter()
        .map(|l| l.as_str().expect("log line is a string").to_string())
        .collect()
}

#[tokio::test]
async fn every_request_is_logged_with_route_template_status_duration_and_request_id() {
    let srv = TestServer::start();
    let p = criar_paciente(&srv, "Quitéria Sigilosa", 901).await;
    let id = str_field(&p, "id");
    let cpf = str_field(&p, "cpf");

    let r = srv
        .client
        .get(srv.url(&format!("/pacientes/{id}?q=Quiteria")))
        .header("x-request-id", "req-log-1")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    let search = srv
        .client
        .get(srv.url(&format!("/pacientes?q={}", enc("Quitéria"))))
        .header("x-request-id", "req-log-2")
        .send()
        .await
        .expect("GET");
    assert_eq!(search.status().as_u16(), 200);

    let lines = logs(&srv).await;
    let line = lines
        .iter()
        .find(|l| l.contains("request_id=req-log-1"))
        .unwrap_or_else(|| panic!("no request line for req-log-1 in {lines:#?}"));
    assert!(line.contains("[INFO] agendamento::http: request"), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(
        line.contains("route=/pacientes/{id}"),
        "template, not the path: {line}"
    );
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains("duration_ms="), "{line}");
    let search_line = lines
        .iter()
        .find(|l| l.contains("request_id=req-log-2"))
        .unwrap_or_else(|| panic!("no request line for req-log-2 in {lines:#?}"));
    assert!(search_line.contains("route=/pacientes "), "{search_line}");
    for l in &lines {
        assert!(
            !l.contains("Quit") && !l.contains(&cpf) && !l.contains("q="),
            "personal data or a query string in a log line: {l}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_errors_are_logged_with_their_status() {
    let srv = TestServer::start();
    let r = srv
        .client
        .get(srv.url("/nao-existe/Fulano"))
        .header("x-request-id", "req-404")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 404);

    let lines = logs(&srv).await;
    let line = lines
        .iter()
        .find(|l| l.contains("request_id=req-404"))
        .unwrap_or_else(|| panic!("no line for the 404 in {lines:#?}"));
    assert!(
        line.contains("status=404") && line.contains("route=-"),
        "{line}"
    );
    assert!(!line.contains("Fulano"), "raw path in a log line: {line}");
}

#[tokio::test]
async fn record_changes_are_logged_with_action_collection_and_id() {
    let srv = TestServer::start();
    let p = criar_paciente(&srv, "Rosalva Reservada", 902).await;
    let pid = str_field(&p, "id");
    srv.put(&format!("/pacientes/{pid}"), &json!({"convenio": "Amil"}))
        .await
        .expect_status(200);
    let m = criar_medico(&srv, "Dr. Log", 902, "Clínica Geral").await;
    let mid = str_field(&m, "id");
    srv.delete(&format!("/pacientes/{pid}"))
        .await
        .expect_status(204);

    let lines = logs(&srv).await;
    let has = |action: &str, collection: &str, id: &str| {
        lines.iter().any(|l| {
            l.contains("agendamento::store: record changed")
                && l.contains(&format!("action={action}"))
                && l.contains(&format!("collection={collection}"))
                && l.contains(&format!("id={id}"))
        })
    };
    assert!(has("create", "pacientes", &pid), "{lines:#?}");
    assert!(has("update", "pacientes", &pid), "{lines:#?}");
    assert!(has("delete", "pacientes", &pid), "{lines:#?}");
    assert!(has("create", "medicos", &mid), "{lines:#?}");
    for l in &lines {
        assert!(!l.contains("Rosalva"), "personal data in a log line: {l}");
    }
}

#[tokio::test]
async fn a_refused_change_is_not_logged_as_a_record_change() {
    let srv = TestServer::start();
    let p = criar_paciente(&srv, "Dupla", 903).await;
    let dup = srv.post("/pacientes", &paciente_body("Outra", 903)).await;
    assert_problem(&dup, 409, "duplicate_cpf");

    let lines = logs(&srv).await;
    let changes = lines
        .iter()
        .filter(|l| l.contains("record changed"))
        .count();
    assert_eq!(changes, 1, "only the first create: {lines:#?}");
    assert!(lines.iter().any(|l| l.contains(&str_field(&p, "id"))));
}
