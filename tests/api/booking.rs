//! `POST /consultas/agendar` (SPEC §2, §4): the synchronous checks and 202, the worker's
//! outcome, slots it takes, and the race of many requests for one slot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::sched_helpers::*;

#[tokio::test]
async fn agendar_returns_202_pendente_with_a_task_id_and_the_slot() {
    let srv = TestServer::start_with(&["--worker-paused"]);
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 50, &[("segunda", "08:00", "12:00")]).await;

    let r = agendar(&srv, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;

    r.expect_status(202);
    let task_id = str_field(&r.body, "task_id");
    assert!(
        uuid::Uuid::parse_str(&task_id).is_ok(),
        "task_id is a UUID: {task_id}"
    );
    assert_eq!(
        r.body,
        json!({
            "status": "pendente",
            "task_id": task_id,
            "slot": at(seg, "09:00"),
            "mensagem": "Consulta em processamento."
        })
    );
    // The worker is paused: the task waits, and the slot is held meanwhile.
    let t = srv.get(&format!("/sistema/tasks/{task_id}")).await;
    t.expect_status(200);
    assert_eq!(t.body["status"], "pendente");
    assert_eq!(t.body["tipo"], "agendar_consulta");
    assert_eq!(slot_state(&srv, &mid, &at(seg, "09:00")).await, "reservado");
    assert_problem(
        &reservar(&srv, &mid, &at(seg, "09:00")).await,
        409,
        "horario_reservado",
    );
}

#[tokio::test]
async fn agendar_task_ends_concluida_with_the_consulta_which_get_consultas_lists() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 51, &[("segunda", "08:00", "12:00")]).await;
    let mut body = consulta_body(&pid, &mid, &at(seg, "10:00"), &at(seg, "10:30"));
    body["observacoes"] = json!("Retorno");

    let r = srv.post("/consultas/agendar", &body).await;

    r.expect_status(202);
    let task = wait_task(&srv, &str_field(&r.body, "task_id"), TASK_TIMEOUT).await;
    assert_eq!(task["status"], "concluida", "{task}");
    assert_eq!(task["progresso"], 100, "{task}");
    assert!(task["erro"].is_null(), "{task}");
    let c = &task["resultado"]["consulta"];
    assert_eq!(c["paciente_id"], json!(pid));
    assert_eq!(c["medico_id"], json!(mid));
    assert_eq!(c["inicio"], json!(at(seg, "10:00")));
    assert_eq!(c["fim"], json!(at(seg, "10:30")));
    assert_eq!(c["status"], "agendada");
    assert_eq!(c["observacoes"], "Retorno");
    let listed = srv.get(&format!("/consultas?medico_id={mid}")).await;
    listed.expect_status(200);
    assert_eq!(listed.array().len(), 1, "{}", listed.text);
    assert_eq!(
        &listed.array()[0],
        c,
        "the task's consulta is the stored one"
    );
    assert_eq!(slot_state(&srv, &mid, &at(seg, "10:00")).await, "ocupado");
}

#[tokio::test]
async fn agendar_of_one_hour_makes_both_slots_ocupado() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 52, &[("segunda", "08:00", "12:00")]).await;

    let task_id = agendar_ok(&srv, &pid, &mid, &at(seg, "09:00"), &at(seg, "10:00")).await;

    let task = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(task["status"], "concluida", "{task}");
    let slots: HashMap<String, String> = slots_of(&srv, &mid, seg, 1).await.into_iter().collect();
    assert_eq!(slots[&at(seg, "08:30")], "disponivel");
    assert_eq!(slots[&at(seg, "09:00")], "ocupado");
    assert_eq!(slots[&at(seg, "09:30")], "ocupado");
    assert_eq!(slots[&at(seg, "10:00")], "disponivel");
}

#[tokio::test]
async fn agendar_of_45_minutes_takes_both_slots_it_touches() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 65, &[("segunda", "08:00", "12:00")]).await;

    let task_id = agendar_ok(&srv, &pid, &mid, &at(seg, "08:00"), &at(seg, "08:45")).await;

    let task = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(task["status"], "concluida", "{task}");
    let slots: HashMap<String, String> = slots_of(&srv, &mid, seg, 1).await.into_iter().collect();
    assert_eq!(slots[&at(seg, "08:00")], "ocupado");
    assert_eq!(slots[&at(seg, "08:30")], "ocupado", "08:30-08:45 is taken");
    assert_eq!(slots[&at(seg, "09:00")], "disponivel");
}

