//! SPEC-2 §12 with the real binary: a plan deactivated, or a card expiring, between the
//! 202 of `POST /consultas/agendar` and the worker's turn (`--worker-paused`, then a
//! restart) fails the task with the payment code.

use serde_json::json;

use crate::helpers::*;
use crate::sched_helpers::*;

#[tokio::test]
async fn a_plan_deactivated_or_a_card_expired_after_the_202_fails_the_task_after_a_restart() {
    let mut srv = TestServer::start_with(&["--worker-paused"]);
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 71, &[("segunda", "08:00", "12:00")]).await;
    let mut ids = Vec::new();
    for nome in ["Unimed", "Amil"] {
        let r = srv.post("/convenios", &json!({"nome": nome})).await;
        r.expect_status(201);
        ids.push(str_field(&r.body, "id"));
    }
    srv.put(
        &format!("/medicos/{mid}"),
        &json!({"convenios_aceitos": ids}),
    )
    .await
    .expect_status(200);
    let mut pacientes = Vec::new();
    for (i, plano) in ids.iter().enumerate() {
        let pid = str_field(
            &criar_paciente(&srv, "Paciente Plano", 70 + i as u64).await,
            "id",
        );
        srv.put(
            &format!("/pacientes/{pid}"),
            &json!({"convenio_id": plano, "carteirinha": "XYZ9", "validade_carteirinha": seg.to_string()}),
        )
        .await
        .expect_status(200);
        pacientes.push(pid);
    }
    let t_inativo = agendar_ok(
        &srv,
        &pacientes[0],
        &mid,
        &at(seg, "08:00"),
        &at(seg, "08:30"),
    )
    .await;
    let t_vencida = agendar_ok(
        &srv,
        &pacientes[1],
        &mid,
        &at(seg, "09:00"),
        &at(seg, "09:30"),
    )
    .await;
    // While the tasks wait: the first plan is deactivated, the second card ends the day before.
    srv.delete(&format!("/convenios/{}", ids[0]))
        .await
        .expect_status(204);
    let vespera = seg.yesterday().expect("day before").to_string();
    srv.put(
        &format!("/pacientes/{}", pacientes[1]),
        &json!({"validade_carteirinha": vespera}),
    )
    .await
    .expect_status(200);

    srv.kill9();
    srv.restart_with(&[]);

    let t = wait_task(&srv, &t_inativo, TASK_TIMEOUT).await;
    assert_eq!(t["status"], "falhou", "{t}");
    assert_eq!(t["erro"]["code"], "convenio_inativo", "{t}");
    let t = wait_task(&srv, &t_vencida, TASK_TIMEOUT).await;
    assert_eq!(t["status"], "falhou", "{t}");
    assert_eq!(t["erro"]["code"], "carteirinha_vencida", "{t}");
    assert_eq!(srv.get("/consultas").await.array().len(), 0);
    assert_eq!(
        slot_state(&srv, &mid, &at(seg, "08:00")).await,
        "disponivel"
    );
}
