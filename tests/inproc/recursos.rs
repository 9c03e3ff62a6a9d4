//! Handler behaviour of the four collections (SPEC §2) through the production router:
//! create / read / list / update / delete, field validation (422 naming the fields, nothing
//! created) and conflicts (409), for pacientes, médicos, horários and consultas.

use serde_json::json;

use crate::harness::TestApp;
use crate::helpers::{at, campos, consulta_body, cpf, medico_body, monday, paciente_body};

const UNKNOWN: &str = "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b";

#[tokio::test]
async fn paciente_crud_round_trip() {
    let app = TestApp::new().await;
    let created = app.post("/pacientes", &paciente_body("Ana Souza", 1)).await;
    created.expect_status(201);
    let id = created.id();
    assert_eq!(created.body["cpf"], json!(cpf(1)));
    assert_eq!(
        app.get(&format!("/pacientes/{id}")).await.body,
        created.body
    );

    let list = app.get("/pacientes/").await;
    list.expect_status(200);
    assert_eq!(list.header("x-total-count"), "1");
    assert_eq!(list.array().len(), 1);

    let updated = app
        .put(&format!("/pacientes/{id}"), &json!({"convenio": "Amil"}))
        .await;
    updated.expect_status(200);
    assert_eq!(updated.body["convenio"], "Amil");
    assert_eq!(
        updated.body["nome"], "Ana Souza",
        "fields not sent are kept"
    );

    app.delete(&format!("/pacientes/{id}"))
        .await
        .expect_status(204);
    app.get(&format!("/pacientes/{id}"))
        .await
        .expect_problem(404, "not_found");
}

#[tokio::test]
async fn paciente_with_bad_fields_is_422_naming_them_and_creates_nothing() {
    let app = TestApp::new().await;
    // (field, bad value, reason)
    let cases = [
        ("nome", json!("   "), "blank name"),
        ("cpf", json!("111.111.111-11"), "repeated digits"),
        ("data_nascimento", json!("12/04/1985"), "not ISO"),
        ("email", json!("a@"), "no domain"),
    ];
    for (field, value, reason) in cases {
        let mut body = paciente_body("Bia", 2);
        body[field] = value;
        let r = app.post("/pacientes", &body).await;
        r.expect_problem(422, "validation_failed");
        assert_eq!(campos(&r.body), [field], "[{reason}] {}", r.text);
    }
    let unknown_field = app
        .post("/pacientes", &{
            let mut b = paciente_body("Bia", 2);
            b["apelido"] = json!("B");
            b
        })
        .await;
    unknown_field.expect_problem(422, "validation_failed");
    assert_eq!(app.get("/pacientes").await.body, json!([]));
}

#[tokio::test]
async fn paciente_with_a_taken_cpf_is_409_on_create_and_update() {
    let app = TestApp::new().await;
    let first = app.paciente(3).await;
    let second = app.paciente(4).await;

    let create = app.post("/pacientes", &paciente_body("Outra", 3)).await;
    let update = app
        .put(&format!("/pacientes/{second}"), &json!({"cpf": cpf(3)}))
        .await;

    create.expect_problem(409, "duplicate_cpf");
    assert!(create.text.contains(&first), "{}", create.text);
    update.expect_problem(409, "duplicate_cpf");
    assert_eq!(app.get("/pacientes").await.array().len(), 2);
}

