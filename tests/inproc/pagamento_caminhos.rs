//! SPEC-2 §12 on the other booking paths: `remarcar`, `agendar-serie` and a waiting-list
//! acceptance run the one payment check (`services::pagamento::checar`) at once (422 with
//! the code) and, where a worker books, again under the write lock (the task fails with
//! `erro.code`).

use serde_json::{Value, json};

use crate::common::{assert_problem, str_field};
use crate::convenios::{agendar, cena, tarefa};
use crate::harness::TestApp;
use crate::helpers::{at, monday, plus_days};

/// Books `inicio` through the queue for the scene; the appointment.
async fn agendada(app: &TestApp, c: &crate::convenios::Cena, inicio: &str) -> Value {
    let r = agendar(app, c, inicio, None).await;
    r.expect_status(202);
    let t = tarefa(app, &str_field(&r.body, "task_id")).await;
    assert_eq!(t["status"], "concluida", "{t}");
    t["resultado"]["consulta"].clone()
}

async fn entrada(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/lista-espera/{id}")).await;
    r.expect_status(200);
    r.body
}

async fn remarcar(app: &TestApp, id: &str, body: Value) -> crate::common::Resp {
    app.post(&format!("/consultas/{id}/remarcar"), &body).await
}

#[tokio::test]
async fn remarcar_checks_payment_for_the_new_date_and_keeps_the_payment() {
    let app = TestApp::new().await;
    let seg = monday(2);
    // The card is valid through this Monday only.
    let c = cena(&app, seg).await;
    let a = agendada(&app, &c, &at(seg, "08:00")).await;
    let id = str_field(&a, "id");
    app.post(
        &format!("/consultas/{id}/pagamento"),
        &json!({"status": "pago"}),
    )
    .await
    .expect_status(200);
    let antes = app.get(&format!("/consultas/{id}")).await.body;

    // A week later the card has expired: refused with the code, nothing changes.
    let r = remarcar(&app, &id, json!({"inicio": at(plus_days(seg, 7), "08:00")})).await;
    assert_problem(&r, 422, "carteirinha_vencida");
    assert_eq!(app.get(&format!("/consultas/{id}")).await.body, antes);

    // The same day: moved, and the payment (already paid) stays as it was.
    let r = remarcar(&app, &id, json!({"inicio": at(seg, "10:00")})).await;
    r.expect_status(200);
    assert_eq!(r.body["pagamento"], antes["pagamento"], "{}", r.text);
    assert_eq!(r.body["pagamento"]["status"], "pago");
    // Another form on a payment that is no longer pending: 409, nothing changes.
    let r = remarcar(
        &app,
        &id,
        json!({"inicio": at(seg, "11:00"), "forma_pagamento": "particular"}),
    )
    .await;
    assert_problem(&r, 409, "pagamento_nao_pendente");
    assert_eq!(
        app.get(&format!("/consultas/{id}")).await.body["inicio"],
        json!(at(seg, "10:00"))
    );

    // A pending one switches to private pay: a fresh payment at the doctor's price.
    let b = agendada(&app, &c, &at(seg, "08:00")).await;
    let bid = str_field(&b, "id");
    let r = remarcar(
        &app,
        &bid,
        json!({"inicio": at(seg, "09:00"), "forma_pagamento": "particular"}),
    )
    .await;
    r.expect_status(200);
    assert_eq!(
        r.body["pagamento"],
        json!({"forma": "particular", "valor_centavos": 25000, "status": "pendente"}),
        "{}",
        r.text
    );
    // Without forma_pagamento the move keeps the appointment's own form (particular), so
    // the doctor dropping private pay refuses it, and moving it back to the plan is fine.
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"aceita_particular": false}),
    )
    .await
    .expect_status(200);
    let r = remarcar(&app, &bid, json!({"inicio": at(seg, "09:30")})).await;
    assert_problem(&r, 422, "particular_nao_aceito");
    let r = remarcar(
        &app,
        &bid,
        json!({"inicio": at(seg, "09:30"), "forma_pagamento": "convenio"}),
    )
    .await;
    r.expect_status(200);
    assert_eq!(
        r.body["pagamento"],
        json!({"forma": "convenio", "convenio_id": c.plano, "status": "pendente"}),
        "{}",
        r.text
    );
    // The plan deactivated: moving is refused with convenio_inativo.
    app.delete(&format!("/convenios/{}", c.plano))
        .await
        .expect_status(204);
    let r = remarcar(&app, &bid, json!({"inicio": at(seg, "08:30")})).await;
    assert_problem(&r, 422, "convenio_inativo");
    // A form that does not exist is a validation error.
    let r = remarcar(
        &app,
        &bid,
        json!({"inicio": at(seg, "08:30"), "forma_pagamento": "cheque"}),
    )
    .await;
    r.expect_status(422);
}

