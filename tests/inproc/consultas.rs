//! `/consultas` (SPEC §2): synchronous create, datetime input forms, overlap rules for doctor
//! and patient, status transitions, filters, ordering and paging.

use std::sync::Arc;

use axum::http::Method;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::helpers::*;

#[tokio::test]
async fn create_consulta_returns_201_agendada_with_the_stored_record() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let mut body = consulta_body(&pid, &mid, "2030-04-01T09:00:00", "2030-04-01T09:30:00");
    body["observacoes"] = json!("Primeira consulta, trazer exames.");

    let r = srv.post("/consultas", &body).await;

    r.expect_status(201);
    let c = &r.body;
    assert!(uuid::Uuid::parse_str(&str_field(c, "id")).is_ok());
    assert_eq!(c["paciente_id"], json!(pid));
    assert_eq!(c["medico_id"], json!(mid));
    assert_eq!(c["inicio"], "2030-04-01T09:00:00");
    assert_eq!(c["fim"], "2030-04-01T09:30:00");
    assert_eq!(c["status"], "agendada");
    assert_eq!(c["observacoes"], "Primeira consulta, trazer exames.");
    assert!(c["created_at"].is_string() && c["updated_at"].is_string());
    let got = srv.get(&format!("/consultas/{}", str_field(c, "id"))).await;
    got.expect_status(200);
    assert_eq!(&got.body, c);
}

#[tokio::test]
async fn create_consulta_accepts_past_off_grid_times_without_working_hours() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;

    let r = srv
        .post(
            "/consultas",
            &consulta_body(&pid, &mid, "2019-07-03T16:07:00", "2019-07-03T16:52:00"),
        )
        .await;

    r.expect_status(201);
    assert_eq!(r.body["inicio"], "2019-07-03T16:07:00");
}

#[tokio::test]
async fn create_consulta_normalises_datetime_input_to_clinic_local() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    // (reason, inicio sent, fim sent, inicio stored, fim stored)
    let cases = [
        (
            "without seconds",
            "2030-01-07T09:00",
            "2030-01-07T09:30",
            "2030-01-07T09:00:00",
            "2030-01-07T09:30:00",
        ),
        (
            "fractional seconds",
            "2030-01-08T09:00:00.000",
            "2030-01-08T09:30:00.5",
            "2030-01-08T09:00:00",
            "2030-01-08T09:30:00",
        ),
        (
            "UTC offset Z",
            "2030-01-09T12:00:00Z",
            "2030-01-09T12:30:00Z",
            "2030-01-09T09:00:00",
            "2030-01-09T09:30:00",
        ),
        (
            "explicit -03:00",
            "2030-01-10T09:00:00-03:00",
            "2030-01-10T09:30:00-03:00",
            "2030-01-10T09:00:00",
            "2030-01-10T09:30:00",
        ),
        (
            "other offset +01:00",
            "2030-01-11T13:00:00+01:00",
            "2030-01-11T13:30:00+01:00",
            "2030-01-11T09:00:00",
            "2030-01-11T09:30:00",
        ),
    ];

    for (reason, ini, fim, ini_stored, fim_stored) in cases {
        let r = srv
            .post("/consultas", &consulta_body(&pid, &mid, ini, fim))
            .await;
        assert_eq!(r.status, 201, "[{reason}] {}", r.text);
        assert_eq!(r.body["inicio"], json!(ini_stored), "[{reason}]");
        assert!(
            r.body["fim"] == json!(fim_stored)
                || r.body["fim"]
                    .as_str()
                    .is_some_and(|f| f.starts_with(fim_stored)),
            "[{reason}] fim {}",
            r.body["fim"]
        );
    }
}