#[tokio::test]
async fn agendar_across_a_gap_between_horarios_is_422_fim() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(
        &srv,
        66,
        &[("segunda", "08:00", "10:00"), ("segunda", "10:30", "12:00")],
    )
    .await;

    let r = agendar(&srv, &pid, &mid, &at(seg, "09:30"), &at(seg, "11:00")).await;

    assert_validation(&r, &["fim"], "10:00-10:30 is outside working hours");
}

#[tokio::test]
async fn agendar_across_adjacent_horarios_is_accepted_as_one_stretch() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(
        &srv,
        53,
        &[("segunda", "08:00", "10:00"), ("segunda", "10:00", "12:00")],
    )
    .await;

    let task_id = agendar_ok(&srv, &pid, &mid, &at(seg, "09:30"), &at(seg, "10:30")).await;

    let task = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(task["status"], "concluida", "{task}");
    assert_eq!(slot_state(&srv, &mid, &at(seg, "09:30")).await, "ocupado");
    assert_eq!(slot_state(&srv, &mid, &at(seg, "10:00")).await, "ocupado");
}

#[tokio::test]
async fn agendar_on_an_ocupado_slot_is_409_horario_ocupado() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let outro = str_field(&criar_paciente(&srv, "Outro Paciente", 2).await, "id");
    let mid = medico_com_horarios(&srv, 54, &[("segunda", "08:00", "12:00")]).await;
    criar_consulta(&srv, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;
    // (inicio, fim, reason)
    let cases = [
        ("09:00", "09:30", "the same slot"),
        ("08:30", "09:30", "an hour whose second half is taken"),
    ];

    for (ini, fim, reason) in cases {
        let r = agendar(&srv, &outro, &mid, &at(seg, ini), &at(seg, fim)).await;
        assert_eq!(r.status, 409, "[{reason}] {}", r.text);
        assert_problem(&r, 409, "horario_ocupado");
    }
    assert_eq!(
        all_tasks(&srv, "").await.len(),
        0,
        "a refused request queues no task"
    );
    assert_eq!(
        slot_state(&srv, &mid, &at(seg, "08:30")).await,
        "disponivel"
    );
}

#[tokio::test]
async fn agendar_rejects_off_grid_past_and_outside_working_hours_with_422() {
    let srv = TestServer::start();
    let seg = monday(3);
    let ter = plus_days(seg, 1);
    let passado = past_monday();
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 55, &[("segunda", "08:00", "12:00")]).await;
    // (inicio, fim, field, reason)
    let cases = [
        (
            at(seg, "08:10"),
            at(seg, "08:40"),
            "inicio",
            "not a grid step",
        ),
        (
            at(seg, "07:30"),
            at(seg, "08:00"),
            "inicio",
            "before the horário",
        ),
        (
            at(seg, "12:00"),
            at(seg, "12:30"),
            "inicio",
            "at the horário's end",
        ),
        (
            at(ter, "08:00"),
            at(ter, "08:30"),
            "inicio",
            "a Tuesday without horário",
        ),
        (
            at(passado, "08:00"),
            at(passado, "08:30"),
            "inicio",
            "a past Monday",
        ),
        (
            at(seg, "11:30"),
            at(seg, "12:30"),
            "fim",
            "ends after the horário",
        ),
        (at(seg, "09:00"), at(seg, "09:00"), "fim", "inicio = fim"),
        (
            at(seg, "09:00"),
            at(seg, "08:30"),
            "fim",
            "fim before inicio",
        ),
    ];

    for (ini, fim, campo, reason) in cases {
        let r = agendar(&srv, &pid, &mid, &ini, &fim).await;
        assert_validation(&r, &[campo, "inicio", "fim"], reason);
        let got = campos(&r.body);
        assert!(
            got.iter().any(|c| c == campo),
            "[{reason}] errors should name {campo}, got {got:?}: {}",
            r.text
        );
    }
    assert_eq!(all_tasks(&srv, "").await.len(), 0, "no task queued");
    let slots = slots_of(&srv, &mid, seg, 1).await;
    assert!(
        slots.iter().all(|(_, e)| e == "disponivel"),
        "no hold left: {slots:?}"
    );
}