fn serie(c: &crate::convenios::Cena, ini: &str, fim: &str, n: i64, forma: Option<&str>) -> Value {
    let mut b = json!({"paciente_id": c.paciente, "medico_id": c.medico, "inicio": ini,
        "fim": fim, "repeticao": {"a_cada_semanas": 1, "ocorrencias": n}});
    if let Some(f) = forma {
        b["forma_pagamento"] = json!(f);
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_checks_payment_for_every_occurrence_all_or_nothing() {
    let app = TestApp::new().await;
    let seg = monday(1);
    // The card is valid through the second Monday.
    let c = cena(&app, plus_days(seg, 7)).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));

    // Three weeks: the third occurrence is after the card's validity → the whole series is
    // refused at once, naming that date; no task.
    let r = app
        .post("/consultas/agendar-serie", &serie(&c, &ini, &fim, 3, None))
        .await;
    assert_problem(&r, 422, "carteirinha_vencida");
    let terceira = plus_days(seg, 14).to_string();
    assert!(r.text.contains(&terceira), "{}", r.text);
    assert_eq!(app.get("/sistema/tasks").await.array().len(), 0);

    // Two weeks pass at once; then the card is shortened before the worker's turn: the task
    // fails with the code and the refused date, and books none.
    let r = app
        .post("/consultas/agendar-serie", &serie(&c, &ini, &fim, 2, None))
        .await;
    r.expect_status(202);
    let task_id = str_field(&r.body, "task_id");
    app.put(
        &format!("/pacientes/{}", c.paciente),
        &json!({"validade_carteirinha": seg.to_string()}),
    )
    .await
    .expect_status(200);
    let t = tarefa(&app, &task_id).await;
    assert_eq!(t["status"], "falhou", "{t}");
    assert_eq!(t["erro"]["code"], "carteirinha_vencida", "{t}");
    assert_eq!(
        t["erro"]["conflitos"],
        json!([plus_days(seg, 7).to_string()]),
        "{t}"
    );
    assert_eq!(app.get("/consultas").await.array().len(), 0);
    assert_eq!(app.slot_state(&c.medico, &ini).await, "disponivel");

    // Valid again: both booked, each with its pending payment by the plan.
    app.put(
        &format!("/pacientes/{}", c.paciente),
        &json!({"validade_carteirinha": plus_days(seg, 7).to_string()}),
    )
    .await
    .expect_status(200);
    let r = app
        .post("/consultas/agendar-serie", &serie(&c, &ini, &fim, 2, None))
        .await;
    r.expect_status(202);
    let t = tarefa(&app, &str_field(&r.body, "task_id")).await;
    assert_eq!(t["status"], "concluida", "{t}");
    let cs = app.get("/consultas").await.array().to_vec();
    assert_eq!(cs.len(), 2);
    for x in &cs {
        assert_eq!(
            x["pagamento"],
            json!({"forma": "convenio", "convenio_id": c.plano, "status": "pendente"}),
            "{x}"
        );
    }

    // Private pay for a doctor who takes none: 422 at once; accepted but dropped before
    // the worker's turn: the task fails with the code.
    let (i2, f2) = (at(seg, "10:00"), at(seg, "10:30"));
    let r = app
        .post(
            "/consultas/agendar-serie",
            &serie(&c, &i2, &f2, 2, Some("particular")),
        )
        .await;
    r.expect_status(202);
    let task_id = str_field(&r.body, "task_id");
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"aceita_particular": false}),
    )
    .await
    .expect_status(200);
    let t = tarefa(&app, &task_id).await;
    assert_eq!(t["erro"]["code"], "particular_nao_aceito", "{t}");
    let r = app
        .post(
            "/consultas/agendar-serie",
            &serie(&c, &i2, &f2, 2, Some("particular")),
        )
        .await;
    assert_problem(&r, 422, "particular_nao_aceito");
    assert_eq!(app.get("/consultas").await.array().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_list_acceptance_checks_payment_at_once_and_in_the_worker() {
    let app = TestApp::new().await;
    let seg = monday(1);
    let c = cena(&app, seg).await;
    let (ids, _) = vaga_liberada(&app, &c, seg, &[&c.paciente]).await;
    let eid = ids[0].clone();
    assert_eq!(entrada(&app, &eid).await["status"], "oferecida");

    // The card expired the day before the slot: 422 with the code, the offer stays.
    app.put(
        &format!("/pacientes/{}", c.paciente),
        &json!({"validade_carteirinha": plus_days(seg, -1).to_string()}),
    )
    .await
    .expect_status(200);
    let r = app
        .post(&format!("/lista-espera/{eid}/aceitar"), &json!({}))
        .await;
    assert_problem(&r, 422, "carteirinha_vencida");
    let got = entrada(&app, &eid).await;
    assert_eq!(got["status"], "oferecida", "{got}");
    assert!(got.get("tarefa_id").is_none(), "{got}");

    // Private pay instead: accepted; the doctor drops private pay before the worker's turn,
    // so the task fails with the code and nothing is booked for the patient.
    let r = app
        .post(
            &format!("/lista-espera/{eid}/aceitar"),
            &json!({"forma_pagamento": "particular"}),
        )
        .await;
    r.expect_status(202);
    let task_id = str_field(&r.body, "task_id");
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"aceita_particular": false}),
    )
    .await
    .expect_status(200);
    let t = tarefa(&app, &task_id).await;
    assert_eq!(t["status"], "falhou", "{t}");
    assert_eq!(t["erro"]["code"], "particular_nao_aceito", "{t}");
    let got = entrada(&app, &eid).await;
    assert_ne!(got["status"], "agendada", "{got}");
    let minhas = app
        .get(&format!("/consultas?paciente_id={}", c.paciente))
        .await;
    assert_eq!(minhas.array().len(), 0, "{}", minhas.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_list_booking_records_the_payment() {
    let app = TestApp::new().await;
    let seg = monday(1);
    let c = cena(&app, seg).await;
    let (ids, _) = vaga_liberada(&app, &c, seg, &[&c.paciente]).await;
    let eid = &ids[0];
    // No body: the default form (the patient's plan).
    let r = app
        .send(
            axum::http::Method::POST,
            &format!("/lista-espera/{eid}/aceitar"),
            &[],
            "",
        )
        .await;
    r.expect_status(202);
    let t = tarefa(&app, &str_field(&r.body, "task_id")).await;
    assert_eq!(t["status"], "concluida", "{t}");
    assert_eq!(
        t["resultado"]["consulta"]["pagamento"],
        json!({"forma": "convenio", "convenio_id": c.plano, "status": "pendente"}),
        "{t}"
    );
}

/// The lines of the report's pages as lopdf extracts them, trimmed, non-empty.
fn linhas_do_pdf(pdf: &[u8]) -> Vec<String> {
    let doc = lopdf::Document::load_mem(pdf).expect("lopdf parses the report");
    let n = doc.get_pages().len() as u32;
    (1..=n)
        .flat_map(|p| {
            doc.extract_text(&[p])
                .expect("text")
                .lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// In the "Por convênio" section: the quantity and amount on `rotulo`'s row.
fn linha_convenio(ls: &[String], rotulo: &str) -> Option<(String, String)> {
    let secao = ls.iter().position(|l| l == "Por convênio")?;
    let i = ls[secao..].iter().position(|l| l == rotulo)? + secao;
    Some((ls.get(i + 1)?.clone(), ls.get(i + 2)?.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_totals_by_plan_and_amounts_received_match_the_appointments() {
    let app = TestApp::new().await;
    let seg = monday(1);
    let c = cena(&app, plus_days(seg, 30)).await;
    let amil = app.post("/convenios", &json!({"nome": "Amil"})).await.id();
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"convenios_aceitos": [c.plano, amil], "valor_particular_centavos": 123456}),
    )
    .await
    .expect_status(200);
    let outro = app.paciente(304).await;
    app.put(
        &format!("/pacientes/{outro}"),
        &json!({"convenio_id": amil}),
    )
    .await
    .expect_status(200);
    // The front desk books: Unimed ×3, Amil ×1, private pay ×3 at R$ 1.234,56, two paid.
    let mut particulares = Vec::new();
    let horas = [
        "08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00",
    ];
    for (k, hora) in horas.iter().enumerate() {
        let fim = at(seg, hora)
            .replace(":00:00", ":20:00")
            .replace(":30:00", ":50:00");
        let (paciente, forma) = match k {
            0..=2 => (&c.paciente, "convenio"),
            3 => (&outro, "convenio"),
            _ => (&c.paciente, "particular"),
        };
        let r = app
            .post(
                "/consultas",
                &json!({"paciente_id": paciente, "medico_id": c.medico, "inicio": at(seg, hora),
                    "fim": fim, "forma_pagamento": forma}),
            )
            .await;
        r.expect_status(201);
        if forma == "particular" {
            particulares.push(r.id());
        }
    }
    for id in &particulares[..2] {
        app.post(
            &format!("/consultas/{id}/pagamento"),
            &json!({"status": "pago"}),
        )
        .await
        .expect_status(200);
    }
    let r = app.post("/relatorios/gerar", &json!({})).await;
    r.expect_status(202);
    let task_id = str_field(&r.body, "task_id");
    app.run_tasks().await;
    let t = app.get(&format!("/sistema/tasks/{task_id}")).await.body;
    assert_eq!(t["status"], "concluida", "{t}");
    let arquivo = str_field(&t["resultado"], "arquivo");
    let pdf = std::fs::read(app.state.config.reports_dir.join(&arquivo)).expect("the report");
    let ls = linhas_do_pdf(&pdf);
    assert_eq!(
        linha_convenio(&ls, "Unimed"),
        Some(("3".into(), "R$ 0,00".into())),
        "{ls:?}"
    );
    assert_eq!(
        linha_convenio(&ls, "Amil"),
        Some(("1".into(), "R$ 0,00".into())),
        "{ls:?}"
    );
    assert_eq!(
        linha_convenio(&ls, "Particular"),
        Some(("3".into(), "R$ 2.469,12".into())),
        "{ls:?}"
    );
    assert!(
        ls.iter().any(|l| l == "Total recebido: R$ 2.469,12"),
        "{ls:?}"
    );
    // After the existing totals, plans by name then private pay.
    let pos = |s: &str| ls.iter().position(|l| l == s).unwrap_or(usize::MAX);
    assert!(pos("Por médico") < pos("Por convênio"), "{ls:?}");
    assert!(
        pos("Amil") < pos("Unimed") && pos("Unimed") < pos("Particular"),
        "{ls:?}"
    );
}

#[tokio::test]
async fn statistics_count_appointments_by_plan_and_the_amounts_received() {
    let app = TestApp::new().await;
    let seg = monday(1);
    let c = cena(&app, plus_days(seg, 30)).await;
    let mut ids = Vec::new();
    for (hora, forma) in [
        ("08:00", "convenio"),
        ("08:30", "convenio"),
        ("09:00", "particular"),
        ("09:30", "particular"),
        ("10:00", "particular"),
    ] {
        let fim = at(seg, hora)
            .replace(":00:00", ":20:00")
            .replace(":30:00", ":50:00");
        let r = app
            .post(
                "/consultas",
                &json!({"paciente_id": c.paciente, "medico_id": c.medico, "inicio": at(seg, hora),
                    "fim": fim, "forma_pagamento": forma}),
            )
            .await;
        r.expect_status(201);
        ids.push(r.id());
    }
    // Two private ones paid (R$ 250,00 each), one of them refunded; a plan one paid.
    for (id, status) in [
        (&ids[2], "pago"),
        (&ids[3], "pago"),
        (&ids[3], "estornado"),
        (&ids[0], "pago"),
    ] {
        app.post(
            &format!("/consultas/{id}/pagamento"),
            &json!({"status": status}),
        )
        .await
        .expect_status(200);
    }
    let dia = seg.to_string();
    let r = app
        .get(&format!("/relatorios/estatisticas?de={dia}&ate={dia}"))
        .await;
    r.expect_status(200);
    assert_eq!(r.body["total"], 5, "{}", r.text);
    assert_eq!(r.body["recebido_centavos"], 25000, "{}", r.text);
    assert_eq!(
        r.body["por_plano"],
        json!([
            {"forma": "particular", "convenio_id": null, "nome": "Particular", "total": 3,
                "recebido_centavos": 25000},
            {"forma": "convenio", "convenio_id": c.plano, "nome": "Unimed", "total": 2,
                "recebido_centavos": 0},
        ]),
        "{}",
        r.text
    );
    // The existing breakdown by the patients' free-text plan is unchanged.
    assert!(r.body["por_convenio"].is_array(), "{}", r.text);
}

/// The scene's doctor's 09:00 on `seg` is booked by another patient, each of `pacientes`
/// (in this order) waits for that doctor that day, and the appointment is cancelled; the
/// entries' ids and the freed slot.
async fn vaga_liberada(
    app: &TestApp,
    c: &crate::convenios::Cena,
    seg: jiff::civil::Date,
    pacientes: &[&str],
) -> (Vec<String>, String) {
    let outro = app.paciente(302).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let ocupada = app
        .post(
            "/consultas",
            &json!({"paciente_id": outro, "medico_id": c.medico, "inicio": ini, "fim": fim}),
        )
        .await;
    ocupada.expect_status(201);
    let dia = seg.to_string();
    let mut ids = Vec::new();
    for p in pacientes {
        let e = app
            .post(
                "/lista-espera",
                &json!({"paciente_id": p, "medico_id": c.medico, "de": dia, "ate": dia}),
            )
            .await;
        e.expect_status(201);
        ids.push(str_field(&e.body, "id"));
    }
    app.put(
        &format!("/consultas/{}", str_field(&ocupada.body, "id")),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);
    (ids, ini)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_slot_skips_a_waiting_patient_who_could_not_pay_for_it() {
    let app = TestApp::new().await;
    let seg = monday(1);
    let c = cena(&app, plus_days(seg, 365)).await;
    // The doctor takes the plan only: a patient without one cannot book them at all.
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"aceita_particular": false}),
    )
    .await
    .expect_status(200);
    let sem_plano = app.paciente(303).await;
    // The patient without a plan waits first; the one with the plan second.
    let (ids, ini) = vaga_liberada(&app, &c, seg, &[&sem_plano, &c.paciente]).await;
    assert_eq!(entrada(&app, &ids[0]).await["status"], "aguardando");
    let e = entrada(&app, &ids[1]).await;
    assert_eq!(e["status"], "oferecida", "{e}");
    assert_eq!(e["oferta"]["slot"], json!(ini));
}

/// The front desk may record a plan payment for a patient with no plan (its `POST /consultas`
/// is free of the refusals): the statistics name that row "Convênio não informado", with no
/// `convenio_id`, not a deleted plan (plans are never deleted).
#[tokio::test]
async fn a_plan_payment_without_a_plan_is_named_as_such_in_the_statistics() {
    let app = TestApp::new().await;
    let seg = monday(1);
    let m = app.medico(8101, &[("segunda", "08:00", "12:00")]).await;
    let p = app.paciente(8101).await;
    app.post(
        "/consultas",
        &json!({"paciente_id": p, "medico_id": m, "inicio": at(seg, "08:00"),
            "fim": at(seg, "08:30"), "forma_pagamento": "convenio"}),
    )
    .await
    .expect_status(201);
    let dia = seg.to_string();
    let r = app
        .get(&format!("/relatorios/estatisticas?de={dia}&ate={dia}"))
        .await;
    r.expect_status(200);
    assert_eq!(
        r.body["por_plano"],
        json!([{"forma": "convenio", "convenio_id": null, "nome": "Convênio não informado",
            "total": 1, "recebido_centavos": 0}]),
        "{}",
        r.text
    );
}

/// A patient who changed plans since booking: moving a still-pending plan payment checks the
/// new plan and records it, so reports credit the plan that pays. A settled one keeps its plan.
#[tokio::test]
async fn remarcar_records_the_patients_current_plan_on_a_pending_plan_payment() {
    let app = TestApp::new().await;
    let seg = monday(2);
    let c = cena(&app, plus_days(seg, 60)).await;
    let pendente = str_field(&agendada(&app, &c, &at(seg, "08:00")).await, "id");
    let paga = str_field(&agendada(&app, &c, &at(seg, "08:30")).await, "id");
    app.post(
        &format!("/consultas/{paga}/pagamento"),
        &json!({"status": "pago"}),
    )
    .await
    .expect_status(200);
    let amil = app.post("/convenios", &json!({"nome": "Amil"})).await;
    amil.expect_status(201);
    let amil = amil.id();
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"convenios_aceitos": [c.plano, amil]}),
    )
    .await
    .expect_status(200);
    app.put(
        &format!("/pacientes/{}", c.paciente),
        &json!({"convenio_id": amil}),
    )
    .await
    .expect_status(200);

    let r = remarcar(&app, &pendente, json!({"inicio": at(seg, "10:00")})).await;
    r.expect_status(200);
    assert_eq!(
        r.body["pagamento"]["convenio_id"],
        json!(amil),
        "{}",
        r.text
    );
    assert_eq!(r.body["pagamento"]["status"], "pendente");
    let r = remarcar(&app, &paga, json!({"inicio": at(seg, "10:30")})).await;
    r.expect_status(200);
    assert_eq!(
        r.body["pagamento"]["convenio_id"],
        json!(c.plano),
        "{}",
        r.text
    );
    assert_eq!(r.body["pagamento"]["status"], "pago");
}
