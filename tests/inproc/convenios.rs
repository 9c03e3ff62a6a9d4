//! SPEC-2 §12 part 1 through the production router: `/convenios` (insurance plans): create,
//! read, filters, partial update, unique names ignoring case and accents, the ANS registry
//! number, deactivation instead of removal, audit entries and bad input.

use std::collections::BTreeSet;

use serde_json::json;

use crate::harness::TestApp;
use crate::helpers::campos;

#[tokio::test]
async fn a_plan_is_created_read_listed_filtered_and_changed() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/convenios",
            &json!({"nome": "  Unimed ", "registro_ans": "339679"}),
        )
        .await;
    r.expect_status(201);
    assert_eq!(r.body["nome"], "Unimed", "{}", r.text);
    assert_eq!(r.body["registro_ans"], "339679");
    assert_eq!(r.body["ativo"], true);
    let unimed = r.id();
    let r = app
        .post("/convenios", &json!({"nome": "Amil", "ativo": false}))
        .await;
    r.expect_status(201);
    assert!(r.body.get("registro_ans").is_none(), "{}", r.text);
    let amil = r.id();
    app.post(
        "/convenios",
        &json!({"nome": "SulAmérica Saúde", "registro_ans": ""}),
    )
    .await
    .expect_status(201);

    let got = app.get(&format!("/convenios/{unimed}")).await;
    got.expect_status(200);
    assert_eq!(got.body["nome"], "Unimed");
    let nomes = |r: &crate::common::Resp| -> Vec<String> {
        r.array()
            .iter()
            .map(|c| c["nome"].as_str().expect("nome").to_owned())
            .collect()
    };
    let todos = app.get("/convenios").await;
    todos.expect_status(200);
    assert_eq!(nomes(&todos), ["Amil", "SulAmérica Saúde", "Unimed"]);
    assert_eq!(todos.total_count(), 3);
    assert_eq!(
        nomes(&app.get("/convenios?ativo=true").await),
        ["SulAmérica Saúde", "Unimed"]
    );
    assert_eq!(nomes(&app.get("/convenios?ativo=false").await), ["Amil"]);
    assert_eq!(
        nomes(&app.get("/convenios?nome=SAUDE").await),
        ["SulAmérica Saúde"]
    );
    let p = app.get("/convenios?ativo=true&limit=1&offset=1").await;
    assert_eq!(nomes(&p), ["Unimed"]);
    assert_eq!(p.total_count(), 2);

    // Partial update: only what is sent changes; null clears the registry number.
    let put = app
        .put(&format!("/convenios/{amil}"), &json!({"ativo": true}))
        .await;
    put.expect_status(200);
    assert_eq!(put.body["ativo"], true);
    assert_eq!(put.body["nome"], "Amil");
    let put = app
        .put(
            &format!("/convenios/{unimed}"),
            &json!({"registro_ans": null, "nome": "Unimed Paulistana"}),
        )
        .await;
    put.expect_status(200);
    assert!(put.body.get("registro_ans").is_none(), "{}", put.text);
    assert_eq!(put.body["nome"], "Unimed Paulistana");
    assert_eq!(put.body["ativo"], true);

    app.get("/convenios/nao-existe").await.expect_status(404);
    app.put("/convenios/nao-existe", &json!({"ativo": false}))
        .await
        .expect_status(404);
    app.delete("/convenios/nao-existe").await.expect_status(404);
}

