//! `/medicos` (SPEC §2): CRUD, `?especialidade=`, ordering, validation, CRM uniqueness,
//! and deletion rules (horários go with the doctor; future appointments block it).

use serde_json::json;

use crate::harness::TestApp;
use crate::helpers::*;

#[tokio::test]
async fn create_medico_returns_201_with_the_stored_record() {
    let srv = TestApp::new().await;

    let r = srv
        .post(
            "/medicos",
            &medico_body("Dr. Paulo Nunes", 123_456, "Cardiologia"),
        )
        .await;

    r.expect_status(201);
    let m = &r.body;
    assert!(uuid::Uuid::parse_str(&str_field(m, "id")).is_ok());
    assert_eq!(m["nome"], "Dr. Paulo Nunes");
    assert_eq!(m["crm"], "CRM/SP 123456");
    assert_eq!(m["especialidade"], "Cardiologia");
    assert_eq!(m["email"], "medico123456@clinica.com.br");
    assert_eq!(m["telefone"], "+55 11 3333-4444");
    assert!(m["created_at"].is_string() && m["updated_at"].is_string());

    let got = srv.get(&format!("/medicos/{}", str_field(m, "id"))).await;
    got.expect_status(200);
    assert_eq!(&got.body, m);
}

#[tokio::test]
async fn list_medicos_orders_by_nome_and_filters_by_especialidade() {
    let srv = TestApp::new().await;
    criar_medico(&srv, "Carla Mota", 3, "Cardiologia").await;
    criar_medico(&srv, "Bruno Lima", 2, "Dermatologia").await;
    criar_medico(&srv, "Alberto Dias", 1, "Cardiologia").await;

    let all = srv.get("/medicos").await;
    let cardio = srv.get("/medicos?especialidade=Cardiologia").await;

    all.expect_status(200);
    let nomes: Vec<&str> = all
        .array()
        .iter()
        .map(|m| m["nome"].as_str().expect("nome"))
        .collect();
    assert_eq!(nomes, ["Alberto Dias", "Bruno Lima", "Carla Mota"]);
    assert_eq!(all.total_count(), 3);

    cardio.expect_status(200);
    let nomes: Vec<&str> = cardio
        .array()
        .iter()
        .map(|m| m["nome"].as_str().expect("nome"))
        .collect();
    assert_eq!(nomes, ["Alberto Dias", "Carla Mota"]);
    assert_eq!(cardio.total_count(), 2);

    let paged = srv
        .get("/medicos?especialidade=Cardiologia&limit=1&offset=1")
        .await;
    assert_eq!(paged.array().len(), 1);
    assert_eq!(paged.array()[0]["nome"], "Carla Mota");
    assert_eq!(paged.total_count(), 2);
}

#[tokio::test]
async fn update_medico_changes_only_the_fields_sent() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dr. Paulo", 10, "Cardiologia").await;
    let id = str_field(&m, "id");

    let r = srv
        .put(
            &format!("/medicos/{id}"),
            &json!({"especialidade": "Neurologia", "nome": "Dr. Paulo Nunes"}),
        )
        .await;

    r.expect_status(200);
    assert_eq!(r.body["especialidade"], "Neurologia");
    assert_eq!(r.body["nome"], "Dr. Paulo Nunes");
    for same in ["id", "crm", "email", "telefone", "created_at"] {
        assert_eq!(r.body[same], m[same], "{same} unchanged");
    }
    assert_eq!(srv.get(&format!("/medicos/{id}")).await.body, r.body);
}

#[tokio::test]
async fn create_medico_rejects_bad_fields_with_422_and_creates_nothing() {
    let srv = TestApp::new().await;
    let valid = medico_body("Dr. Válido", 1, "Pediatria");
    // (reason, field, value or null to remove, fields the error may name)
    let cases: Vec<(&str, &str, serde_json::Value, &[&str])> = vec![
        ("empty nome", "nome", json!(""), &["nome"]),
        ("blank nome", "nome", json!("  "), &["nome"]),
        (
            "empty especialidade",
            "especialidade",
            json!(""),
            &["especialidade"],
        ),
        (
            "blank especialidade",
            "especialidade",
            json!("   "),
            &["especialidade"],
        ),
        (
            "missing especialidade",
            "especialidade",
            json!(null),
            &["especialidade"],
        ),
        ("missing crm", "crm", json!(null), &["crm"]),
        ("empty crm", "crm", json!(""), &["crm"]),
        ("bad e-mail", "email", json!("medico@"), &["email"]),
        ("bad telefone", "telefone", json!("telefone"), &["telefone"]),
    ];

    for (reason, field, value, expected) in cases {
        let mut body = valid.clone();
        if value.is_null() {
            body.as_object_mut().expect("object").remove(field);
        } else {
            body[field] = value;
        }
        let r = srv.post("/medicos", &body).await;
        assert_validation(&r, expected, reason);
    }
    assert_eq!(srv.count("/medicos").await, 0);
}

