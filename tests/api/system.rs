//! System endpoints (SPEC §8) and command-line start-up (SPEC §9).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn root_returns_status_ok_and_a_message() {
    let srv = TestServer::start();

    let r = srv.get("/").await;

    r.expect_status(200);
    assert_eq!(r.body["status"], "ok");
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn saude_reports_storage_queue_and_worker() {
    let srv = TestServer::start();

    let r = srv.get("/sistema/saude").await;

    r.expect_status(200);
    assert!(r.header("content-type").starts_with("application/json"));
    let b = &r.body;
    assert_eq!(b["status"], "ok", "{}", r.text);
    assert!(
        b["versao"].as_str().is_some_and(|v| !v.is_empty()),
        "versao: {}",
        r.text
    );
    assert_eq!(
        b["armazenamento"]["gravavel"],
        Value::Bool(true),
        "{}",
        r.text
    );
    assert!(
        b["fila"]["pendentes"].is_u64(),
        "fila.pendentes: {}",
        r.text
    );
    // One instance on the data folder: it leads; its position is the answer's x-posicao.
    assert_eq!(b["instancia"]["banco"], "pasta", "{}", r.text);
    assert_eq!(b["instancia"]["lider"], true, "{}", r.text);
    assert_eq!(
        b["instancia"]["posicao"].as_u64().map(|p| p.to_string()),
        Some(r.header("x-posicao").to_owned()),
        "{}",
        r.text
    );
    assert!(b["worker"]["vivo"].is_boolean(), "worker.vivo: {}", r.text);
}

/// `/pacientes/{id}` and `/pacientes/{paciente_id}` both become `/pacientes/{}`.
fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => {
                in_param = true;
                out.push('{');
            }
            '}' => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            _ => out.push(ch),
        }
    }
    if out.len() > 1 {
        out.trim_end_matches('/').to_string()
    } else {
        out
    }
}

#[tokio::test]
async fn openapi_json_is_3_1_and_lists_every_endpoint() {
    let srv = TestServer::start();

    let r = srv.get("/openapi.json").await;

    r.expect_status(200);
    let doc = &r.body;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "openapi {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths object");
    let mut ops: BTreeSet<(String, String)> = BTreeSet::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.insert((method.to_string(), normalise(path)));
            }
        }
    }
    // (method, path) of every endpoint SPEC §2 (minus agendar) and §8 describe.
    let expected = [
        ("get", "/"),
        ("get", "/sistema/saude"),
        ("get", "/pacientes"),
        ("post", "/pacientes"),
        ("get", "/pacientes/{}"),
        ("put", "/pacientes/{}"),
        ("delete", "/pacientes/{}"),
        ("get", "/medicos"),
        ("post", "/medicos"),
        ("get", "/medicos/{}"),
        ("put", "/medicos/{}"),
        ("delete", "/medicos/{}"),
        ("get", "/horarios"),
        ("get", "/horarios/{}"),
        ("put", "/horarios/{}"),
        ("delete", "/horarios/{}"),
        ("get", "/horarios/medico/{}"),
        ("post", "/horarios/medico/{}"),
        ("get", "/consultas"),
        ("post", "/consultas"),
        ("get", "/consultas/{}"),
        ("put", "/consultas/{}"),
        ("delete", "/consultas/{}"),
    ];
    let missing: Vec<_> = expected
        .iter()
        .filter(|(m, p)| !ops.contains(&(m.to_string(), p.to_string())))
        .collect();
    assert!(
        missing.is_empty(),
        "openapi.json lacks {missing:?}; it has {ops:?}"
    );
}

#[tokio::test]
async fn openapi_json_describes_error_responses_of_create_paciente() {
    let srv = TestServer::start();

    let doc = srv.get("/openapi.json").await.body;

    let post = doc["paths"]
        .as_object()
        .and_then(|p| p.iter().find(|(k, _)| normalise(k) == "/pacientes"))
        .map(|(_, v)| v["post"].clone())
        .expect("POST /pacientes");
    let responses = post["responses"].as_object().expect("responses");
    for code in ["201", "409", "422"] {
        assert!(
            responses.contains_key(code),
            "POST /pacientes responses lack {code}: {:?}",
            responses.keys()
        );
    }
    assert!(
        post.get("requestBody").is_some(),
        "POST /pacientes has a requestBody"
    );
}

