//! `/pacientes` (SPEC §2): CRUD, search, ordering, paging, validation and conflicts.

use std::sync::Arc;

use axum::http::Method;
use serde_json::json;

use crate::harness::TestApp;
use crate::helpers::*;

#[tokio::test]
async fn create_paciente_returns_201_with_the_stored_record() {
    let srv = TestApp::new().await;
    let body = paciente_body("Maria da Silva", 10);

    let r = srv.post("/pacientes", &body).await;

    r.expect_status(201);
    let p = &r.body;
    assert!(
        uuid::Uuid::parse_str(&str_field(p, "id")).is_ok(),
        "id is a UUID string: {p}"
    );
    assert_eq!(p["nome"], "Maria da Silva");
    assert_eq!(p["cpf"], json!(cpf(10)));
    assert_eq!(p["data_nascimento"], "1985-04-12");
    assert_eq!(p["email"], "paciente10@exemplo.com.br");
    assert_eq!(p["telefone"], "(11) 98765-4321");
    assert_eq!(p["convenio"], "Unimed");
    for field in ["created_at", "updated_at"] {
        let ts = str_field(p, field);
        assert!(
            ts.parse::<jiff::Timestamp>().is_ok(),
            "{field} is RFC 3339: {ts}"
        );
        assert!(
            ts.ends_with("-03:00"),
            "{field} carries the clinic's offset: {ts}"
        );
    }
}

#[tokio::test]
async fn get_paciente_returns_the_same_record_as_create() {
    let srv = TestApp::new().await;
    let created = criar_paciente(&srv, "João Souza", 11).await;

    let r = srv
        .get(&format!("/pacientes/{}", str_field(&created, "id")))
        .await;

    r.expect_status(200);
    assert_eq!(r.body, created);
}

#[tokio::test]
async fn list_pacientes_returns_all_ordered_by_nome_with_total_count() {
    let srv = TestApp::new().await;
    for (i, nome) in ["Carlos Lima", "Ana Prado", "Bruno Reis"]
        .iter()
        .enumerate()
    {
        criar_paciente(&srv, nome, 20 + i as u64).await;
    }

    let r = srv.get("/pacientes").await;

    r.expect_status(200);
    let nomes: Vec<&str> = r
        .array()
        .iter()
        .map(|p| p["nome"].as_str().expect("nome"))
        .collect();
    assert_eq!(nomes, ["Ana Prado", "Bruno Reis", "Carlos Lima"]);
    assert_eq!(r.total_count(), 3);
}

#[tokio::test]
async fn list_pacientes_pages_with_limit_and_offset_and_reports_full_total() {
    let srv = TestApp::new().await;
    for (i, nome) in ["Eva", "Ana", "Davi", "Caio", "Bia"].iter().enumerate() {
        criar_paciente(&srv, nome, 30 + i as u64).await;
    }

    let r = srv.get("/pacientes?limit=2&offset=1").await;

    r.expect_status(200);
    let nomes: Vec<&str> = r
        .array()
        .iter()
        .map(|p| p["nome"].as_str().expect("nome"))
        .collect();
    assert_eq!(nomes, ["Bia", "Caio"]);
    assert_eq!(r.total_count(), 5);

    let tail = srv.get("/pacientes?limit=5000&offset=4").await;
    tail.expect_status(200);
    assert_eq!(tail.array().len(), 1);
    assert_eq!(tail.total_count(), 5);

    let past_end = srv.get("/pacientes?offset=10").await;
    past_end.expect_status(200);
    assert!(past_end.array().is_empty());
    assert_eq!(past_end.total_count(), 5);
}

#[tokio::test]
async fn list_pacientes_q_matches_nome_ignoring_case_and_accents() {
    let srv = TestApp::new().await;
    let jose = criar_paciente(&srv, "José da Conceição", 40).await;
    criar_paciente(&srv, "Maria Antônia", 41).await;

    for q in ["jose", "JOSÉ", "conceicao", "CONCEIÇÃO", "da conc"] {
        let r = srv.get(&format!("/pacientes?q={}", enc(q))).await;
        r.expect_status(200);
        assert_eq!(ids(r.array()), vec![str_field(&jose, "id")], "q={q}");
        assert_eq!(r.total_count(), 1, "q={q}");
    }

    let antonia = srv.get(&format!("/pacientes?q={}", enc("antonia"))).await;
    assert_eq!(antonia.array().len(), 1);
    assert_eq!(antonia.array()[0]["nome"], "Maria Antônia");

    let none = srv.get("/pacientes?q=inexistente").await;
    none.expect_status(200);
    assert!(none.array().is_empty());
    assert_eq!(none.total_count(), 0);
}