#[tokio::test]
async fn a_plan_name_is_unique_ignoring_case_and_accents() {
    let app = TestApp::new().await;
    let r = app
        .post("/convenios", &json!({"nome": "Saúde Caixa"}))
        .await;
    r.expect_status(201);
    let id = r.id();
    let dup = app
        .post("/convenios", &json!({"nome": "SAUDE caixa"}))
        .await;
    dup.expect_status(409);
    assert_eq!(dup.body["code"], "duplicate_convenio", "{}", dup.text);
    assert!(dup.text.contains(&id), "names the other plan: {}", dup.text);
    let outro = app.post("/convenios", &json!({"nome": "Bradesco"})).await;
    outro.expect_status(201);
    let outro = outro.id();
    let r = app
        .put(
            &format!("/convenios/{outro}"),
            &json!({"nome": "saúde CAIXA"}),
        )
        .await;
    r.expect_status(409);
    assert_eq!(r.body["code"], "duplicate_convenio");
    // Renaming a plan to its own name in another case is not a conflict.
    let r = app
        .put(&format!("/convenios/{id}"), &json!({"nome": "SAÚDE CAIXA"}))
        .await;
    r.expect_status(200);
    assert_eq!(r.body["nome"], "SAÚDE CAIXA");
    assert_eq!(app.get("/convenios").await.array().len(), 2);
}

#[tokio::test]
async fn delete_deactivates_the_plan_and_keeps_it() {
    let app = TestApp::new().await;
    let id = app.post("/convenios", &json!({"nome": "Cassi"})).await.id();
    app.delete(&format!("/convenios/{id}"))
        .await
        .expect_status(204);
    let got = app.get(&format!("/convenios/{id}")).await;
    got.expect_status(200);
    assert_eq!(got.body["ativo"], false, "{}", got.text);
    // Again: still 204, nothing changes.
    app.delete(&format!("/convenios/{id}"))
        .await
        .expect_status(204);
    // Its name stays taken; reactivating is a PUT.
    app.post("/convenios", &json!({"nome": "cassi"}))
        .await
        .expect_status(409);
    let r = app
        .put(&format!("/convenios/{id}"), &json!({"ativo": true}))
        .await;
    assert_eq!(r.body["ativo"], true);
}

#[tokio::test]
async fn bad_plan_input_is_422_naming_the_field_and_changes_nothing() {
    let app = TestApp::new().await;
    let casos = [
        (json!({"nome": "   "}), "nome"),
        (json!({"nome": "x".repeat(101)}), "nome"),
        (json!({}), "nome"),
        (
            json!({"nome": "A", "registro_ans": "12345"}),
            "registro_ans",
        ),
        (
            json!({"nome": "A", "registro_ans": "1234567"}),
            "registro_ans",
        ),
        (
            json!({"nome": "A", "registro_ans": "12a456"}),
            "registro_ans",
        ),
        (json!({"nome": "A", "registro_ans": 339679}), "registro_ans"),
        (json!({"nome": "A", "ativo": "sim"}), "ativo"),
        (json!({"nome": "A", "extra": 1}), "extra"),
    ];
    for (body, campo) in casos {
        let r = app.post("/convenios", &body).await;
        r.expect_status(422);
        assert!(
            campos(&r.body).contains(&campo.to_owned()),
            "{body} → {}",
            r.text
        );
    }
    let r = app
        .post("/convenios", &json!({"nome": "A", "registro_ans": "1"}))
        .await;
    assert!(
        r.text.contains("6 dígitos"),
        "says what is expected: {}",
        r.text
    );
    let id = app
        .post("/convenios", &json!({"nome": "Golden Cross"}))
        .await
        .id();
    for body in [
        json!({"nome": null}),
        json!({"nome": ""}),
        json!({"registro_ans": "abc"}),
        json!({"ativo": 1}),
    ] {
        app.put(&format!("/convenios/{id}"), &body)
            .await
            .expect_status(422);
    }
    for bad in ["{", "[]", "null", "\"x\"", "{\"nome\": 1}"] {
        let r = app.post_raw("/convenios", "application/json", bad).await;
        assert!(
            (400..500).contains(&r.status),
            "{bad}: {} {}",
            r.status,
            r.text
        );
    }
    app.get("/convenios?ativo=talvez").await.expect_status(422);
    let all = app.get("/convenios").await;
    assert_eq!(all.array().len(), 1, "{}", all.text);
    assert_eq!(all.array()[0]["nome"], "Golden Cross");
}

