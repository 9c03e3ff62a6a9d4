//! The waiting list across restarts (SPEC-2 §11): offers are journaled with their holds,
//! survive a restart, and one that lapsed while the server was down is expired at start
//! and its slot passed on.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{consulta_body, str_field};
use crate::helpers::{TestServer, criar_paciente};
use crate::sched_helpers::{at, medico_com_horarios, monday, slot_state, wait_task};

async fn entrada(srv: &TestServer, paciente_id: &str, dia: &str) -> String {
    let r = srv
        .post(
            "/lista-espera",
            &json!({"paciente_id": paciente_id, "de": dia, "ate": dia}),
        )
        .await;
    r.expect_status(201);
    str_field(&r.body, "id")
}

async fn status(srv: &TestServer, id: &str) -> Value {
    let r = srv.get(&format!("/lista-espera/{id}")).await;
    r.expect_status(200);
    r.body
}

/// A doctor, patients A, B and C, A's appointment at 09:00 next Monday cancelled with B's
/// and C's entries waiting: B is offered the slot. Returns (doctor, slot, B's, C's entry).
async fn oferta(srv: &TestServer) -> (String, String, String, String) {
    let m = medico_com_horarios(srv, 40, &[("segunda", "08:00", "12:00")]).await;
    let mut p = Vec::new();
    for s in 41..44 {
        p.push(str_field(
            &criar_paciente(srv, &format!("Paciente {s}"), s).await,
            "id",
        ));
    }
    let seg = monday(1);
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let c = srv
        .post("/consultas", &consulta_body(&p[0], &m, &ini, &fim))
        .await;
    c.expect_status(201);
    let dia = seg.to_string();
    let eb = entrada(srv, &p[1], &dia).await;
    let ec = entrada(srv, &p[2], &dia).await;
    srv.put(
        &format!("/consultas/{}", str_field(&c.body, "id")),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);
    assert_eq!(status(srv, &eb).await["status"], "oferecida");
    (m, ini, eb, ec)
}

#[tokio::test]
async fn an_offer_survives_a_restart_and_is_accepted_after_it() {
    let mut srv = TestServer::start();
    let (m, ini, eb, ec) = oferta(&srv).await;
    srv.stop();
    srv.restart();

    let e = status(&srv, &eb).await;
    assert_eq!(e["status"], "oferecida", "{e}");
    assert_eq!(e["oferta"]["slot"], json!(ini));
    assert_eq!(status(&srv, &ec).await["status"], "aguardando");
    assert_eq!(slot_state(&srv, &m, &ini).await, "reservado");
    let r = srv
        .post(&format!("/lista-espera/{eb}/aceitar"), &json!({}))
        .await;
    r.expect_status(202);
    let t = wait_task(
        &srv,
        &str_field(&r.body, "task_id"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(t["status"], "concluida", "{t}");
    assert_eq!(status(&srv, &eb).await["status"], "agendada");
    assert_eq!(slot_state(&srv, &m, &ini).await, "ocupado");
}

#[tokio::test]
async fn an_offer_that_lapsed_while_down_is_expired_at_start_and_passed_on() {
    let mut srv = TestServer::start_with(&["--oferta-segundos", "2"]);
    let (m, ini, eb, ec) = oferta(&srv).await;
    let expira: jiff::Timestamp = str_field(&status(&srv, &eb).await["oferta"], "expira_em")
        .parse()
        .expect("expira_em is RFC 3339");
    srv.kill9();
    // The offer lapses while no server runs.
    while jiff::Timestamp::now() <= expira {
        std::thread::sleep(Duration::from_millis(100));
    }
    srv.restart_with(&["--oferta-segundos", "600"]);

    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&srv, &eb).await["status"] != "expirada" {
        assert!(
            Instant::now() < deadline,
            "the lapsed offer was never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = status(&srv, &ec).await;
    assert_eq!(c["status"], "oferecida", "{c}");
    assert_eq!(c["oferta"]["slot"], json!(ini));
    assert_eq!(slot_state(&srv, &m, &ini).await, "reservado");
}
