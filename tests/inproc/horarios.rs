//! `/horarios` (SPEC §2): weekly working hours, weekday normalisation, ordering, overlap rules.

use serde_json::json;

use crate::harness::TestApp;
use crate::helpers::*;

#[tokio::test]
async fn create_horario_returns_201_with_the_stored_record() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Helena", 1, "Pediatria").await;
    let mid = str_field(&m, "id");

    let r = srv
        .post(
            &format!("/horarios/medico/{mid}"),
            &horario_body("quarta", "08:00", "12:00"),
        )
        .await;

    r.expect_status(201);
    let h = &r.body;
    assert!(uuid::Uuid::parse_str(&str_field(h, "id")).is_ok());
    assert_eq!(h["medico_id"], json!(mid));
    assert_eq!(h["dia_semana"], "quarta");
    assert_eq!(h["hora_inicio"], "08:00");
    assert_eq!(h["hora_fim"], "12:00");
    let got = srv.get(&format!("/horarios/{}", str_field(h, "id"))).await;
    got.expect_status(200);
    assert_eq!(&got.body, h);
}

#[tokio::test]
async fn create_horario_stores_weekday_unaccented_lower_case() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Helena", 1, "Pediatria").await;
    let mid = str_field(&m, "id");
    // (input, stored)
    let cases = [
        ("Terça", "terca"),
        ("SÁBADO", "sabado"),
        ("terça", "terca"),
        ("sábado", "sabado"),
        ("Domingo", "domingo"),
        ("SEGUNDA", "segunda"),
    ];

    for (i, (input, stored)) in cases.iter().enumerate() {
        // A different hour per row so that repeated days never overlap.
        let ini = format!("{:02}:00", 6 + i);
        let fim = format!("{:02}:30", 6 + i);
        let r = srv
            .post(
                &format!("/horarios/medico/{mid}"),
                &horario_body(input, &ini, &fim),
            )
            .await;
        r.expect_status(201);
        assert_eq!(r.body["dia_semana"], json!(stored), "input {input:?}");
    }
}

#[tokio::test]
async fn create_horario_for_unknown_medico_returns_404() {
    let srv = TestApp::new().await;

    let r = srv
        .post(
            &format!("/horarios/medico/{}", unknown_id()),
            &horario_body("segunda", "08:00", "12:00"),
        )
        .await;

    assert_problem(&r, 404, "not_found");
    assert_eq!(srv.count("/horarios").await, 0);
}

#[tokio::test]
async fn create_horario_rejects_bad_fields_with_422_and_creates_nothing() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Helena", 1, "Pediatria").await;
    let path = format!("/horarios/medico/{}", str_field(&m, "id"));
    // (reason, body, fields the error may name)
    let cases: Vec<(&str, serde_json::Value, &[&str])> = vec![
        (
            "unknown weekday",
            horario_body("feriado", "08:00", "12:00"),
            &["dia_semana"],
        ),
        (
            "weekday as a number",
            json!({"dia_semana": 1, "hora_inicio": "08:00", "hora_fim": "12:00"}),
            &["dia_semana"],
        ),
        (
            "empty weekday",
            horario_body("", "08:00", "12:00"),
            &["dia_semana"],
        ),
        (
            "start equal to end",
            horario_body("segunda", "08:00", "08:00"),
            &["hora_inicio", "hora_fim"],
        ),
        (
            "start after end",
            horario_body("segunda", "14:00", "08:00"),
            &["hora_inicio", "hora_fim"],
        ),
        (
            "hour 25",
            horario_body("segunda", "25:00", "26:00"),
            &["hora_inicio"],
        ),
        (
            "not HH:MM",
            horario_body("segunda", "8h", "12:00"),
            &["hora_inicio"],
        ),
        (
            "minute 60",
            horario_body("segunda", "08:00", "12:60"),
            &["hora_fim"],
        ),
        (
            "missing end",
            json!({"dia_semana": "segunda", "hora_inicio": "08:00"}),
            &["hora_fim"],
        ),
    ];

    for (reason, body, expected) in cases {
        let r = srv.post(&path, &body).await;
        assert_validation(&r, expected, reason);
    }
    assert_eq!(srv.count("/horarios").await, 0);
}

#[tokio::test]
async fn overlapping_horario_for_the_same_doctor_and_day_returns_409() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Helena", 1, "Pediatria").await;
    let mid = str_field(&m, "id");
    criar_horario(&srv, &mid, "segunda", "08:00", "12:00").await;
    let path = format!("/horarios/medico/{mid}");
    // (reason, body)
    let cases = [
        (
            "overlaps the end",
            horario_body("segunda", "11:00", "13:00"),
        ),
        (
            "overlaps the start",
            horario_body("segunda", "07:00", "08:30"),
        ),
        ("inside it", horario_body("segunda", "09:00", "10:00")),
        ("covers it", horario_body("segunda", "07:00", "13:00")),
        ("identical", horario_body("segunda", "08:00", "12:00")),
        (
            "same day written in capitals",
            horario_body("SEGUNDA", "10:00", "11:00"),
        ),
    ];

    for (reason, body) in cases {
        let r = srv.post(&path, &body).await;
        assert_eq!(r.status, 409, "[{reason}] {}", r.text);
        assert_problem(&r, 409, "working_hours_overlap");
    }
    assert_eq!(srv.count("/horarios").await, 1);
}