#[tokio::test]
async fn plan_writes_leave_audit_entries() {
    let app = TestApp::new().await;
    let id = app
        .post("/convenios", &json!({"nome": "Porto Saúde"}))
        .await
        .id();
    app.put(
        &format!("/convenios/{id}"),
        &json!({"registro_ans": "123456"}),
    )
    .await
    .expect_status(200);
    app.delete(&format!("/convenios/{id}"))
        .await
        .expect_status(204);
    let trilha = app
        .get(&format!(
            "/sistema/auditoria?recurso=convenios&recurso_id={id}"
        ))
        .await;
    trilha.expect_status(200);
    let acoes: Vec<String> = trilha
        .array()
        .iter()
        .map(|e| e["acao"].as_str().expect("acao").to_owned())
        .collect();
    assert_eq!(acoes.len(), 3, "{}", trilha.text);
    assert_eq!(
        acoes.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from(["criar".to_owned(), "alterar".to_owned()]),
        "{}",
        trilha.text
    );
}

async fn plano(app: &TestApp, nome: &str) -> String {
    let r = app.post("/convenios", &json!({"nome": nome})).await;
    r.expect_status(201);
    r.id()
}

#[tokio::test]
async fn a_doctor_takes_plans_private_pay_and_a_price_with_defaults() {
    let app = TestApp::new().await;
    let unimed = plano(&app, "Unimed").await;
    let amil = plano(&app, "Amil").await;
    // Defaults: no plans, private pay on, no price.
    let r = app
        .post(
            "/medicos",
            &crate::common::medico_body("Dr. Padrão", 8101, "Clínica Geral"),
        )
        .await;
    r.expect_status(201);
    assert_eq!(r.body["convenios_aceitos"], json!([]), "{}", r.text);
    assert_eq!(r.body["aceita_particular"], true);
    assert!(
        r.body.get("valor_particular_centavos").is_none(),
        "{}",
        r.text
    );

    let mut body = crate::common::medico_body("Dra. Plano", 8102, "Pediatria");
    body["convenios_aceitos"] = json!([unimed, amil, unimed]);
    body["aceita_particular"] = json!(false);
    body["valor_particular_centavos"] = json!(25000);
    let r = app.post("/medicos", &body).await;
    r.expect_status(201);
    assert_eq!(
        r.body["convenios_aceitos"],
        json!([unimed, amil]),
        "repeats dropped"
    );
    assert_eq!(r.body["aceita_particular"], false);
    assert_eq!(r.body["valor_particular_centavos"], 25000);
    let id = r.id();
    let got = app.get(&format!("/medicos/{id}")).await;
    assert_eq!(got.body["valor_particular_centavos"], 25000);

    let r = app
        .put(
            &format!("/medicos/{id}"),
            &json!({"convenios_aceitos": [amil], "aceita_particular": true, "valor_particular_centavos": 1500.0}),
        )
        .await;
    r.expect_status(200);
    assert_eq!(r.body["convenios_aceitos"], json!([amil]));
    assert_eq!(r.body["aceita_particular"], true);
    assert_eq!(r.body["valor_particular_centavos"], 1500);
    let r = app
        .put(
            &format!("/medicos/{id}"),
            &json!({"valor_particular_centavos": null}),
        )
        .await;
    r.expect_status(200);
    assert!(
        r.body.get("valor_particular_centavos").is_none(),
        "{}",
        r.text
    );
    assert_eq!(r.body["convenios_aceitos"], json!([amil]), "untouched");
}