#[tokio::test]
async fn agendar_with_an_unknown_paciente_or_medico_is_422() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 56, &[("segunda", "08:00", "12:00")]).await;
    let (ini, fim) = (at(seg, "08:00"), at(seg, "08:30"));

    let sem_paciente = agendar(&srv, &unknown_id(), &mid, &ini, &fim).await;
    let sem_medico = agendar(&srv, &pid, &unknown_id(), &ini, &fim).await;

    assert_validation(&sem_paciente, &["paciente_id"], "unknown paciente_id");
    assert_validation(&sem_medico, &["medico_id"], "unknown medico_id");
    assert_eq!(all_tasks(&srv, "").await.len(), 0, "no task queued");
}

#[tokio::test]
async fn agendar_for_a_patient_busy_at_that_time_is_409_patient_overlap() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, outro_medico) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 57, &[("segunda", "08:00", "12:00")]).await;
    criar_consulta(
        &srv,
        &pid,
        &outro_medico,
        &at(seg, "09:15"),
        &at(seg, "09:45"),
    )
    .await;

    let r = agendar(&srv, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;

    assert_problem(&r, 409, "patient_overlap");
}

#[tokio::test]
async fn agendar_task_fails_horario_ocupado_when_the_slot_is_taken_before_the_worker_runs() {
    let mut srv = TestServer::start_with(&["--worker-paused"]);
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let balcao = str_field(&criar_paciente(&srv, "Paciente do Balcão", 3).await, "id");
    let mid = medico_com_horarios(&srv, 58, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "09:00");
    let task_id = agendar_ok(&srv, &pid, &mid, &slot, &at(seg, "09:30")).await;
    // The front desk books the same slot synchronously while the task waits.
    let balcao_consulta = criar_consulta(&srv, &balcao, &mid, &slot, &at(seg, "09:30")).await;

    srv.kill9();
    srv.restart_with(&[]);

    let task = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(task["status"], "falhou", "{task}");
    assert_eq!(task["erro"]["code"], "horario_ocupado", "{task}");
    assert!(
        task["erro"]["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{task}"
    );
    let listed = srv.get(&format!("/consultas?medico_id={mid}")).await;
    assert_eq!(ids(listed.array()), vec![str_field(&balcao_consulta, "id")]);
    assert_eq!(slot_state(&srv, &mid, &slot).await, "ocupado");
}

/// The outcome of one racing request.
enum Outcome {
    Accepted(String),
    Refused,
}

#[tokio::test]
async fn agendar_race_of_200_requests_per_slot_on_20_slots_books_exactly_one_per_slot() {
    const SLOTS: usize = 20;
    const PER_SLOT: usize = 200;
    let srv = TestServer::start();
    let seg = monday(3);
    // 20 slots at distinct times: Monday 08:00-18:00 has exactly 20 half-hour slots.
    let mid = medico_com_horarios(&srv, 60, &[("segunda", "08:00", "18:00")]).await;
    let slots: Vec<String> = slots_of(&srv, &mid, seg, 1)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(slots.len(), SLOTS);
    // One patient per racer; reused across slots, which are at distinct times, so a
    // patient never overlaps themself and only the doctor's slot is contested.
    let pacientes = criar_pacientes(&srv, PER_SLOT as u64, 1000).await;
    let client = srv.client.clone();
    let url = Arc::new(srv.url("/consultas/agendar"));

    let mut accepted: HashMap<String, usize> = HashMap::new();
    let mut refused = [0usize; SLOTS];
    for (k, slot) in slots.iter().enumerate() {
        let fim = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", slot)
            .expect("slot")
            .checked_add(jiff::SignedDuration::from_mins(30))
            .expect("fim")
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let mut handles = Vec::with_capacity(PER_SLOT);
        for pid in &pacientes {
            let body = consulta_body(pid, &mid, slot, &fim);
            let client = client.clone();
            let url = url.clone();
            handles.push(tokio::spawn(async move {
                let r = read(
                    client
                        .post(url.as_str())
                        .json(&body)
                        .send()
                        .await
                        .expect("POST /consultas/agendar"),
                )
                .await;
                match r.status {
                    202 => Outcome::Accepted(str_field(&r.body, "task_id")),
                    409 if r.body["code"] == "horario_ocupado" => Outcome::Refused,
                    _ => panic!(
                        "racing agendar: expected 202 or 409 horario_ocupado, got {} {}",
                        r.status, r.text
                    ),
                }
            }));
        }
        for h in handles {
            match h.await.expect("racing request task") {
                Outcome::Accepted(id) => {
                    assert!(accepted.insert(id, k).is_none(), "task ids are unique");
                }
                Outcome::Refused => refused[k] += 1,
            }
        }
    }

    let tasks = wait_all_tasks_final(&srv, Duration::from_secs(120)).await;
    let by_id: HashMap<String, &Value> = tasks.iter().map(|t| (str_field(t, "id"), t)).collect();
    assert_eq!(
        by_id.len(),
        accepted.len(),
        "every 202 has a task and no other task exists"
    );
    let mut concluidas = [0usize; SLOTS];
    for (id, k) in &accepted {
        let t = by_id.get(id).unwrap_or_else(|| panic!("task {id} missing"));
        match t["status"].as_str() {
            Some("concluida") => {
                concluidas[*k] += 1;
                assert_eq!(
                    t["resultado"]["consulta"]["inicio"],
                    json!(slots[*k]),
                    "{t}"
                );
            }
            Some("falhou") => {
                assert_eq!(t["erro"]["code"], "horario_ocupado", "a losing task: {t}")
            }
            other => panic!("task {id} ended {other:?}: {t}"),
        }
    }
    for k in 0..SLOTS {
        assert_eq!(
            concluidas[k], 1,
            "slot {} should have exactly one winning task",
            slots[k]
        );
        let got = accepted.values().filter(|v| **v == k).count() + refused[k];
        assert_eq!(got, PER_SLOT, "every request of slot {} answered", slots[k]);
    }
    let consultas = srv.get(&format!("/consultas?medico_id={mid}")).await;
    consultas.expect_status(200);
    let inicios: Vec<String> = consultas
        .array()
        .iter()
        .map(|c| str_field(c, "inicio"))
        .collect();
    assert_eq!(inicios, slots, "exactly one consulta per slot");
    let agenda = slots_of(&srv, &mid, seg, 1).await;
    assert!(agenda.iter().all(|(_, e)| e == "ocupado"), "{agenda:?}");
}

#[tokio::test]
async fn many_queued_agendar_for_the_same_slots_yield_one_consulta_per_slot_when_the_worker_runs() {
    const SLOTS: usize = 4;
    const PER_SLOT: usize = 50;
    // Paused: every request passes the synchronous checks (nothing is booked yet), so the
    // whole contest is decided by the worker's re-validation.
    let mut srv = TestServer::start_with(&["--worker-paused"]);
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 61, &[("segunda", "08:00", "10:00")]).await;
    let pacientes = criar_pacientes(&srv, PER_SLOT as u64, 4000).await;
    let slots: Vec<String> = slots_of(&srv, &mid, seg, 1)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(slots.len(), SLOTS);
    let mut by_slot: Vec<Vec<String>> = vec![Vec::new(); SLOTS];
    for (k, slot) in slots.iter().enumerate() {
        let fim = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", slot)
            .expect("slot")
            .checked_add(jiff::SignedDuration::from_mins(30))
            .expect("fim")
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let futs = pacientes
            .iter()
            .map(|pid| agendar(&srv, pid, &mid, slot, &fim));
        for r in futures_util::future::join_all(futs).await {
            r.expect_status(202);
            by_slot[k].push(str_field(&r.body, "task_id"));
        }
    }

    srv.kill9();
    srv.restart_with(&[]);

    let tasks = wait_all_tasks_final(&srv, Duration::from_secs(120)).await;
    assert_eq!(tasks.len(), SLOTS * PER_SLOT);
    let by_id: HashMap<String, &Value> = tasks.iter().map(|t| (str_field(t, "id"), t)).collect();
    for (k, ids) in by_slot.iter().enumerate() {
        let mut won = 0;
        for id in ids {
            let t = by_id[id];
            match t["status"].as_str() {
                Some("concluida") => won += 1,
                Some("falhou") => assert_eq!(t["erro"]["code"], "horario_ocupado", "{t}"),
                other => panic!("task {id} ended {other:?}: {t}"),
            }
        }
        assert_eq!(won, 1, "slot {} has exactly one winner", slots[k]);
    }
    let consultas = srv.get(&format!("/consultas?medico_id={mid}")).await;
    let inicios: Vec<String> = consultas
        .array()
        .iter()
        .map(|c| str_field(c, "inicio"))
        .collect();
    assert_eq!(inicios, slots, "exactly one consulta per slot");
    let agenda = slots_of(&srv, &mid, seg, 1).await;
    assert!(agenda.iter().all(|(_, e)| e == "ocupado"), "{agenda:?}");
}

