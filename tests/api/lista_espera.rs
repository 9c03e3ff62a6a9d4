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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vaga_oferecida_reaches_staff_and_that_patient_only() {
    use crate::identidade::{Fluxo, com_chefe, login};
    let dir = tempfile::tempdir().expect("tempdir");
    let (srv, adm) = com_chefe(dir.path()).await;
    let base = srv.base.clone();
    let tok = |r: crate::common::Resp| str_field(&r.body, "token");
    let cliente = crate::helpers::new_client();
    let send = |metodo: reqwest::Method, path: String, body: Value| {
        let req = cliente
            .request(metodo, format!("{base}{path}"))
            .bearer_auth(&adm)
            .json(&body);
        async move { crate::helpers::read(req.send().await.expect("request")).await }
    };
    let criar = |path: &'static str, body: Value| {
        let r = send(reqwest::Method::POST, path.to_owned(), body);
        async move {
            let r = r.await;
            r.expect_status(201);
            str_field(&r.body, "id")
        }
    };
    let p1 = criar(
        "/pacientes",
        crate::common::paciente_body("Paciente Um", 71),
    )
    .await;
    let p2 = criar(
        "/pacientes",
        crate::common::paciente_body("Paciente Dois", 72),
    )
    .await;
    let p3 = criar(
        "/pacientes",
        crate::common::paciente_body("Paciente Três", 73),
    )
    .await;
    let m = criar(
        "/medicos",
        crate::common::medico_body("Dr. Espera", 71, "Clínica Geral"),
    )
    .await;
    for dia in [
        "segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo",
    ] {
        send(
            reqwest::Method::POST,
            format!("/horarios/medico/{m}"),
            json!({"dia_semana": dia, "hora_inicio": "08:00", "hora_fim": "12:00"}),
        )
        .await
        .expect_status(201);
    }
    criar(
        "/usuarios",
        json!({"nome": "Usuário", "email": "p1@clinica.example", "senha": "senha-comum-1",
            "papel": "paciente", "paciente_id": p1}),
    )
    .await;
    let pac = tok(login(&base, "p1@clinica.example", "senha-comum-1").await);
    let dia = jiff::Zoned::now().date().tomorrow().expect("tomorrow");
    let mut consultas = Vec::new();
    for h in [9, 10] {
        consultas.push(
            criar(
                "/consultas",
                json!({"paciente_id": p3, "medico_id": m,
                    "inicio": format!("{dia}T{h:02}:00:00"), "fim": format!("{dia}T{h:02}:30:00")}),
            )
            .await,
        );
    }
    // Patient two waits first, so the first freed slot is theirs; then patient one's.
    let de = dia.to_string();
    let e2 = criar(
        "/lista-espera",
        json!({"paciente_id": p2, "medico_id": m, "de": de, "ate": de}),
    )
    .await;
    let e1 = criar(
        "/lista-espera",
        json!({"paciente_id": p1, "medico_id": m, "de": de, "ate": de}),
    )
    .await;
    let mut fluxo_pac = Fluxo::abrir(&base, &pac, "/sistema/agenda/stream").await;
    let mut fluxo_adm = Fluxo::abrir(&base, &adm, "/sistema/agenda/stream").await;
    for c in &consultas {
        send(
            reqwest::Method::PUT,
            format!("/consultas/{c}"),
            json!({"status": "cancelada"}),
        )
        .await
        .expect_status(200);
    }
    let oferta = |e: &str| {
        let e = e.to_owned();
        move |v: &Value| {
            v["tipo"] == "vaga_oferecida" && v["dados"]["lista_espera_id"] == e.as_str()
        }
    };
    fluxo_adm.ate(oferta(&e2)).await;
    fluxo_adm.ate(oferta(&e1)).await;
    fluxo_pac.ate(oferta(&e1)).await;
    let texto = serde_json::to_string(&fluxo_pac.dados).expect("json");
    assert!(
        !texto.contains(&e2),
        "another patient's offer reached a patient: {texto}"
    );
    assert!(
        !texto.contains(&p2),
        "another patient's id reached a patient: {texto}"
    );
    assert!(
        fluxo_pac
            .dados
            .iter()
            .any(|v| v["tipo"] == "horario_reservado"
                && v["dados"]["slot"] == json!(format!("{dia}T09:00:00"))),
        "the slot state of the other offer, without who: {texto}"
    );
    drop(srv);
}
