//! The slot grid and holds (SPEC §3) through the production router: reservar, liberar,
//! their conflicts and validation, and expiry driven by calling the expiry step.

use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::helpers::{at, campos, consulta_body, monday};

fn slot(medico_id: &str, slot: &str) -> Value {
    json!({"medico_id": medico_id, "slot": slot})
}

#[tokio::test]
async fn reservar_holds_a_free_slot_and_a_second_hold_is_409() {
    let app = TestApp::new().await;
    let mid = app.medico(40, &[("segunda", "08:00", "12:00")]).await;
    let s = at(monday(1), "09:00");

    let first = app.post("/agenda/reservar", &slot(&mid, &s)).await;
    let second = app.post("/agenda/reservar", &slot(&mid, &s)).await;

    first.expect_status(200);
    assert_eq!(first.body["status"], "reservado");
    assert_eq!(first.body["slot"], json!(s));
    assert!(first.body["expira_em"].is_string(), "{}", first.text);
    second.expect_problem(409, "horario_reservado");
    assert_eq!(app.slot_state(&mid, &s).await, "reservado");
}

#[tokio::test]
async fn liberar_frees_a_hold_then_reports_disponivel() {
    let app = TestApp::new().await;
    let mid = app.medico(41, &[("segunda", "08:00", "12:00")]).await;
    let s = at(monday(1), "10:30");
    app.post("/agenda/reservar", &slot(&mid, &s))
        .await
        .expect_status(200);

    let first = app.post("/agenda/liberar", &slot(&mid, &s)).await;
    let second = app.post("/agenda/liberar", &slot(&mid, &s)).await;

    assert_eq!(
        first.body,
        json!({"status": "liberado", "slot": s, "medico_id": mid})
    );
    assert_eq!(
        second.body,
        json!({"status": "disponivel", "slot": s, "medico_id": mid})
    );
    assert_eq!(app.slot_state(&mid, &s).await, "disponivel");
}

#[tokio::test]
async fn holds_are_refused_off_the_grid_on_taken_slots_and_for_unknown_doctors() {
    let app = TestApp::new().await;
    let pid = app.paciente(42).await;
    let mid = app.medico(42, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    app.post(
        "/consultas",
        &consulta_body(&pid, &mid, &at(seg, "09:00"), &at(seg, "10:00")),
    )
    .await
    .expect_status(201);
    // (slot, reason)
    let off_grid = [
        (at(seg, "08:15"), "not a grid step"),
        (at(seg, "12:00"), "the horário's end"),
        ("amanhã".to_owned(), "not a datetime"),
    ];
    for (s, reason) in off_grid {
        let r = app.post("/agenda/reservar", &slot(&mid, &s)).await;
        r.expect_problem(422, "validation_failed");
        assert_eq!(campos(&r.body), ["slot"], "[{reason}] {}", r.text);
    }

    app.post("/agenda/reservar", &slot(&mid, &at(seg, "09:30")))
        .await
        .expect_problem(409, "horario_ocupado");
    app.post("/agenda/liberar", &slot(&mid, &at(seg, "09:30")))
        .await
        .expect_problem(409, "horario_ocupado");
    app.post(
        "/agenda/reservar",
        &slot("0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b", &at(seg, "08:00")),
    )
    .await
    .expect_problem(404, "not_found");
    assert_eq!(app.slot_state(&mid, &at(seg, "08:00")).await, "disponivel");
}

#[tokio::test]
async fn a_lapsed_hold_is_released_by_the_expiry_step() {
    let app = TestApp::with(|c| c.hold_ttl_secs = 0).await;
    let mid = app.medico(43, &[("segunda", "08:00", "12:00")]).await;
    let s = at(monday(1), "11:00");
    app.post("/agenda/reservar", &slot(&mid, &s))
        .await
        .expect_status(200);

    // The step `serve` runs a few times a second, called once here.
    let released = agendamento::services::agenda::expire_holds(&app.state)
        .await
        .expect("expiry runs");

    assert_eq!(released, 1);
    assert_eq!(app.slot_state(&mid, &s).await, "disponivel");
}

#[tokio::test]
async fn a_lapsed_hold_on_a_slot_an_appointment_took_is_not_announced_free() {
    let app = TestApp::with(|c| c.hold_ttl_secs = 0).await;
    let pid = app.paciente(44).await;
    let mid = app.medico(44, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let (livre, tomado) = (at(seg, "10:00"), at(seg, "11:00"));
    for s in [&livre, &tomado] {
        app.post("/agenda/reservar", &slot(&mid, s))
            .await
            .expect_status(200);
    }
    // The front desk books the held slot directly (no hold needed for `POST /consultas`).
    app.post(
        "/consultas",
        &consulta_body(&pid, &mid, &tomado, &at(seg, "11:30")),
    )
    .await
    .expect_status(201);
    let (_, mut rx) = app.state.events.subscribe(None);

    let released = agendamento::services::agenda::expire_holds(&app.state)
        .await
        .expect("expiry runs");

    assert_eq!(released, 2, "both holds are removed");
    // A later event as a marker: events arrive in order (on PostgreSQL through the journal,
    // so not at once), and whatever the expiry announced comes before it.
    let marca = at(seg, "09:00");
    app.post("/agenda/reservar", &slot(&mid, &marca))
        .await
        .expect_status(200);
    let mut liberados = Vec::new();
    loop {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("the marker event within 10 s")
            .expect("event stream open");
        let v: Value = serde_json::from_str(&ev.data).expect("event JSON");
        let slot_do = v["dados"]["slot"].as_str().unwrap_or_default().to_owned();
        if v["tipo"] == "horario_liberado" {
            liberados.push(slot_do);
        } else if v["tipo"] == "horario_reservado" && slot_do == marca {
            break;
        }
    }
    assert_eq!(
        liberados,
        std::slice::from_ref(&livre),
        "only the free slot is announced"
    );
    assert_eq!(app.slot_state(&mid, &tomado).await, "ocupado");
    assert_eq!(app.slot_state(&mid, &livre).await, "disponivel");
}

/// A booking task that waits (a backlog, a restart) keeps the caller's hold alive: `agendar`
/// renews it to a whole hold time, so it does not lapse, get announced free and offered to
/// the waiting list before the worker books it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agendar_renews_the_callers_own_hold_until_its_task_runs() {
    let app = TestApp::with(|c| c.hold_ttl_secs = 4).await;
    let pid = app.paciente(45).await;
    let mid = app.medico(45, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let (ini, fim) = (at(seg, "10:00"), at(seg, "10:30"));
    app.post("/agenda/reservar", &slot(&mid, &ini))
        .await
        .expect_status(200);
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    app.post("/consultas/agendar", &consulta_body(&pid, &mid, &ini, &fim))
        .await
        .expect_status(202);
    // Past the first hold's end, within the renewed one; the task has not run.
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;

    let released = agendamento::services::agenda::expire_holds(&app.state)
        .await
        .expect("expiry runs");

    assert_eq!(released, 0, "the hold was renewed by agendar");
    assert_eq!(app.slot_state(&mid, &ini).await, "reservado");
    assert_eq!(app.run_tasks().await, 1);
    assert_eq!(app.slot_state(&mid, &ini).await, "ocupado");
}