#[tokio::test]
async fn agendar_on_a_slot_held_by_reservar_books_it_and_the_hold_goes_away() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 62, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "11:00");
    reservar(&srv, &mid, &slot).await.expect_status(200);

    let task_id = agendar_ok(&srv, &pid, &mid, &slot, &at(seg, "11:30")).await;

    let task = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(task["status"], "concluida", "{task}");
    assert_eq!(slot_state(&srv, &mid, &slot).await, "ocupado");
    // Cancelling the booking leaves the slot free, not held.
    let cid = str_field(&task["resultado"]["consulta"], "id");
    srv.put(
        &format!("/consultas/{cid}"),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);
    assert_eq!(slot_state(&srv, &mid, &slot).await, "disponivel");
}

#[tokio::test]
async fn agendar_with_the_same_idempotency_key_replays_the_same_task_even_after_restart() {
    let mut srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 63, &[("segunda", "08:00", "12:00")]).await;
    let body = consulta_body(&pid, &mid, &at(seg, "08:30"), &at(seg, "09:00"));
    let send = |srv: &TestServer| {
        let req = srv
            .client
            .post(srv.url("/consultas/agendar"))
            .header("idempotency-key", "agendar-chave-1")
            .json(&body);
        async move { read(req.send().await.expect("POST agendar")).await }
    };
    let first = send(&srv).await;
    first.expect_status(202);
    wait_task(&srv, &str_field(&first.body, "task_id"), TASK_TIMEOUT).await;

    // The slot is now ocupado, yet the same key and body replay the first answer.
    let replay = send(&srv).await;
    srv.stop();
    srv.restart();
    let after_restart = send(&srv).await;

    for r in [&replay, &after_restart] {
        r.expect_status(202);
        assert_eq!(r.body, first.body, "same answer, same task_id");
        assert_eq!(r.header("idempotent-replayed"), "true");
    }
    assert_eq!(all_tasks(&srv, "").await.len(), 1, "one task only");
    assert_eq!(srv.count("/consultas").await, 1, "one consulta only");
}