#[tokio::test]
async fn bad_doctor_payment_fields_are_422_and_change_nothing() {
    let app = TestApp::new().await;
    let unimed = plano(&app, "Unimed").await;
    let base = crate::common::medico_body("Dr. Erro", 8201, "Clínica Geral");
    let casos = [
        ("valor_particular_centavos", json!(12.5)),
        ("valor_particular_centavos", json!(-1)),
        ("valor_particular_centavos", json!("1500")),
        ("valor_particular_centavos", json!(1e12)),
        ("convenios_aceitos", json!(["nao-existe"])),
        ("convenios_aceitos", json!([unimed, "outro-que-nao-existe"])),
        ("convenios_aceitos", json!([""])),
        ("convenios_aceitos", json!(unimed)),
        ("aceita_particular", json!("sim")),
    ];
    for (campo, v) in &casos {
        let mut body = base.clone();
        body[*campo] = v.clone();
        let r = app.post("/medicos", &body).await;
        r.expect_status(422);
        assert!(
            campos(&r.body).contains(&campo.to_string()),
            "{campo}={v} → {}",
            r.text
        );
    }
    assert_eq!(app.get("/medicos").await.array().len(), 0);
    let id = app.post("/medicos", &base).await.id();
    for (campo, v) in &casos {
        let r = app
            .put(&format!("/medicos/{id}"), &json!({ *campo: v }))
            .await;
        r.expect_status(422);
        assert!(
            campos(&r.body).contains(&campo.to_string()),
            "PUT {campo}={v} → {}",
            r.text
        );
    }
    let got = app.get(&format!("/medicos/{id}")).await;
    assert_eq!(got.body["convenios_aceitos"], json!([]), "{}", got.text);
}

#[tokio::test]
async fn a_patient_has_a_plan_a_card_and_its_validity() {
    let app = TestApp::new().await;
    let unimed = plano(&app, "Unimed").await;
    let mut body = crate::common::paciente_body("Maria Plano", 1);
    body["convenio_id"] = json!(unimed);
    body["carteirinha"] = json!("0001234500012345");
    body["validade_carteirinha"] = json!("2027-12-31");
    let r = app.post("/pacientes", &body).await;
    r.expect_status(201);
    assert_eq!(r.body["convenio_id"], json!(unimed), "{}", r.text);
    assert_eq!(r.body["carteirinha"], "0001234500012345");
    assert_eq!(r.body["validade_carteirinha"], "2027-12-31");
    assert!(
        r.body.get("convenio").is_some(),
        "the free-text field stays"
    );
    let id = r.id();
    let r = app
        .put(
            &format!("/pacientes/{id}"),
            &json!({"validade_carteirinha": "2028-01-31", "carteirinha": null}),
        )
        .await;
    r.expect_status(200);
    assert_eq!(r.body["validade_carteirinha"], "2028-01-31");
    assert!(r.body.get("carteirinha").is_none(), "{}", r.text);
    assert_eq!(r.body["convenio_id"], json!(unimed));

    // Without them: absent.
    let r = app
        .post("/pacientes", &crate::common::paciente_body("Sem Plano", 2))
        .await;
    r.expect_status(201);
    assert!(r.body.get("convenio_id").is_none(), "{}", r.text);

    let casos = [
        ("convenio_id", json!("nao-existe")),
        ("carteirinha", json!("12.345-6")),
        ("carteirinha", json!("x".repeat(31))),
        ("validade_carteirinha", json!("31/12/2027")),
        ("validade_carteirinha", json!("2027-02-30")),
        ("validade_carteirinha", json!("2027-12-31T00:00:00")),
    ];
    for (i, (campo, v)) in casos.iter().enumerate() {
        let mut body = crate::common::paciente_body("Erro", 10 + i as u64);
        body[*campo] = v.clone();
        let r = app.post("/pacientes", &body).await;
        r.expect_status(422);
        assert!(
            campos(&r.body).contains(&campo.to_string()),
            "{campo}={v} → {}",
            r.text
        );
        let r = app
            .put(&format!("/pacientes/{id}"), &json!({ *campo: v }))
            .await;
        r.expect_status(422);
        assert!(
            campos(&r.body).contains(&campo.to_string()),
            "PUT {campo}={v} → {}",
            r.text
        );
    }
    assert_eq!(app.get("/pacientes").await.array().len(), 2);
}

/// A plan `Unimed`, a doctor working Mondays 08:00-12:00 who takes it and private pay at
/// R$ 250,00, and a patient on it whose card is valid through `validade`.
pub(crate) struct Cena {
    pub(crate) plano: String,
    pub(crate) medico: String,
    pub(crate) paciente: String,
}

