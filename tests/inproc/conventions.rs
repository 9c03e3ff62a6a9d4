//! Conventions shared by every endpoint (SPEC §1): request ids, CORS, Idempotency-Key,
//! empty optional fields, stored forms of CPF and weekday, trailing slashes, paging limits.

use serde_json::json;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Method;

use crate::harness::{Resp, TestApp};
use crate::helpers::*;

#[tokio::test]
async fn x_request_id_is_echoed_when_sent() {
    let srv = TestApp::new().await;

    // (reason, path) – success and error responses alike.
    for (reason, path) in [
        ("success", "/pacientes"),
        ("404", "/pacientes/00000000-0000-0000-0000-000000000000"),
    ] {
        let r = srv
            .send(
                Method::GET,
                path,
                &[("x-request-id", "teste-req-123")],
                Body::empty(),
            )
            .await;
        assert_eq!(r.header("x-request-id"), "teste-req-123", "[{reason}]");
    }
}

#[tokio::test]
async fn x_request_id_is_generated_when_not_sent() {
    let srv = TestApp::new().await;

    let a = srv.get("/pacientes").await;
    let b = srv.get("/nao-existe").await;
    let c = srv.post_raw("/pacientes", "application/json", "{").await;

    for r in [&a, &b, &c] {
        assert!(
            !r.header("x-request-id").is_empty(),
            "missing x-request-id on {} {}",
            r.status,
            r.text
        );
    }
    assert_ne!(
        a.header("x-request-id"),
        b.header("x-request-id"),
        "ids are unique per request"
    );
}