#[tokio::test]
async fn create_consulta_rejects_bad_fields_with_422_and_creates_nothing() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let ok = |ini: &str, fim: &str| consulta_body(&pid, &mid, ini, fim);
    // (reason, body, fields the error may name)
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "inicio after fim",
            ok("2030-05-01T10:00:00", "2030-05-01T09:30:00"),
            &["inicio", "fim"],
        ),
        (
            "inicio equal to fim",
            ok("2030-05-01T10:00:00", "2030-05-01T10:00:00"),
            &["inicio", "fim"],
        ),
        (
            "unknown paciente_id",
            consulta_body(
                &unknown_id(),
                &mid,
                "2030-05-01T10:00:00",
                "2030-05-01T10:30:00",
            ),
            &["paciente_id"],
        ),
        (
            "unknown medico_id",
            consulta_body(
                &pid,
                &unknown_id(),
                "2030-05-01T10:00:00",
                "2030-05-01T10:30:00",
            ),
            &["medico_id"],
        ),
        (
            "paciente_id not a UUID",
            consulta_body("abc", &mid, "2030-05-01T10:00:00", "2030-05-01T10:30:00"),
            &["paciente_id"],
        ),
        (
            "inicio not a datetime",
            ok("amanhã às 10h", "2030-05-01T10:30:00"),
            &["inicio"],
        ),
        (
            "impossible date",
            ok("2030-02-30T10:00:00", "2030-02-30T10:30:00"),
            &["inicio", "fim"],
        ),
        (
            "missing fim",
            json!({"paciente_id": pid, "medico_id": mid, "inicio": "2030-05-01T10:00:00"}),
            &["fim"],
        ),
        (
            "missing paciente_id",
            json!({"medico_id": mid, "inicio": "2030-05-01T10:00:00", "fim": "2030-05-01T10:30:00"}),
            &["paciente_id"],
        ),
    ];

    for (reason, body, expected) in cases {
        let r = srv.post("/consultas", &body).await;
        assert_validation(&r, expected, reason);
    }
    assert_eq!(srv.count("/consultas").await, 0);
}

#[tokio::test]
async fn overlapping_consulta_for_the_same_doctor_returns_409_naming_the_conflict() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let outro = criar_paciente(&srv, "Outro Paciente", 2).await;
    let first = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-06-03T10:00:00",
        "2030-06-03T11:00:00",
    )
    .await;
    let first_id = str_field(&first, "id");
    // (reason, inicio, fim)
    let cases = [
        (
            "same interval",
            "2030-06-03T10:00:00",
            "2030-06-03T11:00:00",
        ),
        (
            "overlaps the end",
            "2030-06-03T10:30:00",
            "2030-06-03T11:30:00",
        ),
        (
            "overlaps the start",
            "2030-06-03T09:30:00",
            "2030-06-03T10:01:00",
        ),
        ("inside", "2030-06-03T10:15:00", "2030-06-03T10:45:00"),
        ("covers", "2030-06-03T09:00:00", "2030-06-03T12:00:00"),
    ];

    for (reason, ini, fim) in cases {
        let r = srv
            .post(
                "/consultas",
                &consulta_body(&str_field(&outro, "id"), &mid, ini, fim),
            )
            .await;
        assert_eq!(r.status, 409, "[{reason}] {}", r.text);
        let body = assert_problem(&r, 409, "doctor_overlap");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&first_id)),
            "[{reason}] detail names the conflicting consulta {first_id}: {}",
            r.text
        );
    }
    assert_eq!(srv.count("/consultas").await, 1);
}

#[tokio::test]
async fn overlapping_consulta_for_the_same_patient_returns_409() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let outro_medico = criar_medico(&srv, "Dr. Outro", 2, "Ortopedia").await;
    let first = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-06-03T10:00:00",
        "2030-06-03T11:00:00",
    )
    .await;

    let r = srv
        .post(
            "/consultas",
            &consulta_body(
                &pid,
                &str_field(&outro_medico, "id"),
                "2030-06-03T10:30:00",
                "2030-06-03T11:30:00",
            ),
        )
        .await;

    let body = assert_problem(&r, 409, "patient_overlap");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&str_field(&first, "id"))),
        "{}",
        r.text
    );
    assert_eq!(srv.count("/consultas").await, 1);
}