#[tokio::test]
async fn paciente_with_a_future_consulta_cannot_be_deleted() {
    let app = TestApp::new().await;
    let pid = app.paciente(5).await;
    let mid = app.medico(5, &[]).await;
    let seg = monday(1);
    app.post(
        "/consultas",
        &consulta_body(&pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")),
    )
    .await
    .expect_status(201);

    app.delete(&format!("/pacientes/{pid}"))
        .await
        .expect_problem(409, "record_in_use");
    app.delete(&format!("/medicos/{mid}"))
        .await
        .expect_problem(409, "record_in_use");
    app.get(&format!("/pacientes/{pid}"))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn medico_crud_round_trip_and_its_horarios_go_with_it() {
    let app = TestApp::new().await;
    let created = app
        .post("/medicos", &medico_body("Dra. Helena", 10, "Clínica Geral"))
        .await;
    created.expect_status(201);
    let id = created.id();
    assert_eq!(app.get(&format!("/medicos/{id}")).await.body, created.body);
    app.post(
        &format!("/horarios/medico/{id}"),
        &json!({"dia_semana": "quarta", "hora_inicio": "08:00", "hora_fim": "12:00"}),
    )
    .await
    .expect_status(201);

    let updated = app
        .put(
            &format!("/medicos/{id}"),
            &json!({"especialidade": "Pediatria"}),
        )
        .await;
    updated.expect_status(200);
    assert_eq!(updated.body["especialidade"], "Pediatria");
    assert_eq!(updated.body["crm"], created.body["crm"]);
    let filtered = app.get("/medicos?especialidade=Pediatria").await;
    assert_eq!(filtered.array().len(), 1);

    app.delete(&format!("/medicos/{id}"))
        .await
        .expect_status(204);
    app.get(&format!("/medicos/{id}"))
        .await
        .expect_problem(404, "not_found");
    assert_eq!(app.get("/horarios").await.body, json!([]));
}

#[tokio::test]
async fn medico_validation_and_duplicate_crm() {
    let app = TestApp::new().await;
    let first = app.medico(11, &[]).await;
    // (field, bad value, reason)
    let cases = [
        ("crm", json!("CRM/SP"), "no digits"),
        ("especialidade", json!(""), "empty"),
        ("telefone", json!("abc"), "not a phone"),
    ];
    for (field, value, reason) in cases {
        let mut body = medico_body("Dr. X", 12, "Clínica Geral");
        body[field] = value;
        let r = app.post("/medicos", &body).await;
        r.expect_problem(422, "validation_failed");
        assert_eq!(campos(&r.body), [field], "[{reason}] {}", r.text);
    }
    let mut dup = medico_body("Dr. Y", 11, "Clínica Geral");
    dup["crm"] = json!("crm-sp 000011");
    let r = app.post("/medicos", &dup).await;
    r.expect_problem(409, "duplicate_crm");
    assert!(r.text.contains(&first), "{}", r.text);
    assert_eq!(app.get("/medicos").await.array().len(), 1);
}

#[tokio::test]
async fn horario_crud_validation_and_overlap() {
    let app = TestApp::new().await;
    let mid = app.medico(20, &[]).await;
    let path = format!("/horarios/medico/{mid}");
    let created = app
        .post(
            &path,
            &json!({"dia_semana": "Terça", "hora_inicio": "08:00", "hora_fim": "12:00"}),
        )
        .await;
    created.expect_status(201);
    assert_eq!(created.body["dia_semana"], "terca", "stored unaccented");
    let id = created.id();

    let overlap = app
        .post(
            &path,
            &json!({"dia_semana": "terca", "hora_inicio": "11:00", "hora_fim": "13:00"}),
        )
        .await;
    overlap.expect_problem(409, "working_hours_overlap");
    let backwards = app
        .post(
            &path,
            &json!({"dia_semana": "terca", "hora_inicio": "14:00", "hora_fim": "13:00"}),
        )
        .await;
    backwards.expect_problem(422, "validation_failed");
    assert_eq!(campos(&backwards.body), ["hora_fim"]);
    let bad_day = app
        .post(
            &path,
            &json!({"dia_semana": "feriado", "hora_inicio": "08:00", "hora_fim": "09:00"}),
        )
        .await;
    assert_eq!(campos(&bad_day.body), ["dia_semana"], "{}", bad_day.text);
    app.post(
        &format!("/horarios/medico/{UNKNOWN}"),
        &json!({"dia_semana": "terca", "hora_inicio": "08:00", "hora_fim": "09:00"}),
    )
    .await
    .expect_problem(404, "not_found");

    let updated = app
        .put(
            &format!("/horarios/{id}"),
            &json!({"hora_inicio": "07:00", "hora_fim": "11:00"}),
        )
        .await;
    updated.expect_status(200);
    assert_eq!(updated.body["hora_inicio"], "07:00");
    assert_eq!(
        app.get(&format!("/horarios/medico/{mid}"))
            .await
            .array()
            .len(),
        1
    );
    app.delete(&format!("/horarios/{id}"))
        .await
        .expect_status(204);
    app.get(&format!("/horarios/{id}"))
        .await
        .expect_problem(404, "not_found");
}

#[tokio::test]
async fn consulta_crud_validation_overlaps_and_final_status() {
    let app = TestApp::new().await;
    let (p1, p2) = (app.paciente(30).await, app.paciente(31).await);
    let mid = app.medico(30, &[]).await;
    let seg = monday(1);
    let body = consulta_body(&p1, &mid, &at(seg, "09:00"), &at(seg, "09:30"));
    let created = app.post("/consultas", &body).await;
    created.expect_status(201);
    assert_eq!(created.body["status"], "agendada");
    let id = created.id();

    // Another patient with the same doctor, overlapping: the doctor is busy.
    let doctor_busy = app
        .post(
            "/consultas",
            &consulta_body(&p2, &mid, &at(seg, "09:15"), &at(seg, "09:45")),
        )
        .await;
    doctor_busy.expect_problem(409, "doctor_overlap");
    assert!(doctor_busy.text.contains(&id), "{}", doctor_busy.text);
    let backwards = app
        .post(
            "/consultas",
            &consulta_body(&p2, &mid, &at(seg, "10:00"), &at(seg, "09:00")),
        )
        .await;
    backwards.expect_problem(422, "validation_failed");
    let unknown = app
        .post(
            "/consultas",
            &consulta_body(UNKNOWN, &mid, &at(seg, "11:00"), &at(seg, "11:30")),
        )
        .await;
    assert_eq!(campos(&unknown.body), ["paciente_id"], "{}", unknown.text);

    let concluded = app
        .put(&format!("/consultas/{id}"), &json!({"status": "concluida"}))
        .await;
    concluded.expect_status(200);
    assert_eq!(concluded.body["status"], "concluida");
    app.put(&format!("/consultas/{id}"), &json!({"status": "agendada"}))
        .await
        .expect_problem(409, "invalid_status_transition");

    let list = app.get(&format!("/consultas?medico_id={mid}")).await;
    assert_eq!(list.header("x-total-count"), "1");
    app.delete(&format!("/consultas/{id}"))
        .await
        .expect_status(204);
    app.get(&format!("/consultas/{id}"))
        .await
        .expect_problem(404, "not_found");
}