#[tokio::test]
async fn list_pacientes_q_matches_cpf_digits() {
    let srv = TestApp::new().await;
    let a = criar_paciente(&srv, "Ana", 50).await;
    criar_paciente(&srv, "Bia", 51_000).await;
    let cpf_a = cpf(50);

    let full = srv.get(&format!("/pacientes?q={cpf_a}")).await;
    let partial = srv.get(&format!("/pacientes?q={}", &cpf_a[..7])).await;

    assert_eq!(ids(full.array()), vec![str_field(&a, "id")]);
    assert!(
        ids(partial.array()).contains(&str_field(&a, "id")),
        "partial CPF matches: {}",
        partial.text
    );
}

#[tokio::test]
async fn update_paciente_changes_only_the_fields_sent() {
    let srv = TestApp::new().await;
    let p = criar_paciente(&srv, "Rita Alves", 60).await;
    let id = str_field(&p, "id");

    let r = srv
        .put(
            &format!("/pacientes/{id}"),
            &json!({"telefone": "11 2222-3333", "convenio": "Bradesco Saúde"}),
        )
        .await;

    r.expect_status(200);
    let u = &r.body;
    assert_eq!(u["telefone"], "11 2222-3333");
    assert_eq!(u["convenio"], "Bradesco Saúde");
    for same in [
        "id",
        "nome",
        "cpf",
        "data_nascimento",
        "email",
        "created_at",
    ] {
        assert_eq!(u[same], p[same], "{same} unchanged");
    }
    assert!(str_field(u, "updated_at") >= str_field(&p, "updated_at"));
    let again = srv.get(&format!("/pacientes/{id}")).await;
    assert_eq!(&again.body, u, "GET returns the updated record");
}

#[tokio::test]
async fn update_paciente_with_bad_email_returns_422_and_changes_nothing() {
    let srv = TestApp::new().await;
    let p = criar_paciente(&srv, "Rita Alves", 61).await;
    let id = str_field(&p, "id");

    let r = srv
        .put(
            &format!("/pacientes/{id}"),
            &json!({"email": "nao-e-email"}),
        )
        .await;

    assert_validation(&r, &["email"], "bad email on update");
    assert_eq!(srv.get(&format!("/pacientes/{id}")).await.body, p);
}

#[tokio::test]
async fn delete_paciente_returns_204_and_then_404() {
    let srv = TestApp::new().await;
    let p = criar_paciente(&srv, "Tiago Melo", 70).await;
    let id = str_field(&p, "id");

    let r = srv.delete(&format!("/pacientes/{id}")).await;

    r.expect_status(204);
    assert_problem(
        &srv.get(&format!("/pacientes/{id}")).await,
        404,
        "not_found",
    );
    assert_eq!(srv.count("/pacientes").await, 0);
}

#[tokio::test]
async fn unknown_paciente_id_returns_404_on_get_put_and_delete() {
    let srv = TestApp::new().await;
    let id = unknown_id();

    let get = srv.get(&format!("/pacientes/{id}")).await;
    let put = srv
        .put(&format!("/pacientes/{id}"), &json!({"nome": "X"}))
        .await;
    let del = srv.delete(&format!("/pacientes/{id}")).await;

    for (what, r) in [("GET", get), ("PUT", put), ("DELETE", del)] {
        assert_eq!(r.status, 404, "{what}: {}", r.text);
        assert_problem(&r, 404, "not_found");
    }
}

