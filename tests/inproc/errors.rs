//! The error classes of SPEC §1 that do not belong to one resource: malformed JSON (400),
//! wrong content type (415), body too large (413), unknown route (404), wrong method (405).

use axum::http::Method;
use serde_json::json;

use crate::harness::TestApp;
use crate::helpers::*;

#[tokio::test]
async fn malformed_json_returns_400_problem_and_creates_nothing() {
    let srv = TestApp::new().await;
    // (reason, path, raw body)
    let cases = [
        ("truncated object", "/pacientes", "{\"nome\": "),
        ("not JSON at all", "/pacientes", "nome=Ana"),
        ("trailing comma", "/medicos", "{\"nome\": \"Dr. X\",}"),
        (
            "single quotes",
            "/consultas",
            "{'inicio': '2030-01-01T10:00:00'}",
        ),
        ("empty body", "/pacientes", ""),
    ];

    for (reason, path, raw) in cases {
        let r = srv.post_raw(path, "application/json", raw).await;
        assert_eq!(r.status, 400, "[{reason}] {}", r.text);
        assert_problem(&r, 400, "invalid_json");
    }
    assert_eq!(srv.count("/pacientes").await, 0);
    assert_eq!(srv.count("/medicos").await, 0);
}

#[tokio::test]
async fn malformed_json_on_put_returns_400() {
    let srv = TestApp::new().await;
    let p = criar_paciente(&srv, "Ana", 1).await;

    let r = srv
        .send(
            Method::PUT,
            &format!("/pacientes/{}", str_field(&p, "id")),
            &[("content-type", "application/json")],
            "{\"nome\": ",
        )
        .await;

    assert_problem(&r, 400, "invalid_json");
    assert_eq!(
        srv.get(&format!("/pacientes/{}", str_field(&p, "id")))
            .await
            .body,
        p
    );
}

#[tokio::test]
async fn non_json_content_type_returns_415_and_creates_nothing() {
    let srv = TestApp::new().await;
    let valid = paciente_body("Ana", 1).to_string();
    // (reason, content type)
    let cases = [
        ("plain text", "text/plain"),
        ("form", "application/x-www-form-urlencoded"),
        ("xml", "application/xml"),
    ];

    for (reason, ct) in cases {
        let r = srv.post_raw("/pacientes", ct, valid.clone()).await;
        assert_eq!(r.status, 415, "[{reason}] {}", r.text);
        assert_problem(&r, 415, "unsupported_media_type");
    }
    assert_eq!(srv.count("/pacientes").await, 0);
}

#[tokio::test]
async fn json_content_type_with_charset_is_accepted() {
    let srv = TestApp::new().await;

    let r = srv
        .post_raw(
            "/pacientes",
            "application/json; charset=utf-8",
            paciente_body("Ana", 1).to_string(),
        )
        .await;

    r.expect_status(201);
}

#[tokio::test]
async fn body_over_the_configured_limit_returns_413_and_creates_nothing() {
    let srv = TestApp::with_args(&["--body-limit-bytes", "1024"]).await;
    let mut big = paciente_body("Grande", 1);
    big["convenio"] = json!("x".repeat(2000));
    let small = paciente_body("Pequeno", 2);
    assert!(small.to_string().len() < 1024);

    let r = srv.post("/pacientes", &big).await;

    assert_problem(&r, 413, "payload_too_large");
    assert_eq!(srv.count("/pacientes").await, 0);
    srv.post("/pacientes", &small).await.expect_status(201);
}

#[tokio::test]
async fn body_over_the_default_64_kib_limit_returns_413() {
    let srv = TestApp::new().await;
    let mut big = medico_body("Dr. Enorme", 1, "Cardiologia");
    big["nome"] = json!("n".repeat(70 * 1024));

    let r = srv.post("/medicos", &big).await;

    assert_problem(&r, 413, "payload_too_large");
    assert_eq!(srv.count("/medicos").await, 0);
}

#[tokio::test]
async fn unknown_route_returns_404_problem() {
    let srv = TestApp::new().await;

    let r = srv.get("/nao-existe").await;

    assert_problem(&r, 404, "not_found");
}

#[tokio::test]
async fn wrong_method_returns_405_problem() {
    let srv = TestApp::new().await;

    let r = srv.delete("/pacientes").await;

    assert_problem(&r, 405, "method_not_allowed");
}

#[tokio::test]
async fn server_keeps_serving_after_a_burst_of_bad_requests() {
    let srv = TestApp::new().await;

    for i in 0..20 {
        let r = srv
            .post_raw("/consultas", "application/json", format!("{{\"x\": {i}"))
            .await;
        assert_eq!(r.status, 400);
    }

    srv.get("/sistema/saude").await.expect_status(200);
}

