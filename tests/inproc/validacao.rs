//! Issue 9, input that used to change nothing silently, and the wording of the answers:
//! unknown and read-only fields are refused (422 naming them) on every JSON body, a
//! patient's CPF and birth date can be corrected, `nome` counts after trimming, and every
//! message says which rule failed and what is allowed, in Portuguese with its accents.

use axum::http::Method;
use serde_json::{Value, json};

use crate::harness::{Resp, TestApp};
use crate::helpers::*;

/// Asserts a 422 `validation_failed` naming exactly `fields`, each with a message.
#[track_caller]
fn assert_refuses_fields(r: &Resp, fields: &[&str], reason: &str) -> Value {
    let body = assert_problem(r, 422, "validation_failed");
    let mut got = campos(&body);
    got.sort();
    let mut want: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "[{reason}] {}", r.text);
    body
}

#[tokio::test]
async fn post_paciente_with_an_unknown_field_is_422_naming_it_and_creates_nothing() {
    let srv = TestApp::new().await;
    let mut body = paciente_body("Ana Extra", 1);
    body["apelido"] = json!("Aninha");
    body["nome_social"] = json!("Ana");

    let r = srv.post("/pacientes", &body).await;

    let p = assert_refuses_fields(&r, &["apelido", "nome_social"], "two unknown fields");
    let msg = p["errors"][0]["mensagem"].as_str().unwrap_or_default();
    assert!(
        msg.contains("desconhecido") && msg.contains("cpf"),
        "says what is accepted: {msg}"
    );
    assert_eq!(srv.count("/pacientes").await, 0);
}

#[tokio::test]
async fn put_paciente_with_a_misspelt_or_read_only_field_is_422_and_changes_nothing() {
    let srv = TestApp::new().await;
    let p = criar_paciente(&srv, "Bruno Grafia", 2).await;
    let path = format!("/pacientes/{}", str_field(&p, "id"));
    let cases: &[(Value, &[&str], &str)] = &[
        (
            json!({"telefon": "(11) 91234-5678"}),
            &["telefon"],
            "misspelt field",
        ),
        (
            json!({"id": "outro", "nome": "Bruno"}),
            &["id"],
            "read-only id",
        ),
        (
            json!({"created_at": "2020-01-01T00:00:00", "updated_at": "2020-01-01T00:00:00"}),
            &["created_at", "updated_at"],
            "read-only timestamps",
        ),
    ];
    for (body, fields, reason) in cases {
        let r = srv.put(&path, body).await;
        let b = assert_refuses_fields(&r, fields, reason);
        if fields[0] != "telefon" {
            let msg = b["errors"][0]["mensagem"].as_str().unwrap_or_default();
            assert!(msg.contains("somente leitura"), "[{reason}] {msg}");
        }
    }
    assert_eq!(srv.get(&path).await.body, p, "nothing changed");
}

#[tokio::test]
async fn every_json_body_refuses_unknown_fields() {
    let srv = TestApp::new().await;
    let seg = monday(2);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 71, &[("segunda", "08:00", "12:00")]).await;
    let h = srv.get(&format!("/horarios/medico/{mid}")).await;
    let hid = str_field(&h.array()[0], "id");
    let c = criar_consulta(&srv, &pid, &mid, &at(seg, "08:00"), &at(seg, "08:30")).await;
    let cid = str_field(&c, "id");
    let with_extra = |mut v: Value| {
        v["campo_extra"] = json!(1);
        v
    };
    let cases: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            "/medicos".into(),
            with_extra(medico_body("Dr. X", 72, "Cardiologia")),
        ),
        ("PUT", format!("/medicos/{mid}"), with_extra(json!({}))),
        (
            "POST",
            format!("/horarios/medico/{mid}"),
            with_extra(horario_body("terca", "08:00", "09:00")),
        ),
        ("PUT", format!("/horarios/{hid}"), with_extra(json!({}))),
        (
            "POST",
            "/consultas".into(),
            with_extra(consulta_body(
                &pid,
                &mid,
                &at(seg, "10:00"),
                &at(seg, "10:30"),
            )),
        ),
        ("PUT", format!("/consultas/{cid}"), with_extra(json!({}))),
        (
            "POST",
            "/consultas/agendar".into(),
            with_extra(consulta_body(
                &pid,
                &mid,
                &at(seg, "09:00"),
                &at(seg, "09:30"),
            )),
        ),
        (
            "POST",
            "/agenda/reservar".into(),
            with_extra(json!({"medico_id": mid, "slot": at(seg, "11:00")})),
        ),
        (
            "POST",
            "/agenda/liberar".into(),
            with_extra(json!({"medico_id": mid, "slot": at(seg, "11:00")})),
        ),
        ("POST", "/relatorios/gerar".into(), with_extra(json!({}))),
        (
            "POST",
            "/sistema/tasks/relatorio".into(),
            with_extra(json!({})),
        ),
    ];
    for (method, path, body) in cases {
        let m = if method == "POST" {
            Method::POST
        } else {
            Method::PUT
        };
        let r = srv.json(m, &path, &body).await;
        assert_refuses_fields(&r, &["campo_extra"], &format!("{method} {path}"));
    }
    assert_eq!(srv.count("/medicos").await, 2);
    assert_eq!(srv.count("/consultas").await, 1);
    assert_eq!(srv.slot_state(&mid, &at(seg, "11:00")).await, "disponivel");
}

