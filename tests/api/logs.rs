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

/// `RUST_LOG=debug` is what an operator sets to look into a database problem. The PostgreSQL
/// client then logs each statement with its parameters (the records themselves): other
/// crates' debug output stays out of the log file whatever `RUST_LOG` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logging_on_postgresql_keeps_patient_data_out_of_the_log_file() {
    let pg = crate::pg::PgCluster::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = pg.url();
    let srv = crate::identidade::iniciar(
        dir.path(),
        &[
            "--addr",
            "127.0.0.1:0",
            "--no-demo-data",
            "--auth",
            "off",
            "--database-url",
            &url,
        ],
        &[("RUST_LOG", "debug")],
    )
    .expect("start on PostgreSQL with RUST_LOG=debug");
    let body = crate::common::paciente_body("Quitéria Depurada", 907);
    let r = new_client()
        .post(format!("{}/pacientes", srv.base))
        .header("x-request-id", "req-depurada")
        .json(&body)
        .send()
        .await
        .expect("POST /pacientes");
    assert_eq!(r.status(), 201);

    // The request's own line is written after everything its write logged.
    let ler = || {
        let mut text = String::new();
        for e in std::fs::read_dir(dir.path().join("logs")).expect("logs folder") {
            let path = e.expect("entry").path();
            text.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
        text
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut text = ler();
    while !text.contains("request_id=req-depurada") {
        assert!(
            std::time::Instant::now() < deadline,
            "no request line in the log file:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        text = ler();
    }
    drop(srv);
    let cpf = body["cpf"].as_str().expect("cpf");
    for segredo in ["Quitéria Depurada", cpf, "paciente907@exemplo.com.br"] {
        assert!(
            !text.contains(segredo),
            "{segredo:?} is in the log file:\n{}",
            text.lines()
                .filter(|l| l.contains(segredo))
                .take(3)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
