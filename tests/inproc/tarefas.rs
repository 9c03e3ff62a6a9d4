//! Tasks (SPEC §4) with the worker driven step by step: the test queues work through the
//! API, runs the queue with `TestApp::run_tasks` and asserts the final state. No sleep, no
//! polling: when `run_tasks` returns, every queued task has finished.

use serde_json::{Value, json};

use crate::common::str_field;
use crate::harness::TestApp;
use crate::helpers::{at, consulta_body, monday};

async fn task(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/sistema/tasks/{id}")).await;
    r.expect_status(200);
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_task_creates_the_consulta_when_the_worker_steps() {
    let app = TestApp::new().await;
    let pid = app.paciente(50).await;
    let mid = app.medico(50, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));

    let accepted = app
        .post("/consultas/agendar", &consulta_body(&pid, &mid, &ini, &fim))
        .await;
    accepted.expect_status(202);
    assert_eq!(accepted.body["status"], "pendente");
    let task_id = accepted.body["task_id"]
        .as_str()
        .expect("task_id")
        .to_owned();
    assert_eq!(task(&app, &task_id).await["status"], "pendente");
    assert_eq!(app.slot_state(&mid, &ini).await, "reservado");
    assert_eq!(app.get("/consultas").await.body, json!([]));

    assert_eq!(app.run_tasks().await, 1);

    let done = task(&app, &task_id).await;
    assert_eq!(done["status"], "concluida", "{done}");
    assert_eq!(done["progresso"], 100, "{done}");
    let consultas = app.get("/consultas").await;
    let list = consultas.array();
    assert_eq!(list.len(), 1, "{}", consultas.text);
    assert_eq!(list[0]["status"], "agendada");
    assert_eq!(list[0]["inicio"], json!(ini));
    assert_eq!(app.slot_state(&mid, &ini).await, "ocupado");
    assert_eq!(app.run_tasks().await, 0, "nothing left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bookings_for_one_slot_create_one_consulta_and_fail_the_other() {
    let app = TestApp::new().await;
    let (p1, p2) = (app.paciente(51).await, app.paciente(52).await);
    let mid = app.medico(51, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let (ini, fim) = (at(seg, "10:00"), at(seg, "10:30"));
    let mut ids = Vec::new();
    for pid in [&p1, &p2] {
        let r = app
            .post("/consultas/agendar", &consulta_body(pid, &mid, &ini, &fim))
            .await;
        r.expect_status(202);
        ids.push(r.body["task_id"].as_str().expect("task_id").to_owned());
    }

    app.run_tasks().await;

    let first = task(&app, &ids[0]).await;
    let second = task(&app, &ids[1]).await;
    assert_eq!(first["status"], "concluida", "{first}");
    assert_eq!(second["status"], "falhou", "{second}");
    assert_eq!(second["erro"]["code"], "horario_ocupado", "{second}");
    let consultas = app.get("/consultas").await;
    assert_eq!(consultas.array().len(), 1, "{}", consultas.text);
    assert_eq!(consultas.array()[0]["paciente_id"], json!(p1));
    // The refusal does not name the other patient's appointment: a patient reads their own
    // tasks (SPEC-2 §10), and that appointment is outside what they may see.
    let outra = consultas.array()[0]["id"].as_str().expect("id").to_owned();
    let detail = second["erro"]["detail"].as_str().expect("detail");
    assert!(!detail.contains(&outra), "{detail}");
    assert!(detail.contains("já está ocupado"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_task_writes_the_archive_when_the_worker_steps() {
    let app = TestApp::new().await;
    app.paciente(53).await;
    let accepted = app.post("/sistema/tasks/backup", &json!({})).await;
    accepted.expect_status(202);
    let task_id = accepted.body["task_id"]
        .as_str()
        .expect("task_id")
        .to_owned();
    assert_eq!(app.get("/backup").await.body["arquivos"], json!([]));

    assert_eq!(app.run_tasks().await, 1);

    let done = task(&app, &task_id).await;
    assert_eq!(done["status"], "concluida", "{done}");
    let listed = app.get("/backup").await;
    let arquivos = listed.body["arquivos"].as_array().expect("arquivos");
    assert_eq!(arquivos.len(), 1, "{}", listed.text);
    let nome = arquivos[0].as_str().expect("a file name").to_owned();
    assert!(
        app.dir.path().join("backups").join(&nome).is_file(),
        "{nome} is on disk"
    );
    let download = app.get(&format!("/backup/download/{nome}")).await;
    download.expect_status(200);
    assert!(download.text.starts_with("PK"), "a ZIP archive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_task_fails_horario_ocupado_when_the_front_desk_took_the_slot_first() {
    let app = TestApp::new().await;
    let (pid, balcao) = (app.paciente(54).await, app.paciente(55).await);
    let mid = app.medico(54, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let accepted = app
        .post("/consultas/agendar", &consulta_body(&pid, &mid, &ini, &fim))
        .await;
    accepted.expect_status(202);
    let task_id = accepted.body["task_id"]
        .as_str()
        .expect("task_id")
        .to_owned();
    // While the task waits, the front desk books the same slot synchronously.
    let direct = app
        .post("/consultas", &consulta_body(&balcao, &mid, &ini, &fim))
        .await;
    direct.expect_status(201);

    app.run_tasks().await;

    let failed = task(&app, &task_id).await;
    assert_eq!(failed["status"], "falhou", "{failed}");
    assert_eq!(failed["erro"]["code"], "horario_ocupado", "{failed}");
    let consultas = app.get(&format!("/consultas?medico_id={mid}")).await;
    assert_eq!(consultas.array().len(), 1, "{}", consultas.text);
    assert_eq!(consultas.array()[0]["id"], direct.body["id"]);
    assert_eq!(app.slot_state(&mid, &ini).await, "ocupado");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_task_fails_patient_overlap_and_frees_the_slot() {
    let app = TestApp::new().await;
    let pid = app.paciente(56).await;
    let mid = app.medico(56, &[("segunda", "08:00", "12:00")]).await;
    let outro = app.medico(57, &[]).await;
    let seg = monday(1);
    let (ini, fim) = (at(seg, "10:00"), at(seg, "10:30"));
    let accepted = app
        .post("/consultas/agendar", &consulta_body(&pid, &mid, &ini, &fim))
        .await;
    accepted.expect_status(202);
    let task_id = accepted.body["task_id"]
        .as_str()
        .expect("task_id")
        .to_owned();
    assert_eq!(app.slot_state(&mid, &ini).await, "reservado");
    // Meanwhile the same patient is booked with another doctor at that time.
    app.post("/consultas", &consulta_body(&pid, &outro, &ini, &fim))
        .await
        .expect_status(201);

    app.run_tasks().await;

    let failed = task(&app, &task_id).await;
    assert_eq!(failed["status"], "falhou", "{failed}");
    assert_eq!(failed["erro"]["code"], "patient_overlap", "{failed}");
    assert_eq!(app.slot_state(&mid, &ini).await, "disponivel");
}

/// An instance that lost the leadership (SPEC-2 §16: exactly one instance runs the worker)
/// starts none of the tasks still in its queue: the new leader queued every unfinished task
/// again and runs them, so running them here too would do a backup or a report twice. They
/// stay `pendente`; with the leadership back, they run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_losing_the_leadership_queued_tasks_are_left_to_the_new_leader() {
    use std::sync::atomic::Ordering;
    let app = TestApp::new().await;
    let p = app.paciente(55).await;
    let m = app.medico(55, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let reserva = app
        .post(
            "/consultas/agendar",
            &consulta_body(&p, &m, &at(seg, "09:00"), &at(seg, "09:30")),
        )
        .await;
    reserva.expect_status(202);
    let booking = str_field(&reserva.body, "task_id");
    let backup = app.post("/sistema/tasks/backup", &json!({})).await;
    backup.expect_status(202);
    let backup = str_field(&backup.body, "task_id");
    app.state.lider.store(false, Ordering::Release);
    app.run_tasks().await;
    for id in [&booking, &backup] {
        assert_eq!(task(&app, id).await["status"], "pendente", "{id}");
    }
    assert_eq!(app.get("/backup").await.body["arquivos"], json!([]));
    assert_eq!(app.get("/consultas").await.array().len(), 0);
    // Leading again (the new leader queues every unfinished task, as `recover` does).
    app.state.lider.store(true, Ordering::Release);
    agendamento::services::tarefas::recover(&app.state);
    app.run_tasks().await;
    for id in [&booking, &backup] {
        assert_eq!(task(&app, id).await["status"], "concluida", "{id}");
    }
}

/// The worker re-checks "not in the past" (SPEC §2: it re-validates everything): a booking
/// task still queued when its slot's start passed (downtime, a paused worker) fails with
/// `horario_passado` and frees the slot, instead of creating an appointment in the past.
/// Played by moving the queued task's slot to yesterday, as if the clock had run on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_task_whose_slot_passed_while_queued_fails_horario_passado() {
    let app = TestApp::new().await;
    let pid = app.paciente(53).await;
    let dias = [
        "segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo",
    ];
    let h: Vec<(&str, &str, &str)> = dias.iter().map(|d| (*d, "08:00", "12:00")).collect();
    let mid = app.medico(53, &h).await;
    let seg = monday(1);
    let r = app
        .post(
            "/consultas/agendar",
            &consulta_body(&pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")),
        )
        .await;
    r.expect_status(202);
    let task_id = str_field(&r.body, "task_id");
    let ontem = app.state.clock.today().yesterday().expect("yesterday");
    let id = task_id.clone();
    app.state
        .write(move |db| {
            let t = db.tarefas.get(&id).expect("queued task");
            let mut t = agendamento::models::Tarefa::clone(t);
            t.parametros["inicio"] = json!(at(ontem, "09:00"));
            t.parametros["fim"] = json!(at(ontem, "09:30"));
            Ok((
                vec![agendamento::repositories::Op::PutTarefa(
                    std::sync::Arc::new(t),
                )],
                (),
            ))
        })
        .await
        .expect("written");
    assert_eq!(app.run_tasks().await, 1);
    let done = task(&app, &task_id).await;
    assert_eq!(done["status"], "falhou", "{done}");
    assert_eq!(done["erro"]["code"], "horario_passado", "{done}");
    assert_eq!(
        app.get("/consultas").await.body,
        json!([]),
        "no appointment"
    );
}