#[tokio::test]
async fn adjacent_consultas_do_not_conflict() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-06-03T10:00:00",
        "2030-06-03T10:30:00",
    )
    .await;

    criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-06-03T10:30:00",
        "2030-06-03T11:00:00",
    )
    .await;
    criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-06-03T09:30:00",
        "2030-06-03T10:00:00",
    )
    .await;

    assert_eq!(srv.count("/consultas").await, 3);
}

#[tokio::test]
async fn cancelled_consultas_do_not_conflict() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let first = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-06-03T10:00:00",
        "2030-06-03T10:30:00",
    )
    .await;
    srv.put(
        &format!("/consultas/{}", str_field(&first, "id")),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);

    let r = srv
        .post(
            "/consultas",
            &consulta_body(&pid, &mid, "2030-06-03T10:00:00", "2030-06-03T10:30:00"),
        )
        .await;

    r.expect_status(201);
    assert_eq!(srv.count("/consultas").await, 2);
}

#[tokio::test]
async fn deleted_consulta_frees_its_time() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let first = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-06-03T10:00:00",
        "2030-06-03T10:30:00",
    )
    .await;
    let path = format!("/consultas/{}", str_field(&first, "id"));

    srv.delete(&path).await.expect_status(204);

    assert_problem(&srv.get(&path).await, 404, "not_found");
    assert_problem(&srv.delete(&path).await, 404, "not_found");
    criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-06-03T10:00:00",
        "2030-06-03T10:30:00",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overlapping_creates_for_one_doctor_create_exactly_one() {
    let srv = Arc::new(TestApp::new().await);
    let m = criar_medico(&srv, "Dr. Disputado", 1, "Cardiologia").await;
    let mid = str_field(&m, "id");
    let mut pacientes = Vec::new();
    for i in 0..6 {
        pacientes.push(str_field(
            &criar_paciente(&srv, &format!("P{i}"), 200 + i).await,
            "id",
        ));
    }

    let requests = pacientes
        .into_iter()
        .map(|pid| {
            let body = consulta_body(&pid, &mid, "2030-07-01T14:00:00", "2030-07-01T14:30:00");
            (Method::POST, "/consultas".to_owned(), body)
        })
        .collect();
    let statuses = send_all(&srv, requests).await;

    assert_eq!(count_status(&statuses, 201), 1, "{statuses:?}");
    assert_eq!(count_status(&statuses, 409), 5, "{statuses:?}");
    assert_eq!(srv.count("/consultas").await, 1);
}

/// Creates a consulta and moves it through `path` of statuses (each step must answer 200).
async fn consulta_no_status(
    srv: &TestApp,
    pid: &str,
    mid: &str,
    day: u32,
    path: &[&str],
) -> String {
    let ini = format!("2030-08-{day:02}T10:00:00");
    let fim = format!("2030-08-{day:02}T10:30:00");
    let c = criar_consulta(srv, pid, mid, &ini, &fim).await;
    let id = str_field(&c, "id");
    for status in path {
        let r = srv
            .put(&format!("/consultas/{id}"), &json!({"status": status}))
            .await;
        assert_eq!(r.status, 200, "setting up {path:?}: {}", r.text);
        assert_eq!(r.body["status"], json!(status));
    }
    id
}