#[tokio::test]
async fn hostile_input_gets_a_4xx_problem_never_a_500() {
    let srv = TestApp::new().await;
    let p = criar_paciente(&srv, "Ana", 1).await;
    let pid = str_field(&p, "id");
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    // (reason, method, path, content type, raw body)
    let cases: Vec<(&str, &str, String, &str, Vec<u8>)> = vec![
        ("deeply nested JSON", "POST", "/pacientes".into(), "application/json", deep.into_bytes()),
        ("invalid UTF-8 in a string", "POST", "/pacientes".into(), "application/json", b"{\"nome\": \"\xff\xfe\"}".to_vec()),
        ("JSON array instead of object", "POST", "/medicos".into(), "application/json", b"[1, 2, 3]".to_vec()),
        ("JSON string instead of object", "POST", "/consultas".into(), "application/json", b"\"consulta\"".to_vec()),
        ("JSON null body", "PUT", format!("/pacientes/{pid}"), "application/json", b"null".to_vec()),
        ("huge number for a date", "POST", "/pacientes".into(), "application/json",
            br#"{"nome": "X", "cpf": "12345678909", "data_nascimento": 1e400}"#.to_vec()),
        ("lone surrogate escape", "POST", "/pacientes".into(), "application/json",
            br#"{"nome": "\ud800", "cpf": "12345678909", "data_nascimento": "1990-01-01"}"#.to_vec()),
        ("year 0 and beyond 9999", "POST", "/consultas".into(), "application/json",
            format!(r#"{{"paciente_id": "{pid}", "medico_id": "{pid}", "inicio": "0000-01-01T00:00:00", "fim": "99999-01-01T00:00:00"}}"#).into_bytes()),
    ];

    for (reason, method, path, ct, body) in cases {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let r = srv.send(method, &path, &[("content-type", ct)], body).await;
        assert!(
            (400..500).contains(&r.status),
            "[{reason}] answered {} {}",
            r.status,
            r.text
        );
        assert!(
            r.header("content-type")
                .starts_with("application/problem+json"),
            "[{reason}] problem+json, got {:?}",
            r.header("content-type")
        );
    }
    srv.get("/sistema/saude").await.expect_status(200);
    assert_eq!(
        srv.get(&format!("/pacientes/{pid}")).await.body,
        p,
        "patient untouched"
    );
    assert_eq!(srv.count("/pacientes").await, 1);
}

#[tokio::test]
async fn hostile_paths_and_queries_get_a_4xx_never_a_500() {
    let srv = TestApp::new().await;
    // (reason, path)
    let cases = [
        ("id that is not a UUID", "/pacientes/abc"),
        ("id with encoded slash", "/medicos/..%2F..%2Fetc%2Fpasswd"),
        (
            "very long id",
            "/consultas/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        (
            "offset beyond u64",
            "/pacientes?offset=99999999999999999999999",
        ),
        ("limit beyond u64", "/medicos?limit=99999999999999999999999"),
        ("date with letters", "/consultas?de=2030-0a-01"),
        ("percent garbage in q", "/pacientes?q=%ff%fe"),
        (
            "unknown horario id",
            "/horarios/00000000-0000-0000-0000-000000000000",
        ),
    ];

    for (reason, path) in cases {
        let r = srv.get(path).await;
        assert!(
            (400..500).contains(&r.status) || (r.status == 200 && path.contains("q=")),
            "[{reason}] answered {} {}",
            r.status,
            r.text
        );
        if r.status != 200 {
            assert!(
                r.header("content-type")
                    .starts_with("application/problem+json"),
                "[{reason}] problem+json, got {:?} {}",
                r.header("content-type"),
                r.text
            );
        }
    }
    assert_problem(&srv.get("/pacientes/abc").await, 404, "not_found");
    srv.get("/sistema/saude").await.expect_status(200);
}

#[tokio::test]
async fn wrong_method_on_item_and_collection_routes_returns_405() {
    let srv = TestApp::new().await;
    // (reason, method, path)
    let cases = [
        ("PUT on a collection", Method::PUT, "/medicos".to_string()),
        (
            "PATCH on an item",
            Method::PATCH,
            format!("/consultas/{}", unknown_id()),
        ),
        (
            "POST on an item",
            Method::POST,
            format!("/pacientes/{}", unknown_id()),
        ),
        (
            "DELETE on the health check",
            Method::DELETE,
            "/sistema/saude".to_string(),
        ),
    ];

    for (reason, method, path) in cases {
        let r = srv
            .send(method, &path, &[("content-type", "application/json")], "{}")
            .await;
        assert_eq!(r.status, 405, "[{reason}] {}", r.text);
        assert_problem(&r, 405, "method_not_allowed");
    }
}