pub(crate) async fn cena(app: &TestApp, validade: jiff::civil::Date) -> Cena {
    let plano = plano(app, "Unimed").await;
    let medico = app.medico(8301, &[("segunda", "08:00", "12:00")]).await;
    app.put(
        &format!("/medicos/{medico}"),
        &json!({"convenios_aceitos": [plano], "valor_particular_centavos": 25000}),
    )
    .await
    .expect_status(200);
    let paciente = app.paciente(301).await;
    app.put(
        &format!("/pacientes/{paciente}"),
        &json!({"convenio_id": plano, "carteirinha": "ABC123", "validade_carteirinha": validade.to_string()}),
    )
    .await
    .expect_status(200);
    Cena {
        plano,
        medico,
        paciente,
    }
}

/// `POST /consultas/agendar` for the scene's patient and doctor at `inicio`.
pub(crate) async fn agendar(
    app: &TestApp,
    c: &Cena,
    inicio: &str,
    forma: Option<&str>,
) -> crate::common::Resp {
    let fim = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", inicio)
        .expect("inicio")
        .checked_add(jiff::SignedDuration::from_mins(30))
        .expect("fim");
    let mut body = json!({"paciente_id": c.paciente, "medico_id": c.medico,
        "inicio": inicio, "fim": fim.strftime("%Y-%m-%dT%H:%M:%S").to_string()});
    if let Some(f) = forma {
        body["forma_pagamento"] = json!(f);
    }
    app.post("/consultas/agendar", &body).await
}

/// Runs the queue; the task's final state.
pub(crate) async fn tarefa(app: &TestApp, task_id: &str) -> serde_json::Value {
    app.run_tasks().await;
    let r = app.get(&format!("/sistema/tasks/{task_id}")).await;
    r.expect_status(200);
    r.body
}

#[tokio::test]
async fn a_booking_by_plan_records_a_pending_payment_and_private_pay_copies_the_price() {
    let app = TestApp::new().await;
    let seg = crate::helpers::monday(2);
    let c = cena(&app, seg).await;
    // Default: the patient has a plan, so convenio; the card is valid through the day.
    let r = agendar(&app, &c, &crate::helpers::at(seg, "08:00"), None).await;
    r.expect_status(202);
    let t = tarefa(&app, r.body["task_id"].as_str().expect("task")).await;
    assert_eq!(t["status"], "concluida", "{t}");
    let pag = &t["resultado"]["consulta"]["pagamento"];
    assert_eq!(
        *pag,
        json!({"forma": "convenio", "convenio_id": c.plano, "status": "pendente"}),
        "{t}"
    );
    let r = agendar(
        &app,
        &c,
        &crate::helpers::at(seg, "09:00"),
        Some("particular"),
    )
    .await;
    r.expect_status(202);
    let t = tarefa(&app, r.body["task_id"].as_str().expect("task")).await;
    let id = t["resultado"]["consulta"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // A later price change does not alter the booked amount.
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"valor_particular_centavos": 30000}),
    )
    .await
    .expect_status(200);
    let got = app.get(&format!("/consultas/{id}")).await;
    assert_eq!(
        got.body["pagamento"],
        json!({"forma": "particular", "valor_centavos": 25000, "status": "pendente"}),
        "{}",
        got.text
    );
    // A doctor who stops taking the plan does not change existing appointments.
    let antes = app.get("/consultas").await.body;
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"convenios_aceitos": [], "aceita_particular": false}),
    )
    .await
    .expect_status(200);
    assert_eq!(app.get("/consultas").await.body, antes);
}