#[tokio::test]
async fn status_transitions_follow_the_lifecycle() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    // (reason, statuses to reach first, target, expected status, expected code)
    let cases: Vec<(&str, Vec<&str>, &str, u16, &str)> = vec![
        ("agendada may be confirmed", vec![], "confirmada", 200, ""),
        (
            "agendada may go straight to concluida",
            vec![],
            "concluida",
            200,
            "",
        ),
        ("agendada may be a no-show", vec![], "faltou", 200, ""),
        ("agendada may be cancelled", vec![], "cancelada", 200, ""),
        (
            "confirmada may be concluded",
            vec!["confirmada"],
            "concluida",
            200,
            "",
        ),
        (
            "confirmada may be a no-show",
            vec!["confirmada"],
            "faltou",
            200,
            "",
        ),
        (
            "confirmada may be cancelled",
            vec!["confirmada"],
            "cancelada",
            200,
            "",
        ),
        (
            "confirmada cannot go back to agendada",
            vec!["confirmada"],
            "agendada",
            409,
            "invalid_status_transition",
        ),
        (
            "concluida is final (to cancelada)",
            vec!["concluida"],
            "cancelada",
            409,
            "invalid_status_transition",
        ),
        (
            "concluida is final (to agendada)",
            vec!["concluida"],
            "agendada",
            409,
            "invalid_status_transition",
        ),
        (
            "faltou is final (to concluida)",
            vec!["faltou"],
            "concluida",
            409,
            "invalid_status_transition",
        ),
        (
            "faltou is final (to confirmada)",
            vec!["confirmada", "faltou"],
            "confirmada",
            409,
            "invalid_status_transition",
        ),
        (
            "cancelada is final (to agendada)",
            vec!["cancelada"],
            "agendada",
            409,
            "invalid_status_transition",
        ),
        (
            "cancelada is final (to confirmada)",
            vec!["cancelada"],
            "confirmada",
            409,
            "invalid_status_transition",
        ),
        (
            "unknown status value",
            vec![],
            "remarcada",
            422,
            "validation_failed",
        ),
    ];

    for (i, (reason, path, target, status, code)) in cases.into_iter().enumerate() {
        let id = consulta_no_status(&srv, &pid, &mid, 1 + i as u32, &path).await;
        let before = srv.get(&format!("/consultas/{id}")).await.body;

        let r = srv
            .put(&format!("/consultas/{id}"), &json!({"status": target}))
            .await;

        assert_eq!(r.status, status, "[{reason}] {}", r.text);
        if status == 200 {
            assert_eq!(r.body["status"], json!(target), "[{reason}]");
        } else {
            assert_problem(&r, status, code);
            assert_eq!(
                srv.get(&format!("/consultas/{id}")).await.body,
                before,
                "[{reason}] unchanged"
            );
        }
    }
}

#[tokio::test]
async fn final_consulta_rejects_time_changes_but_accepts_observacoes() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let id = consulta_no_status(&srv, &pid, &mid, 1, &["concluida"]).await;
    let path = format!("/consultas/{id}");

    let moved = srv
        .put(
            &path,
            &json!({"inicio": "2030-08-01T11:00:00", "fim": "2030-08-01T11:30:00"}),
        )
        .await;
    let noted = srv
        .put(&path, &json!({"observacoes": "Paciente orientado."}))
        .await;

    assert_problem(&moved, 409, "invalid_status_transition");
    noted.expect_status(200);
    assert_eq!(noted.body["observacoes"], "Paciente orientado.");
    assert_eq!(noted.body["inicio"], "2030-08-01T10:00:00");
    assert_eq!(noted.body["status"], "concluida");
}

#[tokio::test]
async fn update_consulta_revalidates_times_and_overlaps() {
    let srv = TestApp::new().await;
    let (pid, mid) = paciente_e_medico(&srv).await;
    let a = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-09-02T08:00:00",
        "2030-09-02T08:30:00",
    )
    .await;
    let b = criar_consulta(
        &srv,
        &pid,
        &mid,
        "2030-09-02T09:00:00",
        "2030-09-02T09:30:00",
    )
    .await;
    let bpath = format!("/consultas/{}", str_field(&b, "id"));

    let inverted = srv
        .put(
            &bpath,
            &json!({"inicio": "2030-09-02T10:00:00", "fim": "2030-09-02T09:00:00"}),
        )
        .await;
    let only_inicio_past_fim = srv
        .put(&bpath, &json!({"inicio": "2030-09-02T09:45:00"}))
        .await;
    let overlap = srv
        .put(
            &bpath,
            &json!({"inicio": "2030-09-02T08:15:00", "fim": "2030-09-02T08:45:00"}),
        )
        .await;
    let moved = srv
        .put(
            &bpath,
            &json!({"inicio": "2030-09-02T08:30:00", "fim": "2030-09-02T09:00:00"}),
        )
        .await;

    assert_validation(&inverted, &["inicio", "fim"], "inicio after fim on update");
    assert_validation(
        &only_inicio_past_fim,
        &["inicio", "fim"],
        "new inicio after stored fim",
    );
    assert_eq!(overlap.status, 409, "{}", overlap.text);
    assert!(
        ["doctor_overlap", "patient_overlap"]
            .contains(&overlap.body["code"].as_str().unwrap_or("")),
        "{}",
        overlap.text
    );
    assert!(
        overlap.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&str_field(&a, "id")))
    );
    moved.expect_status(200);
    assert_eq!(moved.body["inicio"], "2030-09-02T08:30:00");
    assert_eq!(moved.body["fim"], "2030-09-02T09:00:00");
    assert_eq!(srv.get(&bpath).await.body, moved.body);
}