#[tokio::test]
async fn create_paciente_rejects_bad_fields_with_422_and_creates_nothing() {
    let srv = TestApp::new().await;
    let valid = paciente_body("Válido", 80);
    let nome_201 = "a".repeat(201);
    // (reason, field to set, value, fields the error may name)
    let cases: Vec<(&str, &str, serde_json::Value, &[&str])> = vec![
        (
            "CPF with a wrong check digit",
            "cpf",
            json!(cpf_invalido(80)),
            &["cpf"],
        ),
        (
            "formatted CPF with a wrong check digit",
            "cpf",
            json!(cpf_formatado(&cpf_invalido(81))),
            &["cpf"],
        ),
        (
            "CPF with all digits equal",
            "cpf",
            json!("111.111.111-11"),
            &["cpf"],
        ),
        ("CPF with 10 digits", "cpf", json!("1234567890"), &["cpf"]),
        ("CPF with letters", "cpf", json!("123abc78909"), &["cpf"]),
        ("CPF missing", "cpf", json!(null), &["cpf"]),
        (
            "birth date in the future",
            "data_nascimento",
            json!("2999-01-01"),
            &["data_nascimento"],
        ),
        (
            "birth date not ISO",
            "data_nascimento",
            json!("12/04/1985"),
            &["data_nascimento"],
        ),
        (
            "birth date that does not exist",
            "data_nascimento",
            json!("1990-02-30"),
            &["data_nascimento"],
        ),
        (
            "e-mail without @",
            "email",
            json!("paciente.exemplo.com"),
            &["email"],
        ),
        (
            "e-mail without domain",
            "email",
            json!("paciente@"),
            &["email"],
        ),
        (
            "e-mail without local part",
            "email",
            json!("@exemplo.com"),
            &["email"],
        ),
        (
            "e-mail the sender would refuse (dot before @): every e-mail would fail",
            "email",
            json!("maria.@gmail.com"),
            &["email"],
        ),
        (
            "e-mail with two dots in a row",
            "email",
            json!("maria..silva@gmail.com"),
            &["email"],
        ),
        (
            "telefone with letters",
            "telefone",
            json!("11 9abc-1234"),
            &["telefone"],
        ),
        (
            "telefone shorter than 8",
            "telefone",
            json!("1234567"),
            &["telefone"],
        ),
        (
            "telefone longer than 20",
            "telefone",
            json!("123456789012345678901"),
            &["telefone"],
        ),
        ("nome empty", "nome", json!(""), &["nome"]),
        ("nome only spaces", "nome", json!("   "), &["nome"]),
        ("nome over 200 chars", "nome", json!(nome_201), &["nome"]),
        ("nome is a number", "nome", json!(123), &["nome"]),
    ];

    for (reason, field, value, expected) in cases {
        let mut body = valid.clone();
        if value.is_null() {
            body.as_object_mut().expect("object").remove(field);
        } else {
            body[field] = value;
        }
        let r = srv.post("/pacientes", &body).await;
        assert_validation(&r, expected, reason);
    }
    assert_eq!(srv.count("/pacientes").await, 0, "nothing was created");
}

#[tokio::test]
async fn create_paciente_accepts_nome_of_exactly_200_chars() {
    let srv = TestApp::new().await;
    let mut body = paciente_body("x", 90);
    body["nome"] = json!("é".repeat(200));

    let r = srv.post("/pacientes", &body).await;

    r.expect_status(201);
}

#[tokio::test]
async fn create_paciente_with_duplicate_cpf_in_either_format_returns_409() {
    let srv = TestApp::new().await;
    let digits = cpf(100);
    let first = srv
        .post(
            "/pacientes",
            &json!({"nome": "Primeira", "cpf": digits, "data_nascimento": "1990-01-01"}),
        )
        .await;
    first.expect_status(201);

    // (reason, cpf as sent)
    let cases = [
        ("same digits", digits.clone()),
        ("same CPF with punctuation", cpf_formatado(&digits)),
    ];
    for (reason, sent) in cases {
        let r = srv
            .post(
                "/pacientes",
                &json!({"nome": "Segunda", "cpf": sent, "data_nascimento": "1991-01-01"}),
            )
            .await;
        assert_eq!(r.status, 409, "[{reason}] {}", r.text);
        assert_problem(&r, 409, "duplicate_cpf");
    }
    assert_eq!(srv.count("/pacientes").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_with_the_same_cpf_create_exactly_one() {
    let srv = Arc::new(TestApp::new().await);
    let body = paciente_body("Corrida", 110);

    let requests = (0..8)
        .map(|_| (Method::POST, "/pacientes".to_owned(), body.clone()))
        .collect();
    let statuses = send_all(&srv, requests).await;

    assert_eq!(count_status(&statuses, 201), 1, "{statuses:?}");
    assert_eq!(count_status(&statuses, 409), 7, "{statuses:?}");
    assert_eq!(srv.count("/pacientes").await, 1);
}

#[tokio::test]
async fn delete_paciente_with_future_agendada_consulta_returns_409_until_it_is_cancelled() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let c = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2031-05-05T10:00:00",
        "2031-05-05T10:30:00",
    )
    .await;

    let blocked = srv.delete(&format!("/pacientes/{pid}")).await;

    assert_problem(&blocked, 409, "record_in_use");
    srv.get(&format!("/pacientes/{pid}"))
        .await
        .expect_status(200);

    srv.put(
        &format!("/consultas/{}", str_field(&c, "id")),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);
    srv.delete(&format!("/pacientes/{pid}"))
        .await
        .expect_status(204);
}

#[tokio::test]
async fn delete_paciente_with_future_confirmada_consulta_returns_409() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let c = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2031-05-05T10:00:00",
        "2031-05-05T10:30:00",
    )
    .await;
    srv.put(
        &format!("/consultas/{}", str_field(&c, "id")),
        &json!({"status": "confirmada"}),
    )
    .await
    .expect_status(200);

    let r = srv.delete(&format!("/pacientes/{pid}")).await;

    assert_problem(&r, 409, "record_in_use");
    assert_eq!(srv.count("/pacientes").await, 1);
}