#[tokio::test]
async fn adjacent_other_day_and_other_doctor_horarios_do_not_conflict() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Helena", 1, "Pediatria").await;
    let outro = criar_medico(&srv, "Dr. Outro", 2, "Pediatria").await;
    let mid = str_field(&m, "id");
    criar_horario(&srv, &mid, "terca", "08:00", "12:00").await;

    criar_horario(&srv, &mid, "terça", "12:00", "14:00").await; // adjacent after
    criar_horario(&srv, &mid, "terca", "07:00", "08:00").await; // adjacent before
    criar_horario(&srv, &mid, "quarta", "08:00", "12:00").await; // other day
    criar_horario(&srv, &str_field(&outro, "id"), "terca", "08:00", "12:00").await; // other doctor

    assert_eq!(srv.count("/horarios").await, 5);
}

#[tokio::test]
async fn list_horarios_orders_by_weekday_then_start_and_filters_by_medico() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Helena", 1, "Pediatria").await;
    let outro = criar_medico(&srv, "Dr. Outro", 2, "Pediatria").await;
    let mid = str_field(&m, "id");
    let sexta = criar_horario(&srv, &mid, "sexta", "08:00", "12:00").await;
    let seg_tarde = criar_horario(&srv, &mid, "segunda", "14:00", "18:00").await;
    let domingo = criar_horario(&srv, &mid, "domingo", "09:00", "11:00").await;
    let seg_manha = criar_horario(&srv, &mid, "segunda", "08:00", "12:00").await;
    let quarta = criar_horario(&srv, &mid, "quarta", "08:00", "12:00").await;
    criar_horario(&srv, &str_field(&outro, "id"), "segunda", "08:00", "12:00").await;

    let own = srv.get(&format!("/horarios/medico/{mid}")).await;
    let all = srv.get("/horarios").await;

    own.expect_status(200);
    assert_eq!(
        ids(own.array()),
        ids(&[seg_manha, seg_tarde, quarta, sexta, domingo]),
        "segunda..domingo, then hora_inicio: {}",
        own.text
    );
    all.expect_status(200);
    assert_eq!(all.total_count(), 6);
    // Grouped by doctor: this doctor's five appear contiguously in the same order.
    let all_ids = ids(all.array());
    let own_ids = ids(own.array());
    let pos = all_ids
        .iter()
        .position(|i| *i == own_ids[0])
        .expect("present");
    assert_eq!(&all_ids[pos..pos + 5], own_ids.as_slice());
}

#[tokio::test]
async fn update_horario_changes_it_and_rejects_overlap_and_bad_times() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Helena", 1, "Pediatria").await;
    let mid = str_field(&m, "id");
    let a = criar_horario(&srv, &mid, "segunda", "08:00", "12:00").await;
    let b = criar_horario(&srv, &mid, "segunda", "14:00", "18:00").await;
    let bid = str_field(&b, "id");

    let ok = srv
        .put(
            &format!("/horarios/{bid}"),
            &horario_body("Sábado", "13:00", "17:00"),
        )
        .await;
    ok.expect_status(200);
    assert_eq!(ok.body["dia_semana"], "sabado");
    assert_eq!(ok.body["hora_inicio"], "13:00");
    assert_eq!(ok.body["hora_fim"], "17:00");
    assert_eq!(ok.body["medico_id"], json!(mid));
    assert_eq!(
        ok.body["consultas_afetadas"],
        json!([]),
        "no appointments to leave out"
    );
    let mut stored = ok.body.clone();
    stored
        .as_object_mut()
        .expect("object")
        .remove("consultas_afetadas");

    let overlap = srv
        .put(
            &format!("/horarios/{bid}"),
            &horario_body("segunda", "11:00", "15:00"),
        )
        .await;
    assert_problem(&overlap, 409, "working_hours_overlap");

    let bad = srv
        .put(
            &format!("/horarios/{bid}"),
            &horario_body("segunda", "15:00", "14:00"),
        )
        .await;
    assert_validation(
        &bad,
        &["hora_inicio", "hora_fim"],
        "start after end on update",
    );

    // Nothing changed by the rejected updates.
    assert_eq!(srv.get(&format!("/horarios/{bid}")).await.body, stored);
    assert_eq!(
        srv.get(&format!("/horarios/{}", str_field(&a, "id")))
            .await
            .body,
        a
    );
}