#[tokio::test]
async fn update_consulta_with_unknown_id_returns_404() {
    let srv = TestApp::new().await;

    let r = srv
        .put(
            &format!("/consultas/{}", unknown_id()),
            &json!({"observacoes": "x"}),
        )
        .await;

    assert_problem(&r, 404, "not_found");
    assert_problem(
        &srv.get(&format!("/consultas/{}", unknown_id())).await,
        404,
        "not_found",
    );
}

/// Four consultas over four days for two doctors and two patients, in scrambled order.
async fn agenda_de_exemplo(srv: &TestApp) -> (Vec<Value>, [String; 2], [String; 2]) {
    let p1 = str_field(&criar_paciente(srv, "Ana", 1).await, "id");
    let p2 = str_field(&criar_paciente(srv, "Bia", 2).await, "id");
    let m1 = str_field(&criar_medico(srv, "Dr. Um", 1, "Cardiologia").await, "id");
    let m2 = str_field(&criar_medico(srv, "Dr. Dois", 2, "Cardiologia").await, "id");
    let d = criar_consulta(srv, &p2, &m2, "2030-03-04T10:00:00", "2030-03-04T10:30:00").await;
    let b = criar_consulta(srv, &p1, &m2, "2030-03-02T23:30:00", "2030-03-02T23:59:00").await;
    let a = criar_consulta(srv, &p1, &m1, "2030-03-01T09:00:00", "2030-03-01T09:30:00").await;
    let c = criar_consulta(srv, &p2, &m1, "2030-03-03T00:00:00", "2030-03-03T00:30:00").await;
    (vec![a, b, c, d], [p1, p2], [m1, m2])
}

#[tokio::test]
async fn list_consultas_orders_by_inicio() {
    let srv = TestApp::new().await;
    let (all, _, _) = agenda_de_exemplo(&srv).await;

    let r = srv.get("/consultas").await;

    r.expect_status(200);
    assert_eq!(ids(r.array()), ids(&all));
    assert_eq!(r.total_count(), 4);
}