#[tokio::test]
async fn agendar_task_fails_patient_overlap_and_frees_the_slot_when_the_patient_was_booked_elsewhere()
 {
    let mut srv = TestServer::start_with(&["--worker-paused"]);
    let seg = monday(3);
    let (pid, outro_medico) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 64, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "10:00");
    let task_id = agendar_ok(&srv, &pid, &mid, &slot, &at(seg, "10:30")).await;
    // Meanwhile the front desk books the same patient with another doctor at that time.
    criar_consulta(&srv, &pid, &outro_medico, &slot, &at(seg, "10:30")).await;

    srv.kill9();
    srv.restart_with(&[]);

    let task = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(task["status"], "falhou", "{task}");
    assert_eq!(task["erro"]["code"], "patient_overlap", "{task}");
    assert_eq!(slot_state(&srv, &mid, &slot).await, "disponivel");
    // The events since this process started include the freed slot.
    let mut stream = SseStream::open(&srv, "/sistema/agenda/stream?last_event_id=0", None).await;
    let freed = stream
        .wait_for(
            "horario_disponivel (falhou)",
            Duration::from_secs(10),
            |e| is_slot_event(e, "horario_disponivel", &mid, &slot),
        )
        .await;
    assert_eq!(freed.dados()["motivo"], "falhou", "{freed:?}");
}