#[tokio::test]
async fn cors_preflight_allows_any_origin_by_default() {
    let srv = TestApp::new().await;

    let r = srv
        .send(
            Method::OPTIONS,
            "/pacientes",
            &[
                ("origin", "http://painel.exemplo.com"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
            Body::empty(),
        )
        .await;

    assert!(
        r.status == 200 || r.status == 204,
        "preflight answered {} {}",
        r.status,
        r.text
    );
    let allow = r.header("access-control-allow-origin");
    assert!(
        allow == "*" || allow == "http://painel.exemplo.com",
        "allow-origin {allow:?}"
    );
    let methods = r.header("access-control-allow-methods").to_uppercase();
    assert!(
        methods == "*" || methods.contains("POST"),
        "allow-methods {methods:?}"
    );
}

#[tokio::test]
async fn cors_headers_are_present_on_simple_requests() {
    let srv = TestApp::new().await;

    let r = srv
        .send(
            Method::GET,
            "/medicos",
            &[("origin", "http://painel.exemplo.com")],
            Body::empty(),
        )
        .await;

    r.expect_status(200);
    let allow = r.header("access-control-allow-origin");
    assert!(
        allow == "*" || allow == "http://painel.exemplo.com",
        "allow-origin {allow:?}"
    );
}

async fn post_with_key(srv: &TestApp, path: &str, key: &str, body: &serde_json::Value) -> Resp {
    srv.send(
        Method::POST,
        path,
        &[
            ("idempotency-key", key),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_creates_nothing_new() {
    let srv = TestApp::new().await;
    let body = paciente_body("Idem Potente", 1);

    let first = post_with_key(&srv, "/pacientes", "chave-001", &body).await;
    let second = post_with_key(&srv, "/pacientes", "chave-001", &body).await;

    first.expect_status(201);
    second.expect_status(201);
    assert_eq!(second.body, first.body, "the replay is the first answer");
    assert_eq!(second.header("idempotent-replayed"), "true");
    assert_eq!(srv.count("/pacientes").await, 1);
}

#[tokio::test]
async fn idempotency_key_replays_consulta_creation() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let body = consulta_body(&pid, &mid, "2030-02-01T10:00:00", "2030-02-01T10:30:00");

    let first = post_with_key(&srv, "/consultas", "consulta-k", &body).await;
    let second = post_with_key(&srv, "/consultas", "consulta-k", &body).await;

    first.expect_status(201);
    // Not a 409 overlap with itself: the same request is answered again.
    second.expect_status(201);
    assert_eq!(second.id(), first.id());
    assert_eq!(srv.count("/consultas").await, 1);
}

#[tokio::test]
async fn idempotency_key_with_a_different_body_returns_422() {
    let srv = TestApp::new().await;
    post_with_key(
        &srv,
        "/pacientes",
        "chave-002",
        &paciente_body("Primeiro", 1),
    )
    .await
    .expect_status(201);

    let r = post_with_key(
        &srv,
        "/pacientes",
        "chave-002",
        &paciente_body("Segundo", 2),
    )
    .await;

    assert_problem(&r, 422, "idempotency_key_reused");
    assert_eq!(srv.count("/pacientes").await, 1);
}

#[tokio::test]
async fn different_idempotency_keys_are_independent() {
    let srv = TestApp::new().await;

    post_with_key(&srv, "/pacientes", "k-a", &paciente_body("A", 1))
        .await
        .expect_status(201);
    post_with_key(&srv, "/pacientes", "k-b", &paciente_body("B", 2))
        .await
        .expect_status(201);

    assert_eq!(srv.count("/pacientes").await, 2);
}

#[tokio::test]
async fn empty_string_and_null_optional_fields_are_treated_as_absent() {
    let srv = TestApp::new().await;
    // (reason, value sent for every optional field)
    let cases = [("empty strings", json!("")), ("nulls", json!(null))];

    for (i, (reason, empty)) in cases.into_iter().enumerate() {
        let p = srv
            .post(
                "/pacientes",
                &json!({"nome": format!("Sem Contato {i}"), "cpf": cpf(300 + i as u64), "data_nascimento": "1970-01-01",
                        "email": empty, "telefone": empty, "convenio": empty}),
            )
            .await;
        assert_eq!(p.status, 201, "[{reason}] paciente {}", p.text);
        for f in ["email", "telefone", "convenio"] {
            assert!(
                is_absent(&p.body, f),
                "[{reason}] paciente.{f} should be absent: {}",
                p.text
            );
        }

        let m = srv
            .post(
                "/medicos",
                &json!({"nome": format!("Dr. Sem Contato {i}"), "crm": format!("CRM/MG {}", 1000 + i),
                        "especialidade": "Geriatria", "email": empty, "telefone": empty}),
            )
            .await;
        assert_eq!(m.status, 201, "[{reason}] medico {}", m.text);
        for f in ["email", "telefone"] {
            assert!(
                is_absent(&m.body, f),
                "[{reason}] medico.{f} should be absent: {}",
                m.text
            );
        }

        let mut c = consulta_body(
            &p.id(),
            &m.id(),
            "2030-10-01T10:00:00",
            "2030-10-01T10:30:00",
        );
        c["observacoes"] = empty.clone();
        let c = srv.post("/consultas", &c).await;
        assert_eq!(c.status, 201, "[{reason}] consulta {}", c.text);
        assert!(
            is_absent(&c.body, "observacoes"),
            "[{reason}] observacoes absent: {}",
            c.text
        );
    }
}

#[tokio::test]
async fn cpf_with_punctuation_is_stored_as_digits() {
    let srv = TestApp::new().await;
    let digits = cpf(400);

    let r = srv
        .post("/pacientes", &json!({"nome": "Pontuado", "cpf": cpf_formatado(&digits), "data_nascimento": "1999-09-09"}))
        .await;

    r.expect_status(201);
    assert_eq!(r.body["cpf"], json!(digits));
    assert_eq!(
        srv.get(&format!("/pacientes/{}", r.id())).await.body["cpf"],
        json!(digits)
    );
}

#[tokio::test]
async fn accented_weekday_is_stored_unaccented_lower_case() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Acentos", 1, "Clínica Geral").await;
    let mid = str_field(&m, "id");

    let terca = criar_horario(&srv, &mid, "Terça", "08:00", "12:00").await;
    let sabado = criar_horario(&srv, &mid, "SÁBADO", "08:00", "12:00").await;

    assert_eq!(terca["dia_semana"], "terca");
    assert_eq!(sabado["dia_semana"], "sabado");
    let listed = srv.get(&format!("/horarios/medico/{mid}")).await;
    let dias: Vec<&str> = listed
        .array()
        .iter()
        .map(|h| h["dia_semana"].as_str().expect("dia"))
        .collect();
    assert_eq!(dias, ["terca", "sabado"]);
}

#[tokio::test]
async fn collection_routes_answer_with_and_without_trailing_slash_without_redirect() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    criar_horario(&srv, &mid, "segunda", "08:00", "12:00").await;
    criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-01-07T09:00:00",
        "2030-01-07T09:30:00",
    )
    .await;

    for path in ["/pacientes", "/medicos", "/horarios", "/consultas"] {
        let plain = srv.get(path).await;
        let slash = srv.get(&format!("{path}/")).await;
        assert_eq!(plain.status, 200, "{path}: {}", plain.text);
        assert_eq!(
            slash.status,
            200,
            "{path}/ answered {} (location {:?})",
            slash.status,
            slash.header("location")
        );
        assert_eq!(slash.body, plain.body, "{path}/ lists the same");
        assert_eq!(slash.header("x-total-count"), plain.header("x-total-count"));
    }
}

#[tokio::test]
async fn post_to_collection_with_trailing_slash_creates_without_redirect() {
    let srv = TestApp::new().await;

    let p = srv.post("/pacientes/", &paciente_body("Barra", 1)).await;
    let m = srv
        .post("/medicos/", &medico_body("Dr. Barra", 1, "Cardiologia"))
        .await;
    let c = srv
        .post(
            "/consultas/",
            &consulta_body(
                &p.id(),
                &m.id(),
                "2030-01-07T09:00:00",
                "2030-01-07T09:30:00",
            ),
        )
        .await;

    p.expect_status(201);
    m.expect_status(201);
    c.expect_status(201);
    assert_eq!(srv.count("/pacientes").await, 1);
}

#[tokio::test]
async fn list_without_limit_returns_the_whole_collection() {
    let srv = TestApp::new().await;
    for i in 0..12 {
        criar_paciente(&srv, &format!("Paciente {i:02}"), 500 + i).await;
    }

    let r = srv.get("/pacientes").await;

    assert_eq!(r.array().len(), 12);
    assert_eq!(r.total_count(), 12);
}

#[tokio::test]
async fn list_rejects_limit_outside_1_to_5000_with_422() {
    let srv = TestApp::new().await;
    // (reason, path)
    let cases = [
        ("limit zero on pacientes", "/pacientes?limit=0"),
        ("limit 5001 on pacientes", "/pacientes?limit=5001"),
        ("limit zero on medicos", "/medicos?limit=0"),
        ("limit 5001 on horarios", "/horarios?limit=5001"),
        ("limit zero on consultas", "/consultas?limit=0"),
        ("limit negative", "/pacientes?limit=-5"),
    ];

    for (reason, path) in cases {
        let r = srv.get(path).await;
        assert_eq!(r.status, 422, "[{reason}] {}", r.text);
        assert_problem(&r, 422, "validation_failed");
    }
    srv.get("/pacientes?limit=1").await.expect_status(200);
    srv.get("/pacientes?limit=5000").await.expect_status(200);
}

#[tokio::test]
async fn cors_exposes_x_total_count_and_request_id_to_the_dashboard() {
    let srv = TestApp::new().await;

    let r = srv
        .send(
            Method::GET,
            "/pacientes",
            &[("origin", "http://painel.exemplo.com")],
            Body::empty(),
        )
        .await;

    let exposed = r.header("access-control-expose-headers").to_lowercase();
    assert!(
        exposed == "*" || exposed.contains("x-total-count"),
        "a browser dashboard on another origin must be able to read x-total-count: {exposed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_idempotency_key_create_one_record() {
    let srv = Arc::new(TestApp::new().await);
    let body = paciente_body("Corrida Idempotente", 7);

    let mut tasks = Vec::new();
    for _ in 0..6 {
        let srv = srv.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            post_with_key(&srv, "/pacientes", "corrida-1", &body).await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }

    let created: Vec<&Resp> = answers.iter().filter(|r| r.status == 201).collect();
    assert!(!created.is_empty());
    for r in &answers {
        match r.status {
            201 => assert_eq!(r.id(), created[0].id(), "every 201 is the same record"),
            409 => {
                assert_problem(r, 409, "idempotency_in_progress");
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(srv.count("/pacientes").await, 1);
}

#[tokio::test]
async fn every_answer_carries_x_posicao_and_x_posicao_minima_waits_for_it() {
    // SPEC-2 §16, on the data folder as on PostgreSQL.
    let app = TestApp::new().await;
    let p = criar_paciente(&app, "Posição Alcançada", 9_100).await;
    let r = app
        .get(&format!(
            "/pacientes/{}",
            p["id"].as_str().unwrap_or_default()
        ))
        .await;
    let pos: u64 = r
        .header("x-posicao")
        .parse()
        .expect("x-posicao is a number");
    assert!(pos >= 1, "a write was journaled: {pos}");

    // Reached: the answer as usual.
    let at = pos.to_string();
    let r = app
        .send(
            Method::GET,
            "/medicos",
            &[("x-posicao-minima", &at)],
            Body::empty(),
        )
        .await;
    r.expect_status(200);
    // Not a number: 422 naming the header, still with x-posicao.
    let r = app
        .send(
            Method::GET,
            "/medicos",
            &[("x-posicao-minima", "abc")],
            Body::empty(),
        )
        .await;
    let b = assert_problem(&r, 422, "validation_failed");
    assert_eq!(campos(&b), ["x-posicao-minima"]);
    assert_eq!(r.header("x-posicao"), at);
    // Never reached within 1 s: 503 with Retry-After and the position this instance has.
    let longe = (pos + 1_000).to_string();
    let started = std::time::Instant::now();
    let r = app
        .send(
            Method::GET,
            "/medicos",
            &[("x-posicao-minima", &longe)],
            Body::empty(),
        )
        .await;
    assert_problem(&r, 503, "posicao_nao_alcancada");
    assert_eq!(r.header("retry-after"), "1");
    assert_eq!(r.header("x-posicao"), at);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
}