#[tokio::test]
async fn the_fields_the_spec_shows_are_still_accepted() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    // POST /consultas with the optional status and observacoes of SPEC §2.
    let mut body = consulta_body(&pid, &mid, "2030-01-07T08:00:00", "2030-01-07T08:30:00");
    body["status"] = json!("confirmada");
    body["observacoes"] = json!("Trazer exames");
    srv.post("/consultas", &body).await.expect_status(201);
    srv.post(
        "/relatorios/gerar",
        &json!({"medico_id": mid, "periodo_inicio": "2030-01-01", "periodo_fim": "2030-01-31"}),
    )
    .await
    .expect_status(202);
}

#[tokio::test]
async fn put_paciente_corrects_cpf_and_data_nascimento() {
    let srv = TestApp::new().await;
    let p = criar_paciente(&srv, "Carla Corrigida", 3).await;
    let path = format!("/pacientes/{}", str_field(&p, "id"));
    let novo = cpf(33);

    let r = srv
        .put(
            &path,
            &json!({"cpf": cpf_formatado(&novo), "data_nascimento": "1990-02-03"}),
        )
        .await;

    r.expect_status(200);
    assert_eq!(r.body["cpf"], json!(novo));
    assert_eq!(r.body["data_nascimento"], json!("1990-02-03"));
    assert_eq!(srv.get(&path).await.body, r.body, "stored");
    let found = srv.get(&format!("/pacientes?q={novo}")).await;
    assert_eq!(found.array().len(), 1, "found by the new CPF");
}

#[tokio::test]
async fn put_paciente_refuses_an_invalid_duplicate_or_empty_cpf_and_a_bad_birth_date() {
    let srv = TestApp::new().await;
    let a = criar_paciente(&srv, "Dora Um", 4).await;
    let b = criar_paciente(&srv, "Edu Dois", 5).await;
    let path = format!("/pacientes/{}", str_field(&b, "id"));

    assert_problem(
        &srv.put(&path, &json!({"cpf": str_field(&a, "cpf")})).await,
        409,
        "duplicate_cpf",
    );
    let cases: &[(Value, &str, &str)] = &[
        (json!({"cpf": cpf_invalido(5)}), "cpf", "check digits"),
        (json!({"cpf": null}), "cpf", "cpf cannot be cleared"),
        (
            json!({"data_nascimento": "2999-01-01"}),
            "data_nascimento",
            "future",
        ),
        (
            json!({"data_nascimento": "03/02/1990"}),
            "data_nascimento",
            "format",
        ),
        (
            json!({"data_nascimento": null}),
            "data_nascimento",
            "cannot be cleared",
        ),
    ];
    for (body, field, reason) in cases {
        assert_refuses_fields(&srv.put(&path, body).await, &[field], reason);
    }
    // Its own CPF again is no conflict.
    srv.put(&path, &json!({"cpf": str_field(&b, "cpf")}))
        .await
        .expect_status(200);
    assert_eq!(srv.get(&path).await.body, b, "nothing changed");
}

#[tokio::test]
async fn nome_is_limited_to_200_characters_after_trimming() {
    let srv = TestApp::new().await;
    let padded = format!("   {}   ", "n".repeat(200));

    let r = srv.post("/pacientes", &paciente_body(&padded, 6)).await;

    r.expect_status(201);
    assert_eq!(r.body["nome"], json!("n".repeat(200)));
    let m = srv
        .post("/medicos", &medico_body(&padded, 73, "Pediatria"))
        .await;
    m.expect_status(201);
    let too_long = format!(" {} ", "n".repeat(201));
    assert_refuses_fields(
        &srv.post("/pacientes", &paciente_body(&too_long, 7)).await,
        &["nome"],
        "201 after trimming",
    );
}