#[tokio::test]
async fn create_medico_with_duplicate_crm_ignoring_punctuation_and_case_returns_409() {
    let srv = TestApp::new().await;
    srv.post(
        "/medicos",
        &json!({"nome": "Dr. Um", "crm": "CRM/SP 123456", "especialidade": "Ortopedia"}),
    )
    .await
    .expect_status(201);

    // (reason, crm as sent)
    let cases = [
        ("identical", "CRM/SP 123456"),
        ("lower case", "crm/sp 123456"),
        ("dash instead of slash", "CRM-SP 123456"),
        ("no punctuation nor spaces", "crmsp123456"),
        ("extra spaces and dots", " CRM / SP 123.456 "),
    ];
    for (reason, crm) in cases {
        let r = srv
            .post(
                "/medicos",
                &json!({"nome": "Dr. Dois", "crm": crm, "especialidade": "Ortopedia"}),
            )
            .await;
        assert_eq!(r.status, 409, "[{reason}] {}", r.text);
        assert_problem(&r, 409, "duplicate_crm");
    }
    assert_eq!(srv.count("/medicos").await, 1);

    srv.post(
        "/medicos",
        &json!({"nome": "Dr. Três", "crm": "CRM/RJ 123456", "especialidade": "Ortopedia"}),
    )
    .await
    .expect_status(201);
}

#[tokio::test]
async fn unknown_medico_id_returns_404_on_get_put_and_delete() {
    let srv = TestApp::new().await;
    let id = unknown_id();

    let get = srv.get(&format!("/medicos/{id}")).await;
    let put = srv
        .put(&format!("/medicos/{id}"), &json!({"nome": "X"}))
        .await;
    let del = srv.delete(&format!("/medicos/{id}")).await;

    for r in [get, put, del] {
        assert_problem(&r, 404, "not_found");
    }
}

#[tokio::test]
async fn delete_medico_returns_204_and_deletes_their_horarios() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dr. Saulo", 20, "Urologia").await;
    let outro = criar_medico(&srv, "Dra. Outra", 21, "Urologia").await;
    let mid = str_field(&m, "id");
    let h = criar_horario(&srv, &mid, "segunda", "08:00", "12:00").await;
    let h_outro = criar_horario(&srv, &str_field(&outro, "id"), "segunda", "08:00", "12:00").await;

    let r = srv.delete(&format!("/medicos/{mid}")).await;

    r.expect_status(204);
    assert_problem(&srv.get(&format!("/medicos/{mid}")).await, 404, "not_found");
    assert_problem(
        &srv.get(&format!("/horarios/{}", str_field(&h, "id"))).await,
        404,
        "not_found",
    );
    let left = srv.get("/horarios").await;
    assert_eq!(ids(left.array()), vec![str_field(&h_outro, "id")]);
}

#[tokio::test]
async fn delete_medico_with_future_agendada_consulta_returns_409_and_keeps_everything() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let h = criar_horario(&srv, &mid, "terca", "08:00", "12:00").await;
    criar_consulta(
        &srv,
        &pid,
        &mid,
        "2032-01-06T09:00:00",
        "2032-01-06T09:30:00",
    )
    .await;

    let r = srv.delete(&format!("/medicos/{mid}")).await;

    assert_problem(&r, 409, "record_in_use");
    srv.get(&format!("/medicos/{mid}")).await.expect_status(200);
    srv.get(&format!("/horarios/{}", str_field(&h, "id")))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn delete_medico_with_only_past_or_cancelled_consultas_succeeds() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let past = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2021-01-05T09:00:00",
        "2021-01-05T09:30:00",
    )
    .await;
    let future = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2032-01-06T09:00:00",
        "2032-01-06T09:30:00",
    )
    .await;
    srv.put(
        &format!("/consultas/{}", str_field(&future, "id")),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);

    let r = srv.delete(&format!("/medicos/{mid}")).await;

    r.expect_status(204);
    srv.get(&format!("/consultas/{}", str_field(&past, "id")))
        .await
        .expect_status(200);
}