#[tokio::test]
async fn each_payment_refusal_at_acceptance_is_422_with_its_code_and_books_nothing() {
    let app = TestApp::new().await;
    let seg = crate::helpers::monday(2);
    // The card expires the day before the appointment: valid today, expired on its date.
    let c = cena(&app, crate::helpers::plus_days(seg, -1)).await;
    let ini = crate::helpers::at(seg, "08:00");
    let r = agendar(&app, &c, &ini, None).await;
    r.expect_status(422);
    assert_eq!(r.body["code"], "carteirinha_vencida", "{}", r.text);
    app.put(
        &format!("/pacientes/{}", c.paciente),
        &json!({"validade_carteirinha": seg.to_string()}),
    )
    .await
    .expect_status(200);

    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"convenios_aceitos": [], "aceita_particular": false}),
    )
    .await
    .expect_status(200);
    let r = agendar(&app, &c, &ini, None).await;
    r.expect_status(422);
    assert_eq!(r.body["code"], "convenio_nao_aceito", "{}", r.text);
    let r = agendar(&app, &c, &ini, Some("particular")).await;
    r.expect_status(422);
    assert_eq!(r.body["code"], "particular_nao_aceito", "{}", r.text);

    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"convenios_aceitos": [c.plano]}),
    )
    .await
    .expect_status(200);
    app.delete(&format!("/convenios/{}", c.plano))
        .await
        .expect_status(204);
    let r = agendar(&app, &c, &ini, None).await;
    r.expect_status(422);
    assert_eq!(r.body["code"], "convenio_inativo", "{}", r.text);

    let r = agendar(&app, &c, &ini, Some("cheque")).await;
    r.expect_status(422);
    assert_eq!(app.get("/sistema/tasks").await.array().len(), 0);
    assert_eq!(app.slot_state(&c.medico, &ini).await, "disponivel");
}

#[tokio::test]
async fn the_worker_rechecks_payment_and_fails_the_task_with_the_code() {
    let app = TestApp::new().await;
    let seg = crate::helpers::monday(2);
    let c = cena(&app, seg).await;
    let mut tasks = Vec::new();
    for (hora, forma) in [
        ("08:00", None),
        ("09:00", None),
        ("10:00", None),
        ("11:00", Some("particular")),
    ] {
        let r = agendar(&app, &c, &crate::helpers::at(seg, hora), forma).await;
        r.expect_status(202);
        tasks.push(r.body["task_id"].as_str().expect("task").to_owned());
    }
    // Between the 202 and the worker's turn: the card now ends the day before, the doctor
    // stops private pay. Then each queued booking meets one change.
    app.put(
        &format!("/pacientes/{}", c.paciente),
        &json!({"validade_carteirinha": crate::helpers::plus_days(seg, -1).to_string()}),
    )
    .await
    .expect_status(200);
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"aceita_particular": false}),
    )
    .await
    .expect_status(200);
    let t = tarefa(&app, &tasks[0]).await;
    assert_eq!(t["status"], "falhou", "{t}");
    assert_eq!(t["erro"]["code"], "carteirinha_vencida", "{t}");
    let t = tarefa(&app, &tasks[3]).await;
    assert_eq!(t["erro"]["code"], "particular_nao_aceito", "{t}");
    assert_eq!(
        app.slot_state(&c.medico, &crate::helpers::at(seg, "08:00"))
            .await,
        "disponivel",
        "the hold is released"
    );
    assert_eq!(app.get("/consultas").await.array().len(), 0);
}

#[tokio::test]
async fn the_worker_fails_a_booking_whose_plan_was_deactivated_or_dropped() {
    let app = TestApp::new().await;
    let seg = crate::helpers::monday(2);
    let c = cena(&app, seg).await;
    let a = agendar(&app, &c, &crate::helpers::at(seg, "08:00"), None).await;
    a.expect_status(202);
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"convenios_aceitos": []}),
    )
    .await
    .expect_status(200);
    let t = tarefa(&app, a.body["task_id"].as_str().expect("task")).await;
    assert_eq!(t["erro"]["code"], "convenio_nao_aceito", "{t}");

    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"convenios_aceitos": [c.plano]}),
    )
    .await
    .expect_status(200);
    let b = agendar(&app, &c, &crate::helpers::at(seg, "09:00"), None).await;
    b.expect_status(202);
    app.delete(&format!("/convenios/{}", c.plano))
        .await
        .expect_status(204);
    let t = tarefa(&app, b.body["task_id"].as_str().expect("task")).await;
    assert_eq!(t["status"], "falhou", "{t}");
    assert_eq!(t["erro"]["code"], "convenio_inativo", "{t}");
}

