//! The durable task queue (SPEC §4): tasks accepted before a crash run after it, once;
//! `/sistema/tasks` lookup, filters and counts.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::*;
use crate::sched_helpers::*;

#[tokio::test]
async fn tasks_accepted_before_a_kill_run_once_after_restart_and_stay_done_after_another() {
    let mut srv = TestServer::start_with(&["--worker-paused"]);
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 70, &[("segunda", "08:00", "13:00")]).await;
    let pacientes = criar_pacientes(&srv, 10, 2000).await;
    let slots: Vec<String> = slots_of(&srv, &mid, seg, 1)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(slots.len(), 10);
    let mut task_ids = Vec::new();
    for (pid, slot) in pacientes.iter().zip(&slots) {
        let fim = format!("{}{}", &slot[..11], next_half_hour(&slot[11..16]));
        task_ids.push(agendar_ok(&srv, pid, &mid, slot, &fim).await);
    }
    for id in &task_ids {
        let t = srv.get(&format!("/sistema/tasks/{id}")).await;
        assert_eq!(t.body["status"], "pendente", "{}", t.text);
    }
    let saude = srv.get("/sistema/saude").await;
    saude.expect_status(200);
    assert_eq!(saude.body["fila"]["pendentes"], 10, "{}", saude.text);
    assert_eq!(saude.body["worker"]["vivo"], false, "{}", saude.text);
    assert_eq!(saude.body["status"], "degradado", "{}", saude.text);

    srv.kill9();
    srv.restart_with(&[]);

    for id in &task_ids {
        let t = wait_task(&srv, id, TASK_TIMEOUT).await;
        assert_eq!(t["status"], "concluida", "{t}");
    }
    let consultas = srv.get("/consultas").await;
    consultas.expect_status(200);
    let inicios: Vec<String> = consultas
        .array()
        .iter()
        .map(|c| str_field(c, "inicio"))
        .collect();
    assert_eq!(
        inicios, slots,
        "exactly one consulta per task, no duplicate"
    );
    let consulta_ids: HashSet<String> = ids(consultas.array()).into_iter().collect();
    let saude = srv.get("/sistema/saude").await;
    assert_eq!(saude.body["fila"]["pendentes"], 0, "{}", saude.text);
    assert_eq!(saude.body["worker"]["vivo"], true, "{}", saude.text);

    let status = srv.stop();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    srv.restart();

    let again = srv.get("/consultas").await;
    assert_eq!(again.array().len(), 10, "{}", again.text);
    assert_eq!(
        ids(again.array()).into_iter().collect::<HashSet<_>>(),
        consulta_ids
    );
    for id in &task_ids {
        let t = srv.get(&format!("/sistema/tasks/{id}")).await;
        assert_eq!(t.body["status"], "concluida", "{}", t.text);
    }
    let agenda = slots_of(&srv, &mid, seg, 1).await;
    assert!(agenda.iter().all(|(_, e)| e == "ocupado"), "{agenda:?}");
}

/// `08:00` → `08:30`, `08:30` → `09:00`.
fn next_half_hour(hhmm: &str) -> String {
    let h: u32 = hhmm[..2].parse().expect("hour");
    let m: u32 = hhmm[3..].parse().expect("minute");
    let t = h * 60 + m + 30;
    format!("{:02}:{:02}:00", t / 60, t % 60)
}

#[tokio::test]
async fn task_lookup_of_an_unknown_id_is_404() {
    let srv = TestServer::start();

    let unknown = srv.get(&format!("/sistema/tasks/{}", unknown_id())).await;
    let garbage = srv.get("/sistema/tasks/nao-existe").await;

    assert_problem(&unknown, 404, "not_found");
    assert_problem(&garbage, 404, "not_found");
}

#[tokio::test]
async fn tasks_list_filters_by_status_and_tipo_newest_first_with_x_total_count() {
    // Paused, so the two requests for one slot are both accepted; the second then loses.
    let mut srv = TestServer::start_with(&["--worker-paused"]);
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 71, &[("segunda", "08:00", "12:00")]).await;
    let p = criar_pacientes(&srv, 3, 3000).await;
    let a = agendar_ok(&srv, &p[0], &mid, &at(seg, "08:00"), &at(seg, "08:30")).await;
    let b = agendar_ok(&srv, &p[1], &mid, &at(seg, "08:00"), &at(seg, "08:30")).await;
    let c = agendar_ok(&srv, &p[2], &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;
    srv.kill9();
    srv.restart_with(&[]);
    for id in [&a, &b, &c] {
        wait_task(&srv, id, TASK_TIMEOUT).await;
    }

    let concluidas = srv
        .get("/sistema/tasks?status=concluida&tipo=agendar_consulta")
        .await;
    let falhas = srv.get("/sistema/tasks?status=falhou").await;
    let todas = srv.get("/sistema/tasks").await;
    let primeira = srv.get("/sistema/tasks?limit=1").await;
    let segunda = srv.get("/sistema/tasks?limit=1&offset=1").await;
    let pendentes = srv.get("/sistema/tasks?status=pendente").await;
    let backups = srv.get("/sistema/tasks?tipo=backup").await;

    concluidas.expect_status(200);
    assert_eq!(
        ids(concluidas.array()),
        vec![c.clone(), a.clone()],
        "newest first"
    );
    assert_eq!(concluidas.total_count(), 2);
    falhas.expect_status(200);
    assert_eq!(ids(falhas.array()), vec![b.clone()]);
    assert_eq!(falhas.total_count(), 1);
    assert_eq!(falhas.array()[0]["erro"]["code"], "horario_ocupado");
    assert_eq!(ids(todas.array()), vec![c.clone(), b.clone(), a.clone()]);
    assert_eq!(todas.total_count(), 3);
    assert_eq!(ids(primeira.array()), vec![c.clone()]);
    assert_eq!(primeira.total_count(), 3, "x-total-count ignores the page");
    assert_eq!(ids(segunda.array()), vec![b.clone()]);
    assert_eq!(pendentes.array().len(), 0);
    assert_eq!(pendentes.total_count(), 0);
    assert_eq!(backups.array().len(), 0);
    // Every task has the documented shape.
    for t in todas.array() {
        for campo in [
            "id",
            "tipo",
            "status",
            "progresso",
            "tentativas",
            "criado_em",
            "iniciado_em",
            "concluido_em",
        ] {
            assert!(
                t.get(campo).is_some_and(|v| !v.is_null()),
                "task field {campo} in {t}"
            );
        }
        assert_eq!(t["tipo"], json!("agendar_consulta"));
        assert!(t["tentativas"].as_u64().is_some_and(|n| n >= 1), "{t}");
    }
}

#[tokio::test]
async fn tasks_list_rejects_unknown_filter_values_with_422() {
    let srv = TestServer::start();
    // (query, reason)
    let cases = [
        ("status=quase", "unknown status"),
        ("tipo=lavar_louca", "unknown tipo"),
        ("limit=0", "limit below 1"),
        ("limit=5001", "limit above 5000"),
    ];

    for (query, reason) in cases {
        let r = srv.get(&format!("/sistema/tasks?{query}")).await;
        assert_eq!(r.status, 422, "[{reason}] {}", r.text);
        assert_problem(&r, 422, "validation_failed");
    }
}