#[tokio::test]
async fn list_consultas_filters_by_medico_paciente_status_and_inclusive_dates() {
    let srv = TestApp::new().await;
    let (all, [p1, p2], [m1, m2]) = agenda_de_exemplo(&srv).await;
    let [a, b, c, d] = [&all[0], &all[1], &all[2], &all[3]].map(|v| str_field(v, "id"));
    srv.put(&format!("/consultas/{c}"), &json!({"status": "cancelada"}))
        .await
        .expect_status(200);
    // (reason, query, expected ids in order)
    let cases: Vec<(&str, String, Vec<&String>)> = vec![
        ("by doctor", format!("medico_id={m1}"), vec![&a, &c]),
        ("by other doctor", format!("medico_id={m2}"), vec![&b, &d]),
        ("by patient", format!("paciente_id={p1}"), vec![&a, &b]),
        (
            "by patient and doctor",
            format!("paciente_id={p2}&medico_id={m2}"),
            vec![&d],
        ),
        (
            "by status cancelada",
            "status=cancelada".to_string(),
            vec![&c],
        ),
        (
            "by status agendada",
            "status=agendada".to_string(),
            vec![&a, &b, &d],
        ),
        (
            "de and ate both inclusive",
            "de=2030-03-02&ate=2030-03-03".to_string(),
            vec![&b, &c],
        ),
        (
            "a single day",
            "de=2030-03-03&ate=2030-03-03".to_string(),
            vec![&c],
        ),
        ("only de", "de=2030-03-03".to_string(), vec![&c, &d]),
        ("only ate", "ate=2030-03-01".to_string(), vec![&a]),
        (
            "dates and doctor",
            format!("de=2030-03-02&medico_id={m2}"),
            vec![&b, &d],
        ),
        ("nothing in range", "de=2031-01-01".to_string(), vec![]),
    ];

    for (reason, query, expected) in cases {
        let r = srv.get(&format!("/consultas?{query}")).await;
        assert_eq!(r.status, 200, "[{reason}] {}", r.text);
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(ids(r.array()), expected, "[{reason}] {query}");
        assert_eq!(
            r.total_count() as usize,
            expected.len(),
            "[{reason}] x-total-count"
        );
        // A page past the end is empty and still tells the filtered total.
        let past = srv.get(&format!("/consultas?{query}&offset=100")).await;
        assert_eq!(past.status, 200, "[{reason}] {}", past.text);
        assert!(past.array().is_empty(), "[{reason}] past the end");
        assert_eq!(
            past.total_count() as usize,
            expected.len(),
            "[{reason}] x-total-count past the end"
        );
    }
}

#[tokio::test]
async fn list_consultas_pages_with_limit_and_offset() {
    let srv = TestApp::new().await;
    let (all, _, _) = agenda_de_exemplo(&srv).await;

    let r = srv.get("/consultas?limit=2&offset=1").await;

    r.expect_status(200);
    assert_eq!(ids(r.array()), ids(&all[1..3]));
    assert_eq!(r.total_count(), 4);
}

#[tokio::test]
async fn list_consultas_rejects_bad_query_parameters_with_422() {
    let srv = TestApp::new().await;
    // (reason, query)
    let cases = [
        ("de is not a date", "de=03/03/2030"),
        ("ate is an impossible date", "ate=2030-13-01"),
        ("unknown status", "status=remarcada"),
        ("limit zero", "limit=0"),
        ("limit above 5000", "limit=5001"),
        ("limit not a number", "limit=muitos"),
        ("negative offset", "offset=-1"),
    ];

    for (reason, query) in cases {
        let r = srv.get(&format!("/consultas?{query}")).await;
        assert_eq!(r.status, 422, "[{reason}] {}", r.text);
        assert_problem(&r, 422, "validation_failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_moves_of_two_consultas_into_one_time_let_exactly_one_win() {
    let srv = Arc::new(TestApp::new().await);
    let m = criar_medico(&srv, "Dr. Disputado", 1, "Cardiologia").await;
    let mid = str_field(&m, "id");
    let mut consultas = Vec::new();
    for i in 0..4u32 {
        let p = criar_paciente(&srv, &format!("P{i}"), 300 + u64::from(i)).await;
        let ini = format!("2030-07-02T{:02}:00:00", 8 + i);
        let fim = format!("2030-07-02T{:02}:30:00", 8 + i);
        consultas.push(str_field(
            &criar_consulta(&srv, &str_field(&p, "id"), &mid, &ini, &fim).await,
            "id",
        ));
    }

    let body = json!({"inicio": "2030-07-02T15:00:00", "fim": "2030-07-02T15:30:00"});
    let requests = consultas
        .iter()
        .map(|id| (Method::PUT, format!("/consultas/{id}"), body.clone()))
        .collect();
    let statuses = send_all(&srv, requests).await;

    assert_eq!(count_status(&statuses, 200), 1, "{statuses:?}");
    assert_eq!(count_status(&statuses, 409), 3, "{statuses:?}");
    let at_15 = srv.get("/consultas?de=2030-07-02&ate=2030-07-02").await;
    let moved = at_15
        .array()
        .iter()
        .filter(|c| c["inicio"] == "2030-07-02T15:00:00")
        .count();
    assert_eq!(moved, 1, "{}", at_15.text);
}