#[tokio::test]
async fn docs_serves_swagger_ui_html_from_the_binary() {
    let srv = TestServer::start();
    let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's rustls (SPEC-2 §13 webhooks) needs one
    let following = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let r = read(
        following
            .get(srv.url("/docs"))
            .send()
            .await
            .expect("GET /docs"),
    )
    .await;

    r.expect_status(200);
    assert!(
        r.header("content-type").starts_with("text/html"),
        "content-type {}",
        r.header("content-type")
    );
    assert!(
        r.text.to_lowercase().contains("swagger"),
        "Swagger UI page: {}",
        &r.text[..r.text.len().min(500)]
    );
}

#[tokio::test]
async fn server_prints_listening_line_with_the_real_port() {
    let srv = TestServer::start();

    let port: u16 = srv
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in base URL");

    assert_ne!(port, 0);
    srv.get("/").await.expect_status(200);
}

#[tokio::test]
async fn sigterm_stops_the_server_with_exit_code_0() {
    let mut srv = TestServer::start();
    criar_paciente(&srv, "Ana", 1).await;

    let status = srv.stop();

    assert!(status.success(), "exit status {status:?}\n{}", srv.stderr());
}

#[tokio::test]
async fn unusable_data_dir_stops_start_up_with_a_message_and_no_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A data folder below a regular file can never be created, even by root.
    std::fs::write(dir.path().join("arquivo"), b"not a folder").expect("write file");
    let data_dir = dir.path().join("arquivo").join("banco");

    let args: Vec<String> = vec![
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--no-demo-data".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--backup-dir".into(),
        dir.path().join("backups").display().to_string(),
        "--reports-dir".into(),
        dir.path().join("reports").display().to_string(),
        "--logs-dir".into(),
        dir.path().join("logs").display().to_string(),
    ];

    let out = run_expecting_failure(
        &args,
        &dir.path().join("stderr.log"),
        Duration::from_secs(15),
    );

    let stderr = &out.stderr;
    assert!(
        out.status.is_some_and(|s| !s.success()),
        "should exit non-zero: {out:?}"
    );
    assert!(!stderr.trim().is_empty(), "a message on stderr");
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert!(
        stderr.contains("banco") || stderr.contains("arquivo"),
        "names the path: {stderr}"
    );
}

/// The example bodies of one operation's answer with this status, by name.
fn examples<'a>(
    doc: &'a Value,
    path: &str,
    method: &str,
    status: &str,
) -> &'a serde_json::Map<String, Value> {
    doc["paths"][path][method]["responses"][status]["content"]["application/problem+json"]["examples"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} has no {status} examples"))
}

#[tokio::test]
async fn openapi_json_gives_every_response_a_description_and_real_error_examples() {
    let srv = TestServer::start();

    let doc = srv.get("/openapi.json").await.body;

    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let Some(responses) = op["responses"].as_object() else {
                continue;
            };
            for (status, r) in responses {
                assert!(
                    r["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status} has no description (OpenAPI requires one)"
                );
                let Some(ex) = r["content"]["application/problem+json"]["examples"].as_object()
                else {
                    continue;
                };
                for (name, e) in ex {
                    let v = &e["value"];
                    assert_eq!(
                        v["status"].to_string(),
                        *status,
                        "{method} {path} {status} {name}: {v}"
                    );
                    assert!(
                        name.starts_with(v["code"].as_str().unwrap_or("?")),
                        "{name}: {v}"
                    );
                    assert!(
                        !matches!(
                            v["title"].as_str(),
                            Some("Not Found" | "Conflict" | "Unprocessable Entity")
                        ),
                        "English title in {v}"
                    );
                }
            }
        }
    }
    let codes = |path: &str, method: &str, status: &str| -> Vec<String> {
        examples(&doc, path, method, status)
            .values()
            .map(|e| e["value"]["code"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        codes("/pacientes", "post", "409"),
        ["duplicate_cpf", "idempotency_in_progress"]
    );
    assert_eq!(codes("/pacientes/{id}", "delete", "409"), ["record_in_use"]);
    assert!(
        codes("/consultas/{id}", "put", "409").contains(&"invalid_status_transition".to_string())
    );
    assert!(codes("/agenda/reservar", "post", "409").contains(&"horario_reservado".to_string()));
    assert_eq!(codes("/consultas/{id}", "get", "404"), ["not_found"]);
    let nf = &examples(&doc, "/consultas/{id}", "get", "404")["not_found"]["value"];
    assert_eq!(nf["detail"], serde_json::json!("Consulta não encontrada."));
}