#[tokio::test]
async fn update_horario_may_keep_its_own_interval() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Helena", 1, "Pediatria").await;
    let h = criar_horario(&srv, &str_field(&m, "id"), "segunda", "08:00", "12:00").await;

    // Overlapping only itself is not a conflict.
    let r = srv
        .put(
            &format!("/horarios/{}", str_field(&h, "id")),
            &horario_body("segunda", "08:00", "13:00"),
        )
        .await;

    r.expect_status(200);
    assert_eq!(r.body["hora_fim"], "13:00");
}

#[tokio::test]
async fn delete_horario_returns_204_then_404() {
    let srv = TestApp::new().await;
    let m = criar_medico(&srv, "Dra. Helena", 1, "Pediatria").await;
    let h = criar_horario(&srv, &str_field(&m, "id"), "segunda", "08:00", "12:00").await;
    let path = format!("/horarios/{}", str_field(&h, "id"));

    srv.delete(&path).await.expect_status(204);

    assert_problem(&srv.get(&path).await, 404, "not_found");
    assert_problem(&srv.delete(&path).await, 404, "not_found");
    assert_problem(
        &srv.put(&path, &horario_body("segunda", "08:00", "12:00"))
            .await,
        404,
        "not_found",
    );
    assert_eq!(srv.count("/horarios").await, 0);
}

/// The log lines of `GET /sistema/logs`, newest first.
async fn log_lines(srv: &TestApp) -> Vec<String> {
    let r = srv.get("/sistema/logs").await;
    r.expect_status(200);
    r.body["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("logs expected: {}", r.text))
        .iter()
        .map(|l| l.as_str().expect("log line").to_string())
        .collect()
}

#[tokio::test]
async fn shrinking_a_horario_under_an_active_consulta_answers_consultas_afetadas_and_logs_them() {
    let srv = TestApp::with_logs().await;
    let seg = crate::helpers::monday(3);
    let at = crate::helpers::at;
    let p = str_field(&criar_paciente(&srv, "Paciente Afetado", 41).await, "id");
    let m = str_field(
        &criar_medico(&srv, "Dra. Afetada", 41, "Pediatria").await,
        "id",
    );
    let hid = str_field(
        &criar_horario(&srv, &m, "segunda", "08:00", "12:00").await,
        "id",
    );
    let fora = str_field(
        &criar_consulta(&srv, &p, &m, &at(seg, "11:00"), &at(seg, "11:30")).await,
        "id",
    );
    let dentro = str_field(
        &criar_consulta(&srv, &p, &m, &at(seg, "08:00"), &at(seg, "08:30")).await,
        "id",
    );
    let cancelada = str_field(
        &criar_consulta(&srv, &p, &m, &at(seg, "10:30"), &at(seg, "11:00")).await,
        "id",
    );
    srv.put(
        &format!("/consultas/{cancelada}"),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);

    let r = srv
        .put(&format!("/horarios/{hid}"), &json!({"hora_fim": "10:00"}))
        .await;

    r.expect_status(200);
    assert_eq!(r.body["hora_fim"], "10:00", "{}", r.text);
    assert_eq!(r.body["id"], json!(hid));
    assert_eq!(
        r.body["consultas_afetadas"],
        json!([fora]),
        "only the active one now outside the hours ({dentro} is inside, {cancelada} is cancelled)"
    );
    let logs = log_lines(&srv).await;
    assert!(
        logs.iter().any(|l| l.contains(&fora) && l.contains(&hid)),
        "the affected appointment is logged: {logs:#?}"
    );

    // Only what the change itself leaves out is listed: 11:00 was already outside 08:00-10:00.
    let r = srv
        .put(
            &format!("/horarios/{hid}"),
            &json!({"hora_inicio": "07:00"}),
        )
        .await;
    r.expect_status(200);
    assert_eq!(r.body["consultas_afetadas"], json!([]), "{}", r.text);
    let r = srv
        .put(&format!("/horarios/{hid}"), &json!({"hora_fim": "12:00"}))
        .await;
    assert_eq!(r.body["consultas_afetadas"], json!([]), "{}", r.text);
}

#[tokio::test]
async fn deleting_a_horario_under_an_active_consulta_logs_the_affected_ids() {
    let srv = TestApp::with_logs().await;
    let seg = crate::helpers::monday(3);
    let at = crate::helpers::at;
    let p = str_field(&criar_paciente(&srv, "Paciente Órfão", 42).await, "id");
    let m = str_field(
        &criar_medico(&srv, "Dr. Sem Tarde", 42, "Pediatria").await,
        "id",
    );
    let hid = str_field(
        &criar_horario(&srv, &m, "segunda", "13:00", "17:00").await,
        "id",
    );
    let c = str_field(
        &criar_consulta(&srv, &p, &m, &at(seg, "14:00"), &at(seg, "15:00")).await,
        "id",
    );

    let r = srv.delete(&format!("/horarios/{hid}")).await;

    r.expect_status(204);
    let logs = log_lines(&srv).await;
    assert!(
        logs.iter()
            .any(|l| l.contains(&c) && l.contains(&hid) && l.contains("consultas_afetadas")),
        "the affected appointment is logged: {logs:#?}"
    );
}
