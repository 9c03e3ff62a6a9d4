//! Recurring appointments (SPEC-2 §11): all occurrences or none, in one task; 52 at once;
//! cancelling the future ones; bad input.

use serde_json::{Value, json};

use crate::common::{assert_problem, consulta_body, str_field, unknown_id};
use crate::harness::TestApp;
use crate::helpers::{at, monday, plus_days};

fn serie(p: &str, m: &str, ini: &str, fim: &str, semanas: i64, n: i64) -> Value {
    json!({"paciente_id": p, "medico_id": m, "inicio": ini, "fim": fim,
        "repeticao": {"a_cada_semanas": semanas, "ocorrencias": n}})
}

async fn task(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/sistema/tasks/{id}")).await;
    r.expect_status(200);
    r.body
}

/// Asks for the series `corpo` (202), runs the queue; its task and the acceptance's body.
async fn pedida(app: &TestApp, corpo: &Value) -> (Value, Value) {
    let r = app.post("/consultas/agendar-serie", corpo).await;
    r.expect_status(202);
    app.run_tasks().await;
    (task(app, &str_field(&r.body, "task_id")).await, r.body)
}

async fn da_serie(app: &TestApp, m: &str, serie_id: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/consultas?medico_id={m}&limit=1000"))
        .await;
    r.expect_status(200);
    r.array()
        .iter()
        .filter(|c| c["serie_id"] == json!(serie_id))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_of_52_weekly_appointments_is_booked_in_one_task() {
    let app = TestApp::with(|c| c.horizonte_dias = 800).await;
    let p = app.paciente(60).await;
    let m = app.medico(60, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let r = app
        .post(
            "/consultas/agendar-serie",
            &serie(&p, &m, &at(seg, "09:00"), &at(seg, "09:30"), 1, 52),
        )
        .await;
    r.expect_status(202);
    assert_eq!(r.body["status"], "pendente");
    let serie_id = str_field(&r.body, "serie_id");
    let task_id = str_field(&r.body, "task_id");

    assert_eq!(app.run_tasks().await, 1);

    let t = task(&app, &task_id).await;
    assert_eq!(t["status"], "concluida", "{t}");
    let cs = da_serie(&app, &m, &serie_id).await;
    assert_eq!(cs.len(), 52);
    for (k, c) in cs.iter().enumerate() {
        let dia = plus_days(seg, 7 * k as i64);
        assert_eq!(c["inicio"], json!(at(dia, "09:00")), "{c}");
        assert_eq!(c["status"], "agendada");
    }
    assert_eq!(
        app.slot_state(&m, &at(plus_days(seg, 7 * 51), "09:00"))
            .await,
        "ocupado"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_on_one_occurrence_books_none_and_lists_the_dates() {
    let app = TestApp::new().await;
    let (p, outro) = (app.paciente(61).await, app.paciente(62).await);
    let m = app.medico(61, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let terceira = plus_days(seg, 14);
    app.post(
        "/consultas",
        &consulta_body(&outro, &m, &at(terceira, "09:00"), &at(terceira, "09:30")),
    )
    .await
    .expect_status(201);
    let r = app
        .post(
            "/consultas/agendar-serie",
            &serie(&p, &m, &at(seg, "09:00"), &at(seg, "09:30"), 1, 5),
        )
        .await;
    r.expect_status(202);
    let serie_id = str_field(&r.body, "serie_id");
    app.run_tasks().await;

    let t = task(&app, &str_field(&r.body, "task_id")).await;
    assert_eq!(t["status"], "falhou", "{t}");
    assert_eq!(t["erro"]["code"], "serie_com_conflitos", "{t}");
    assert_eq!(t["erro"]["conflitos"], json!([terceira.to_string()]), "{t}");
    assert!(da_serie(&app, &m, &serie_id).await.is_empty());
    assert_eq!(app.slot_state(&m, &at(seg, "09:00")).await, "disponivel");

    // Every two weeks skips the taken Monday: all five are booked.
    let r = app
        .post(
            "/consultas/agendar-serie",
            &serie(
                &p,
                &m,
                &at(plus_days(seg, 7), "09:00"),
                &at(plus_days(seg, 7), "09:30"),
                2,
                5,
            ),
        )
        .await;
    r.expect_status(202);
    app.run_tasks().await;
    let t = task(&app, &str_field(&r.body, "task_id")).await;
    assert_eq!(t["status"], "concluida", "{t}");
    assert_eq!(
        da_serie(&app, &m, &str_field(&r.body, "serie_id"))
            .await
            .len(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn occurrences_outside_working_hours_fail_the_series() {
    let app = TestApp::new().await;
    let p = app.paciente(63).await;
    let m = app.medico(63, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let r = app
        .post(
            "/consultas/agendar-serie",
            &serie(&p, &m, &at(seg, "11:30"), &at(seg, "12:30"), 1, 3),
        )
        .await;
    r.expect_status(202);
    app.run_tasks().await;
    let t = task(&app, &str_field(&r.body, "task_id")).await;
    assert_eq!(t["erro"]["code"], "serie_com_conflitos", "{t}");
    assert_eq!(
        t["erro"]["conflitos"].as_array().map(Vec::len),
        Some(3),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_series_cancels_its_future_appointments_and_offers_the_slots() {
    let app = TestApp::new().await;
    let (p, b) = (app.paciente(64).await, app.paciente(65).await);
    let m = app.medico(64, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let r = app
        .post(
            "/consultas/agendar-serie",
            &serie(&p, &m, &at(seg, "09:00"), &at(seg, "09:30"), 1, 4),
        )
        .await;
    r.expect_status(202);
    let serie_id = str_field(&r.body, "serie_id");
    app.run_tasks().await;
    let dia = seg.to_string();
    let e = app
        .post(
            "/lista-espera",
            &json!({"paciente_id": b, "medico_id": m, "de": dia, "ate": dia}),
        )
        .await;
    e.expect_status(201);

    let r = app
        .post(
            &format!("/consultas/series/{serie_id}/cancelar"),
            &json!({"motivo": "Mudou de cidade"}),
        )
        .await;
    r.expect_status(200);
    assert_eq!(
        r.body["canceladas"].as_array().map(Vec::len),
        Some(4),
        "{}",
        r.text
    );
    assert_eq!(r.body["motivo"], "Mudou de cidade");
    for c in da_serie(&app, &m, &serie_id).await {
        assert_eq!(c["status"], "cancelada", "{c}");
        // One audit entry per cancelled appointment (SPEC-2 §10), not one for the write.
        let t = app
            .get(&format!(
                "/sistema/auditoria?recurso=consultas&acao=alterar&recurso_id={}",
                str_field(&c, "id")
            ))
            .await;
        t.expect_status(200);
        assert_eq!(t.array().len(), 1, "{c}: {}", t.text);
    }
    let e = app
        .get(&format!("/lista-espera/{}", str_field(&e.body, "id")))
        .await;
    assert_eq!(e.body["status"], "oferecida", "{}", e.text);
    // Again: nothing left to cancel; no body at all is fine.
    let r = app
        .send(
            axum::http::Method::POST,
            &format!("/consultas/series/{serie_id}/cancelar"),
            &[],
            "",
        )
        .await;
    r.expect_status(200);
    assert_eq!(r.body["canceladas"], json!([]));
    let r = app
        .post(
            &format!("/consultas/series/{}/cancelar", unknown_id()),
            &json!({}),
        )
        .await;
    assert_problem(&r, 404, "not_found");
}

#[tokio::test]
async fn bad_series_bodies_are_problems_never_5xx() {
    let app = TestApp::new().await;
    let p = app.paciente(66).await;
    let m = app.medico(66, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let casos = [
        (serie(&p, &m, &ini, &fim, 0, 5), "repeticao.a_cada_semanas"),
        (serie(&p, &m, &ini, &fim, 9, 5), "repeticao.a_cada_semanas"),
        (serie(&p, &m, &ini, &fim, 1, 1), "repeticao.ocorrencias"),
        (serie(&p, &m, &ini, &fim, 1, 53), "repeticao.ocorrencias"),
        (serie(&p, &m, &fim, &ini, 1, 5), "fim"),
        (serie(&p, &m, "ontem", &fim, 1, 5), "inicio"),
        (serie(&unknown_id(), &m, &ini, &fim, 1, 5), "paciente_id"),
        (serie(&p, &unknown_id(), &ini, &fim, 1, 5), "medico_id"),
    ];
    for (body, campo) in casos {
        let r = app.post("/consultas/agendar-serie", &body).await;
        let prob = assert_problem(&r, 422, "validation_failed");
        assert_eq!(crate::common::campos(&prob), [campo], "{body}: {}", r.text);
    }
    let mut tipo_errado = serie(&p, &m, &ini, &fim, 1, 5);
    tipo_errado["repeticao"]["ocorrencias"] = json!("dez");
    let r = app.post("/consultas/agendar-serie", &tipo_errado).await;
    assert!(matches!(r.status, 400 | 422), "{}", r.text);
    let r = app
        .post("/consultas/agendar-serie", &json!({"paciente_id": p}))
        .await;
    assert!(matches!(r.status, 400 | 422), "{}", r.text);
    let r = app
        .post_raw("/consultas/agendar-serie", "application/json", "{")
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app
        .post(
            &format!("/consultas/series/{}/cancelar", unknown_id()),
            &json!({"motivo": 3}),
        )
        .await;
    assert!(matches!(r.status, 400 | 422), "{}", r.text);
    assert_eq!(app.run_tasks().await, 0, "nothing was queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_occurrence_in_a_block_or_a_buffer_fails_the_whole_series() {
    let app = TestApp::new().await;
    let p = app.paciente(64).await;
    let outro = app.paciente(65).await;
    let m = app.medico(64, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    // The third Monday is a holiday-like whole-clinic block.
    let terceira = plus_days(seg, 14);
    app.post(
        "/bloqueios",
        &json!({"inicio": at(terceira, "00:00"), "fim": at(plus_days(terceira, 1), "00:00"), "motivo": "Feriado"}),
    )
    .await
    .expect_status(201);
    let r = app
        .post(
            "/consultas/agendar-serie",
            &serie(&p, &m, &at(seg, "09:00"), &at(seg, "09:30"), 1, 4),
        )
        .await;
    r.expect_status(202);
    app.run_tasks().await;
    let t = task(&app, &str_field(&r.body, "task_id")).await;
    assert_eq!(t["erro"]["code"], "serie_com_conflitos", "{t}");
    assert_eq!(t["erro"]["conflitos"], json!([terceira.to_string()]), "{t}");
    assert!(
        da_serie(&app, &m, &str_field(&r.body, "serie_id"))
            .await
            .is_empty()
    );

    // A 30-minute buffer: an appointment at 09:15 on the second Monday is too close.
    app.put(&format!("/medicos/{m}"), &json!({"intervalo_minutos": 30}))
        .await
        .expect_status(200);
    let segunda = plus_days(seg, 7);
    app.post(
        "/consultas",
        &consulta_body(&outro, &m, &at(segunda, "09:15"), &at(segunda, "09:45")),
    )
    .await
    .expect_status(201);
    let r = app
        .post(
            "/consultas/agendar-serie",
            &serie(&p, &m, &at(seg, "08:30"), &at(seg, "09:00"), 1, 2),
        )
        .await;
    r.expect_status(202);
    app.run_tasks().await;
    let t = task(&app, &str_field(&r.body, "task_id")).await;
    assert_eq!(t["erro"]["conflitos"], json!([segunda.to_string()]), "{t}");
}

/// A series keeps the clinic's minimum notice (like `agendar`) but not its horizon: a
/// treatment of many weeks is what a series is for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_keeps_the_minimum_notice_but_not_the_clinics_horizon() {
    let app = TestApp::new().await;
    let p = app.paciente(64).await;
    let m = app.medico(64, &[("segunda", "08:00", "12:00")]).await;
    // monday(1) is 9 to 15 days ahead: inside a 16-day notice; every other week after it
    // is 23 days ahead or more, past both the notice and a 20-day horizon.
    app.put(
        "/sistema/regras",
        &json!({"antecedencia_minima_minutos": 16 * 24 * 60, "horizonte_dias": 20}),
    )
    .await
    .expect_status(200);
    let seg = monday(1);
    let corpo = serie(&p, &m, &at(seg, "09:00"), &at(seg, "09:30"), 2, 3);
    let (t, _) = pedida(&app, &corpo).await;
    assert_eq!(t["erro"]["code"], "serie_com_conflitos", "{t}");
    assert_eq!(t["erro"]["conflitos"], json!([seg.to_string()]), "{t}");
    assert!(
        t["erro"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("antecedência mínima")),
        "{t}"
    );
    // Without the notice the same series is booked, the horizon notwithstanding.
    app.put(
        "/sistema/regras",
        &json!({"antecedencia_minima_minutos": null}),
    )
    .await
    .expect_status(200);
    let (t, aceita) = pedida(&app, &corpo).await;
    assert_eq!(t["status"], "concluida", "{t}");
    assert_eq!(
        da_serie(&app, &m, &str_field(&aceita, "serie_id"))
            .await
            .len(),
        3
    );
}