#[tokio::test]
async fn the_front_desk_booking_records_payment_without_refusing() {
    let app = TestApp::new().await;
    let seg = crate::helpers::monday(2);
    let c = cena(&app, crate::helpers::plus_days(seg, -1)).await;
    let r = app
        .post(
            "/consultas",
            &json!({"paciente_id": c.paciente, "medico_id": c.medico,
                "inicio": crate::helpers::at(seg, "08:00"), "fim": crate::helpers::at(seg, "08:30")}),
        )
        .await;
    r.expect_status(201);
    assert_eq!(
        r.body["pagamento"],
        json!({"forma": "convenio", "convenio_id": c.plano, "status": "pendente"}),
        "an expired card does not stop the desk: {}",
        r.text
    );
    let r = app
        .post(
            "/consultas",
            &json!({"paciente_id": c.paciente, "medico_id": c.medico, "forma_pagamento": "particular",
                "inicio": crate::helpers::at(seg, "09:00"), "fim": crate::helpers::at(seg, "09:30")}),
        )
        .await;
    r.expect_status(201);
    assert_eq!(r.body["pagamento"]["valor_centavos"], 25000, "{}", r.text);
}

/// The front desk books the scene's patient with its doctor, private pay, 30 minutes at
/// each of `horas` on `dia`; the appointments' ids.
async fn particulares(
    app: &TestApp,
    c: &Cena,
    dia: jiff::civil::Date,
    horas: &[&str],
) -> Vec<String> {
    let mut ids = Vec::new();
    for hora in horas {
        let r = app
            .post(
                "/consultas",
                &json!({"paciente_id": c.paciente, "medico_id": c.medico, "forma_pagamento": "particular",
                    "inicio": crate::helpers::at(dia, hora), "fim": crate::helpers::at(dia, &hora.replace(":00", ":30"))}),
            )
            .await;
        r.expect_status(201);
        ids.push(r.id());
    }
    ids
}

#[tokio::test]
async fn a_payment_moves_pending_to_paid_or_waived_and_paid_to_refunded_only() {
    let app = TestApp::new().await;
    let seg = crate::helpers::monday(2);
    let c = cena(&app, seg).await;
    let ids = particulares(&app, &c, seg, &["08:00", "09:00"]).await;
    let pag = |id: &str| format!("/consultas/{id}/pagamento");
    let r = app.post(&pag(&ids[0]), &json!({"status": "pago"})).await;
    r.expect_status(200);
    assert_eq!(r.body["pagamento"]["status"], "pago", "{}", r.text);
    assert_eq!(r.body["pagamento"]["valor_centavos"], 25000);
    for bad in ["pendente", "isento", "pago"] {
        let r = app.post(&pag(&ids[0]), &json!({"status": bad})).await;
        r.expect_status(409);
        assert_eq!(
            r.body["code"], "transicao_pagamento_invalida",
            "{bad}: {}",
            r.text
        );
    }
    let r = app
        .post(&pag(&ids[0]), &json!({"status": "estornado"}))
        .await;
    r.expect_status(200);
    assert_eq!(r.body["pagamento"]["status"], "estornado");
    app.post(&pag(&ids[0]), &json!({"status": "pago"}))
        .await
        .expect_status(409);

    app.post(&pag(&ids[1]), &json!({"status": "estornado"}))
        .await
        .expect_status(409);
    let r = app.post(&pag(&ids[1]), &json!({"status": "isento"})).await;
    r.expect_status(200);
    app.post(&pag(&ids[1]), &json!({"status": "pago"}))
        .await
        .expect_status(409);

    app.post(&pag("nao-existe"), &json!({"status": "pago"}))
        .await
        .expect_status(404);
    for bad in [
        json!({"status": "quitado"}),
        json!({}),
        json!({"status": "pago", "x": 1}),
    ] {
        app.post(&pag(&ids[1]), &bad).await.expect_status(422);
    }
    let trilha = app
        .get(&format!(
            "/sistema/auditoria?recurso=consultas&recurso_id={}&acao=alterar",
            ids[0]
        ))
        .await;
    assert_eq!(trilha.array().len(), 2, "{}", trilha.text);
}