#[tokio::test]
async fn delete_paciente_with_only_past_consultas_keeps_their_history() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let past = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2020-03-10T09:00:00",
        "2020-03-10T09:30:00",
    )
    .await;

    let r = srv.delete(&format!("/pacientes/{pid}")).await;

    r.expect_status(204);
    let kept = srv
        .get(&format!("/consultas/{}", str_field(&past, "id")))
        .await;
    kept.expect_status(200);
    assert_eq!(kept.body["paciente_id"], json!(pid));
}

#[tokio::test]
async fn notificacoes_email_defaults_to_true_and_staff_turn_it_off_and_on() {
    let app = TestApp::new().await;
    let p = app.post("/pacientes", &paciente_body("Ana", 901)).await;
    p.expect_status(201);
    assert_eq!(
        p.body["notificacoes_email"],
        json!(true),
        "default: opted in"
    );
    let mut sem = paciente_body("Bia", 902);
    sem["notificacoes_email"] = json!(false);
    let s = app.post("/pacientes", &sem).await;
    s.expect_status(201);
    assert_eq!(s.body["notificacoes_email"], json!(false));
    let uri = format!("/pacientes/{}", p.id());
    let off = app.put(&uri, &json!({"notificacoes_email": false})).await;
    off.expect_status(200);
    assert_eq!(off.body["notificacoes_email"], json!(false));
    let keep = app.put(&uri, &json!({"telefone": "11987654321"})).await;
    assert_eq!(
        keep.body["notificacoes_email"],
        json!(false),
        "absent keeps it"
    );
    for (body, reason) in [
        (json!({"notificacoes_email": null}), "null is not a choice"),
        (
            json!({"notificacoes_email": "sim"}),
            "a string is not a boolean",
        ),
    ] {
        assert_validation(&app.put(&uri, &body).await, &["notificacoes_email"], reason);
    }
    assert_eq!(
        app.get(&uri).await.body["notificacoes_email"],
        json!(false),
        "refused changes change nothing"
    );
    let on = app.put(&uri, &json!({"notificacoes_email": true})).await;
    assert_eq!(on.body["notificacoes_email"], json!(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_opts_out_of_email_on_their_own_record_only() {
    let app = TestApp::with_args(&["--auth", "on"]).await;
    agendamento::services::usuarios::criar_admin(
        &app.state,
        "adm@clinica.example",
        "Adm",
        "senha-do-admin".into(),
    )
    .await
    .expect("admin");
    let login = |email: &'static str, senha: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post("/auth/login", &json!({"email": email, "senha": senha}))
                .await;
            r.expect_status(200);
            format!("Bearer {}", str_field(&r.body, "token"))
        }
    };
    let adm = login("adm@clinica.example", "senha-do-admin").await;
    let com = |tok: &str, method: Method, uri: &str, body: serde_json::Value| {
        let (app, tok, uri) = (&app, tok.to_owned(), uri.to_owned());
        async move {
            let h = [
                ("authorization", tok.as_str()),
                ("content-type", "application/json"),
            ];
            app.send(method, &uri, &h, body.to_string()).await
        }
    };
    let p1 = com(&adm, Method::POST, "/pacientes", paciente_body("Um", 911))
        .await
        .id();
    let p2 = com(&adm, Method::POST, "/pacientes", paciente_body("Dois", 912))
        .await
        .id();
    com(
        &adm,
        Method::POST,
        "/usuarios",
        json!({"nome": "Um", "email": "um@clinica.example", "papel": "paciente",
               "paciente_id": p1, "senha": "senha-comum-1"}),
    )
    .await
    .expect_status(201);
    let pac = login("um@clinica.example", "senha-comum-1").await;
    let meu = com(
        &pac,
        Method::PUT,
        &format!("/pacientes/{p1}"),
        json!({"notificacoes_email": false}),
    )
    .await;
    meu.expect_status(200);
    assert_eq!(meu.body["notificacoes_email"], json!(false));
    let alheio = com(
        &pac,
        Method::PUT,
        &format!("/pacientes/{p2}"),
        json!({"notificacoes_email": false}),
    )
    .await;
    assert_problem(&alheio, 404, "not_found");
    let dois = app
        .state
        .store
        .read()
        .pacientes
        .get(&p2)
        .cloned()
        .expect("p2");
    assert!(dois.notificacoes_email, "the other patient is untouched");
}

#[tokio::test]
async fn a_name_typed_decomposed_is_stored_composed() {
    // "João" as some sources paste it: "a" followed by a combining tilde (U+0303). The PDF
    // report's fonts print only composed letters.
    let srv = TestApp::new().await;
    let r = srv
        .post("/pacientes", &paciente_body("Joa\u{303}o Decomposto", 11))
        .await;
    r.expect_status(201);
    assert_eq!(r.body["nome"], "João Decomposto");
    let busca = srv.get(&format!("/pacientes?q={}", enc("João"))).await;
    busca.expect_status(200);
    assert_eq!(busca.array().len(), 1, "{}", busca.text);
}