#[tokio::test]
async fn problem_titles_are_portuguese_and_not_found_agrees_in_gender() {
    let srv = TestApp::new().await;
    let consulta = srv.get(&format!("/consultas/{}", unknown_id())).await;
    let b = assert_problem(&consulta, 404, "not_found");
    assert_eq!(b["title"], json!("Não encontrado"));
    assert_eq!(b["detail"], json!("Consulta não encontrada."));
    let medico = srv.get(&format!("/medicos/{}", unknown_id())).await;
    assert_eq!(
        assert_problem(&medico, 404, "not_found")["detail"],
        json!("Médico não encontrado.")
    );
    let bad = srv.post("/pacientes", &json!({})).await;
    assert_eq!(
        assert_problem(&bad, 422, "validation_failed")["title"],
        json!("Dados inválidos")
    );
    let conflict = {
        criar_paciente(&srv, "Fábio", 8).await;
        srv.post("/pacientes", &paciente_body("Fábio 2", 8)).await
    };
    assert_eq!(
        assert_problem(&conflict, 409, "duplicate_cpf")["title"],
        json!("Conflito")
    );
}

#[tokio::test]
async fn a_bad_enum_value_lists_the_allowed_ones() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let mut body = consulta_body(&pid, &mid, "2030-01-07T08:00:00", "2030-01-07T08:30:00");
    body["status"] = json!("feita");

    let r = srv.post("/consultas", &body).await;

    let p = assert_refuses_fields(&r, &["status"], "unknown status");
    let msg = p["errors"][0]["mensagem"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for allowed in ["agendada", "confirmada", "concluida", "faltou", "cancelada"] {
        assert!(msg.contains(allowed), "{allowed} missing from {msg:?}");
    }
}

#[tokio::test]
async fn changing_a_concluded_consulta_says_concluida_with_its_accent() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let c = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-01-07T08:00:00",
        "2030-01-07T08:30:00",
    )
    .await;
    let path = format!("/consultas/{}", str_field(&c, "id"));
    srv.put(&path, &json!({"status": "concluida"}))
        .await
        .expect_status(200);

    let r = srv.put(&path, &json!({"status": "cancelada"})).await;

    let b = assert_problem(&r, 409, "invalid_status_transition");
    let detail = b["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("concluída"), "{detail}");
}

#[tokio::test]
async fn off_grid_lunch_break_and_saturday_each_get_their_own_message() {
    let srv = TestApp::new().await;
    let seg = monday(2);
    let sabado = plus_days(seg, 5);
    let mid = medico_com_horarios(
        &srv,
        74,
        &[("segunda", "08:00", "12:00"), ("segunda", "13:00", "17:00")],
    )
    .await;
    let msg = |r: &Resp| {
        let b = assert_problem(r, 422, "validation_failed");
        b["errors"][0]["mensagem"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    let almoco = msg(&reservar(&srv, &mid, &at(seg, "12:30")).await);
    let fora = msg(&reservar(&srv, &mid, &at(seg, "08:10")).await);
    let sab = msg(&reservar(&srv, &mid, &at(sabado, "09:00")).await);

    assert!(
        almoco.contains("fora do horário de atendimento") && almoco.contains("das 13:00 às 17:00"),
        "{almoco}"
    );
    assert!(
        fora.contains("a cada 30 minutos a partir de 08:00"),
        "{fora}"
    );
    assert!(sab.contains("não atende aos sábados"), "{sab}");
}

#[tokio::test]
async fn a_nul_character_in_any_text_is_422_naming_the_field_and_changes_nothing() {
    // PostgreSQL's jsonb cannot hold U+0000 (SPEC-2 §16): such text is refused at the door
    // on both backends, instead of failing the journal write of everyone batched with it.
    let srv = TestApp::new().await;
    let mut body = paciente_body("Ana\u{0}Nula", 7);
    let r = srv.post("/pacientes", &body).await;
    let p = assert_refuses_fields(&r, &["nome"], "NUL in nome");
    assert!(
        p["errors"][0]["mensagem"]
            .as_str()
            .unwrap_or_default()
            .contains("nulo")
    );
    body["nome"] = json!("Ana Nula");
    body["email"] = json!("ana\u{0}@exemplo.com");
    assert_refuses_fields(
        &srv.post("/pacientes", &body).await,
        &["email"],
        "NUL in email",
    );
    assert_eq!(srv.count("/pacientes").await, 0);

    let p = criar_paciente(&srv, "Bruno Nulo", 8).await;
    let id = p["id"].as_str().unwrap_or_default();
    let r = srv
        .put(
            &format!("/pacientes/{id}"),
            &json!({"telefone": "11 9\u{0}"}),
        )
        .await;
    assert_refuses_fields(&r, &["telefone"], "NUL in a PUT");
}