/// `pago` records what was received: the amount sent, else the one copied at booking, else
/// the doctor's price today; a paid appointment is not deleted (its money would leave the
/// books), a refunded one is.
#[tokio::test]
async fn paid_records_the_amount_received_and_a_paid_appointment_is_not_deleted() {
    let app = TestApp::new().await;
    let seg = crate::helpers::monday(2);
    let c = cena(&app, seg).await;
    // Booked while the doctor had no price: no amount copied.
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"valor_particular_centavos": null}),
    )
    .await
    .expect_status(200);
    let ids = particulares(&app, &c, seg, &["08:00", "09:00", "10:00"]).await;
    for id in &ids {
        let r = app.get(&format!("/consultas/{id}")).await;
        assert_eq!(
            r.body["pagamento"]["valor_centavos"],
            serde_json::Value::Null,
            "{}",
            r.text
        );
    }
    let pag = |id: &str| format!("/consultas/{id}/pagamento");
    // A bad amount, or an amount with another status: 422, nothing changes.
    for bad in [
        json!({"status": "pago", "valor_centavos": -1}),
        json!({"status": "pago", "valor_centavos": 10.5}),
        json!({"status": "pago", "valor_centavos": "150,00"}),
        json!({"status": "isento", "valor_centavos": 100}),
    ] {
        let r = app.post(&pag(&ids[0]), &bad).await;
        r.expect_status(422);
        assert_eq!(campos(&r.body), ["valor_centavos"], "{bad}: {}", r.text);
    }
    assert_eq!(
        app.get(&format!("/consultas/{}", ids[0])).await.body["pagamento"]["status"],
        "pendente"
    );
    // The amount sent.
    let r = app
        .post(
            &pag(&ids[0]),
            &json!({"status": "pago", "valor_centavos": 18000}),
        )
        .await;
    r.expect_status(200);
    assert_eq!(r.body["pagamento"]["valor_centavos"], 18000, "{}", r.text);
    // No amount sent and none copied: the doctor's price today.
    app.put(
        &format!("/medicos/{}", c.medico),
        &json!({"valor_particular_centavos": 30000}),
    )
    .await
    .expect_status(200);
    let r = app.post(&pag(&ids[1]), &json!({"status": "pago"})).await;
    r.expect_status(200);
    assert_eq!(r.body["pagamento"]["valor_centavos"], 30000, "{}", r.text);
    let dia = seg.to_string();
    let est = app
        .get(&format!("/relatorios/estatisticas?de={dia}&ate={dia}"))
        .await;
    est.expect_status(200);
    let recebido: u64 = est.body["por_plano"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["recebido_centavos"].as_u64())
        .sum();
    assert_eq!(recebido, 48000, "{}", est.text);

    // A paid appointment is not deleted: 409, nothing changes.
    let r = app.delete(&format!("/consultas/{}", ids[0])).await;
    crate::common::assert_problem(&r, 409, "pagamento_registrado");
    app.get(&format!("/consultas/{}", ids[0]))
        .await
        .expect_status(200);
    // Refunded, it may go; a pending one always could.
    app.post(&pag(&ids[0]), &json!({"status": "estornado"}))
        .await
        .expect_status(200);
    app.delete(&format!("/consultas/{}", ids[0]))
        .await
        .expect_status(204);
    app.delete(&format!("/consultas/{}", ids[2]))
        .await
        .expect_status(204);
}
