//! SPEC-2 §11 part A through the production router: each doctor's slot length and buffer
//! on the grid, `/bloqueios` (time off, whole-clinic blocks), the holiday import, and a
//! block written while bookings race for its slots.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::helpers::{at, campos, consulta_body, medico_body, monday, plus_days};

/// The `tipo` and `dados` of the events published since `rx` subscribed.
fn eventos(
    rx: &mut tokio::sync::broadcast::Receiver<agendamento::infra::events::Published>,
) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        out.push(serde_json::from_str(&ev.data).expect("event json"));
    }
    out
}

/// The slot starts listed for `medico_id` on `date` (one day), with their states.
async fn slots_do_dia(
    app: &TestApp,
    medico_id: &str,
    date: jiff::civil::Date,
) -> Vec<(String, String)> {
    let r = app
        .get(&format!(
            "/agenda/slots?medico_id={medico_id}&de={date}&days=1"
        ))
        .await;
    r.expect_status(200);
    r.body[medico_id]
        .as_object()
        .expect("doctor's slots")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("state").to_owned()))
        .collect()
}

async fn medico_grade(app: &TestApp, crm: u32, duracao: u16, intervalo: u16) -> String {
    let mut body = medico_body("Dra. Grade", crm, "Clínica Geral");
    body["duracao_consulta_minutos"] = json!(duracao);
    body["intervalo_minutos"] = json!(intervalo);
    let r = app.post("/medicos", &body).await;
    r.expect_status(201);
    let id = r.id();
    app.post(
        &format!("/horarios/medico/{id}"),
        &json!({"dia_semana": "segunda", "hora_inicio": "08:00", "hora_fim": "12:00"}),
    )
    .await
    .expect_status(201);
    id
}

#[tokio::test]
async fn a_doctor_has_a_slot_length_and_a_buffer_with_defaults_and_bounds() {
    let app = TestApp::new().await;
    let r = app
        .post("/medicos", &medico_body("Dr. Padrão", 7001, "Cardiologia"))
        .await;
    r.expect_status(201);
    assert_eq!(r.body["duracao_consulta_minutos"], 30, "{}", r.text);
    assert_eq!(r.body["intervalo_minutos"], 0, "{}", r.text);
    let id = r.id();
    let got = app.get(&format!("/medicos/{id}")).await;
    assert_eq!(got.body["duracao_consulta_minutos"], 30);
    assert_eq!(app.get("/medicos").await.body[0]["intervalo_minutos"], 0);

    let put = app
        .put(
            &format!("/medicos/{id}"),
            &json!({"duracao_consulta_minutos": 45, "intervalo_minutos": 15}),
        )
        .await;
    put.expect_status(200);
    assert_eq!(put.body["duracao_consulta_minutos"], 45);
    assert_eq!(put.body["intervalo_minutos"], 15);

    for (campo, v) in [
        ("duracao_consulta_minutos", json!(4)),
        ("duracao_consulta_minutos", json!(481)),
        ("duracao_consulta_minutos", json!(-30)),
        ("intervalo_minutos", json!(241)),
        ("intervalo_minutos", json!(-1)),
    ] {
        let r = app
            .put(&format!("/medicos/{id}"), &json!({ campo: v }))
            .await;
        r.expect_problem(422, "validation_failed");
        assert_eq!(campos(&r.body), [campo], "{}", r.text);
        let mut body = medico_body("Dr. Fora", 7002, "Cardiologia");
        body[campo] = v;
        let r = app.post("/medicos", &body).await;
        assert_eq!(campos(&r.body), [campo], "{}", r.text);
    }
    for v in [json!("30"), json!(30.5), json!([30])] {
        let r = app
            .put(
                &format!("/medicos/{id}"),
                &json!({ "duracao_consulta_minutos": v }),
            )
            .await;
        assert!(
            matches!(r.status, 400 | 422) && r.header("content-type") == "application/problem+json",
            "{} {}",
            r.status,
            r.text
        );
    }
    let after = app.get(&format!("/medicos/{id}")).await;
    assert_eq!(
        after.body["duracao_consulta_minutos"], 45,
        "bad input changed nothing"
    );
    // 40.0 is an integer to JSON Schema, so it is accepted like 40.
    let r = app
        .put(
            &format!("/medicos/{id}"),
            &json!({"duracao_consulta_minutos": 40.0}),
        )
        .await;
    r.expect_status(200);
    assert_eq!(r.body["duracao_consulta_minutos"], 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grid_uses_the_doctors_length_and_a_buffer_takes_the_slots_around_an_appointment() {
    let app = TestApp::new().await;
    let pid = app.paciente(7010).await;
    let outro = app.paciente(7011).await;
    let mid = medico_grade(&app, 7010, 45, 15).await;
    let seg = monday(1);
    let grade: Vec<String> = slots_do_dia(&app, &mid, seg)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    // 45-minute steps from 08:00; 11:45 would end past 12:00.
    let esperado: Vec<String> = ["08:00", "08:45", "09:30", "10:15", "11:00"]
        .iter()
        .map(|h| at(seg, h))
        .collect();
    assert_eq!(grade, esperado);
    app.post(
        "/agenda/reservar",
        &json!({"medico_id": mid, "slot": at(seg, "08:30")}),
    )
    .await
    .expect_problem(422, "validation_failed");

    // An appointment 08:45–09:30 with a 15-minute buffer: 09:30 starts inside the buffer,
    // and 08:00 would end less than 15 minutes before it.
    app.post(
        "/consultas",
        &consulta_body(&pid, &mid, &at(seg, "08:45"), &at(seg, "09:30")),
    )
    .await
    .expect_status(201);
    let estados = slots_do_dia(&app, &mid, seg).await;
    let estado = |h: &str| {
        estados
            .iter()
            .find(|(s, _)| *s == at(seg, h))
            .map(|(_, e)| e.clone())
            .unwrap_or_default()
    };
    assert_eq!(estado("08:00"), "ocupado");
    assert_eq!(estado("08:45"), "ocupado");
    assert_eq!(estado("09:30"), "ocupado");
    assert_eq!(estado("10:15"), "disponivel");
    app.post(
        "/agenda/reservar",
        &json!({"medico_id": mid, "slot": at(seg, "09:30")}),
    )
    .await
    .expect_problem(409, "horario_ocupado");
    app.post(
        "/consultas/agendar",
        &consulta_body(&outro, &mid, &at(seg, "09:30"), &at(seg, "10:15")),
    )
    .await
    .expect_problem(409, "horario_ocupado");
    let ok = app
        .post(
            "/consultas/agendar",
            &consulta_body(&outro, &mid, &at(seg, "10:15"), &at(seg, "11:00")),
        )
        .await;
    ok.expect_status(202);
    assert_eq!(app.run_tasks().await, 1);
    assert_eq!(app.slot_state(&mid, &at(seg, "10:15")).await, "ocupado");
    assert_eq!(app.slot_state(&mid, &at(seg, "11:00")).await, "ocupado");

    // The worker's re-check sees the buffer too: a booking accepted before an appointment
    // appeared right before it fails.
    let t = app
        .post(
            "/consultas/agendar",
            &consulta_body(
                &pid,
                &mid,
                &at(plus_days(seg, 7), "10:15"),
                &at(plus_days(seg, 7), "11:00"),
            ),
        )
        .await;
    t.expect_status(202);
    app.post(
        "/consultas",
        &consulta_body(
            &outro,
            &mid,
            &at(plus_days(seg, 7), "09:30"),
            &at(plus_days(seg, 7), "10:05"),
        ),
    )
    .await
    .expect_status(201);
    app.run_tasks().await;
    let task = app
        .get(&format!(
            "/sistema/tasks/{}",
            t.body["task_id"].as_str().expect("task")
        ))
        .await;
    assert_eq!(task.body["status"], "falhou", "{}", task.text);
    assert_eq!(
        task.body["erro"]["code"], "horario_ocupado",
        "{}",
        task.text
    );
}

/// A dashboard keeps its grid from the events (SPEC §5). With a buffer an appointment also
/// takes and gives back the slots around it, which the slot events do not name: its booking,
/// move and cancellation each also publish `horario_atualizado` for the doctor, so the grid is
/// read again. A doctor without a buffer gets the slot events only.
#[tokio::test]
async fn with_a_buffer_an_appointments_changes_also_say_the_grid_changed() {
    let app = TestApp::new().await;
    let pid = app.paciente(7020).await;
    let com = medico_grade(&app, 7020, 45, 15).await;
    let sem = medico_grade(&app, 7021, 45, 0).await;
    let seg = monday(1);
    let grade_mudou = |ev: &[Value], m: &str| {
        ev.iter()
            .any(|e| e["tipo"] == "horario_atualizado" && e["dados"]["medico_id"] == m)
    };
    let (_, mut rx) = app.state.events.subscribe(None);

    let c = app
        .post(
            "/consultas",
            &consulta_body(&pid, &com, &at(seg, "08:45"), &at(seg, "09:30")),
        )
        .await;
    c.expect_status(201);
    let ev = eventos(&mut rx);
    assert!(grade_mudou(&ev, &com), "booking: {ev:#?}");
    // 08:00 and 09:30 are now taken too, as the grid read again shows.
    let estados = slots_do_dia(&app, &com, seg).await;
    assert!(estados.contains(&(at(seg, "08:00"), "ocupado".to_owned())));
    assert!(estados.contains(&(at(seg, "09:30"), "ocupado".to_owned())));

    let id = c.id();
    app.post(
        &format!("/consultas/{id}/remarcar"),
        &json!({"inicio": at(seg, "10:15")}),
    )
    .await
    .expect_status(200);
    let ev = eventos(&mut rx);
    assert!(grade_mudou(&ev, &com), "move: {ev:#?}");
    app.post(&format!("/consultas/{id}/cancelar"), &json!({}))
        .await
        .expect_status(200);
    let ev = eventos(&mut rx);
    assert!(grade_mudou(&ev, &com), "cancellation: {ev:#?}");
    let livres = slots_do_dia(&app, &com, seg).await;
    assert!(livres.iter().all(|(_, e)| e == "disponivel"), "{livres:?}");

    app.post(
        "/consultas",
        &consulta_body(&pid, &sem, &at(seg, "08:45"), &at(seg, "09:30")),
    )
    .await
    .expect_status(201);
    let ev = eventos(&mut rx);
    assert!(ev.iter().any(|e| e["tipo"] == "horario_ocupado"), "{ev:#?}");
    assert!(!grade_mudou(&ev, &sem), "without a buffer: {ev:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_hides_its_slots_refuses_holds_and_bookings_and_deleting_it_gives_them_back() {
    let app = TestApp::new().await;
    let pid = app.paciente(7020).await;
    let outro = app.paciente(7021).await;
    let mid = app.medico(7020, &[("segunda", "08:00", "12:00")]).await;
    let vizinho = app.medico(7021, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let c = app
        .post(
            "/consultas",
            &consulta_body(&pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")),
        )
        .await;
    c.expect_status(201);
    let cid = c.id();
    let (_, mut rx) = app.state.events.subscribe(None);

    let r = app
        .post(
            "/bloqueios",
            &json!({"medico_id": mid, "inicio": at(seg, "08:30"), "fim": at(seg, "10:00"), "motivo": "Congresso"}),
        )
        .await;
    r.expect_status(201);
    assert_eq!(r.body["consultas_afetadas"], json!([cid]), "{}", r.text);
    assert_eq!(r.body["motivo"], "Congresso");
    assert_eq!(r.body["medico_id"], json!(mid));
    let bid = r.id();
    let ev = eventos(&mut rx);
    assert!(
        ev.iter()
            .any(|e| e["tipo"] == "horario_atualizado" && e["dados"]["medico_id"] == json!(mid)),
        "{ev:?}"
    );
    assert!(
        !ev.iter().any(|e| e["dados"]["medico_id"] == json!(vizinho)),
        "only the doctor concerned: {ev:?}"
    );

    let listados: Vec<String> = slots_do_dia(&app, &mid, seg)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    for h in ["08:30", "09:00", "09:30"] {
        assert!(
            !listados.contains(&at(seg, h)),
            "{h} is blocked: {listados:?}"
        );
    }
    for h in ["08:00", "10:00", "11:30"] {
        assert!(listados.contains(&at(seg, h)), "{h} is free: {listados:?}");
    }
    assert_eq!(
        slots_do_dia(&app, &vizinho, seg).await.len(),
        8,
        "another doctor keeps every slot"
    );

    app.post(
        "/agenda/reservar",
        &json!({"medico_id": mid, "slot": at(seg, "09:30")}),
    )
    .await
    .expect_problem(422, "horario_bloqueado");
    let agendar = app
        .post(
            "/consultas/agendar",
            &consulta_body(&outro, &mid, &at(seg, "08:00"), &at(seg, "09:00")),
        )
        .await;
    agendar.expect_problem(422, "horario_bloqueado");
    assert!(
        agendar.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("Congresso"),
        "{}",
        agendar.text
    );
    // The appointment inside it stays.
    assert_eq!(
        app.get(&format!("/consultas/{cid}")).await.body["status"],
        "agendada"
    );
    assert_eq!(
        app.get(&format!("/bloqueios/{bid}")).await.body["id"],
        json!(bid)
    );

    app.delete(&format!("/bloqueios/{bid}"))
        .await
        .expect_status(204);
    let ev = eventos(&mut rx);
    assert!(
        ev.iter()
            .any(|e| e["tipo"] == "horario_atualizado" && e["dados"]["medico_id"] == json!(mid)),
        "{ev:?}"
    );
    assert_eq!(app.slot_state(&mid, &at(seg, "09:30")).await, "disponivel");
    assert_eq!(app.slot_state(&mid, &at(seg, "08:30")).await, "disponivel");
    app.get(&format!("/bloqueios/{bid}"))
        .await
        .expect_problem(404, "not_found");
    app.delete(&format!("/bloqueios/{bid}"))
        .await
        .expect_problem(404, "not_found");
    app.post(
        "/agenda/reservar",
        &json!({"medico_id": mid, "slot": at(seg, "09:30")}),
    )
    .await
    .expect_status(200);
}

#[tokio::test]
async fn a_whole_clinic_block_covers_every_doctor_and_lists_filter_by_doctor_and_dates() {
    let app = TestApp::new().await;
    let a = app.medico(7030, &[("segunda", "08:00", "12:00")]).await;
    let b = app.medico(7031, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let (_, mut rx) = app.state.events.subscribe(None);
    let clinica = app
        .post(
            "/bloqueios",
            &json!({"inicio": at(seg, "00:00"), "fim": at(plus_days(seg, 1), "00:00"), "motivo": "Dedetização"}),
        )
        .await;
    clinica.expect_status(201);
    assert!(clinica.body["medico_id"].is_null(), "{}", clinica.text);
    let ev = eventos(&mut rx);
    for m in [&a, &b] {
        assert!(
            ev.iter()
                .any(|e| e["tipo"] == "horario_atualizado" && e["dados"]["medico_id"] == json!(m)),
            "{ev:?}"
        );
        assert!(slots_do_dia(&app, m, seg).await.is_empty());
    }
    let proprio = app
        .post(
            "/bloqueios",
            &json!({"medico_id": a, "inicio": at(plus_days(seg, 7), "08:00"), "fim": at(plus_days(seg, 7), "09:00"), "motivo": "Consulta médica"}),
        )
        .await;
    proprio.expect_status(201);
    assert_eq!(proprio.body["consultas_afetadas"], json!([]));

    assert_eq!(app.count("/bloqueios").await, 2);
    assert_eq!(app.count(&format!("/bloqueios?medico_id={a}")).await, 2);
    assert_eq!(app.count(&format!("/bloqueios?medico_id={b}")).await, 1);
    assert_eq!(
        app.count(&format!("/bloqueios?de={}", plus_days(seg, 1)))
            .await,
        1
    );
    assert_eq!(app.count(&format!("/bloqueios?ate={seg}")).await, 1);
    let todos = app.get("/bloqueios").await;
    assert_eq!(todos.array()[0]["id"], clinica.body["id"], "by start");
    app.get("/bloqueios?de=ontem")
        .await
        .expect_problem(422, "validation_failed");
    app.get(&format!("/bloqueios?de={}&ate={seg}", plus_days(seg, 1)))
        .await
        .expect_problem(422, "validation_failed");
    app.get("/bloqueios?medico_id=nao-existe")
        .await
        .expect_problem(404, "not_found");
}

#[tokio::test]
async fn bad_blocks_are_problems_and_change_nothing() {
    let app = TestApp::new().await;
    let mid = app.medico(7040, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let ok = json!({"medico_id": mid, "inicio": at(seg, "08:00"), "fim": at(seg, "09:00"), "motivo": "Folga"});
    let mut casos: Vec<(Value, &str)> = Vec::new();
    let mut with = |k: &str, v: Value, campo: &'static str| {
        let mut b = ok.clone();
        b[k] = v;
        casos.push((b, campo));
    };
    with("fim", json!(at(seg, "08:00")), "fim");
    with("fim", json!(at(plus_days(seg, 400), "08:00")), "fim");
    with("inicio", json!("amanhã"), "inicio");
    with("motivo", json!("   "), "motivo");
    with("motivo", json!("x".repeat(201)), "motivo");
    with("medico_id", json!("nao-existe"), "medico_id");
    with("medico_id", json!(""), "medico_id");
    for (body, campo) in casos {
        let r = app.post("/bloqueios", &body).await;
        r.expect_problem(422, "validation_failed");
        assert_eq!(campos(&r.body), [campo], "{}", r.text);
    }
    for (body, why) in [
        (
            json!({"medico_id": mid, "inicio": 5, "fim": at(seg, "09:00"), "motivo": "x"}),
            "wrong type",
        ),
        (
            json!({"inicio": at(seg, "08:00"), "fim": at(seg, "09:00")}),
            "missing motivo",
        ),
        (
            json!({"inicio": at(seg, "08:00"), "fim": at(seg, "09:00"), "motivo": "x", "extra": 1}),
            "unknown field",
        ),
        (json!([1, 2]), "not an object"),
    ] {
        let r = app.post("/bloqueios", &body).await;
        assert!(
            matches!(r.status, 400 | 422) && r.header("content-type") == "application/problem+json",
            "[{why}] {} {}",
            r.status,
            r.text
        );
    }
    let r = app
        .post_raw("/bloqueios", "application/json", "{\"inicio\":")
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.header("content-type"), "application/problem+json");
    assert_eq!(app.count("/bloqueios").await, 0);
}

/// Brazil's national holidays, 2024–2030, from the calendar (Easter: 2024-03-31,
/// 2025-04-20, 2026-04-05, 2027-03-28, 2028-04-16, 2029-04-01, 2030-04-21; Good Friday two
/// days before).
const NACIONAIS: &[(i16, &[&str])] = &[
    (
        2024,
        &[
            "01-01", "03-29", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20",
            "12-25",
        ],
    ),
    (
        2025,
        &[
            "01-01", "04-18", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20",
            "12-25",
        ],
    ),
    (
        2026,
        &[
            "01-01", "04-03", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20",
            "12-25",
        ],
    ),
    (
        2027,
        &[
            "01-01", "03-26", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20",
            "12-25",
        ],
    ),
    (
        2028,
        &[
            "01-01", "04-14", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20",
            "12-25",
        ],
    ),
    (
        2029,
        &[
            "01-01", "03-30", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20",
            "12-25",
        ],
    ),
    (
        2030,
        &[
            "01-01", "04-19", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20",
            "12-25",
        ],
    ),
];

fn datas(body: &Value) -> Vec<String> {
    body.as_array()
        .expect("array")
        .iter()
        .map(|b| {
            let ini = b["inicio"].as_str().expect("inicio");
            assert!(ini.ends_with("T00:00:00"), "a whole day: {b}");
            assert!(b["medico_id"].is_null(), "whole clinic: {b}");
            ini[5..10].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_national_holidays_of_2024_to_2030_match_the_calendar_and_the_import_is_idempotent() {
    let app = TestApp::new().await;
    for (ano, esperado) in NACIONAIS {
        let r = app
            .post("/bloqueios/feriados", &json!({ "ano": ano }))
            .await;
        r.expect_status(201);
        assert_eq!(datas(&r.body), *esperado, "{ano}: {}", r.text);
        for b in r.array() {
            let fim = b["fim"].as_str().expect("fim");
            assert!(fim.ends_with("T00:00:00"), "{b}");
        }
    }
    let total = app.count("/bloqueios?limit=5000").await;
    assert_eq!(total, 70);
    // 2026.0 is an integer to JSON Schema: the same year.
    let r = app
        .post("/bloqueios/feriados", &json!({"ano": 2026.0}))
        .await;
    r.expect_status(201);
    assert_eq!(datas(&r.body), NACIONAIS[2].1);

    // Twice: nothing new, the same answer.
    let again = app.post("/bloqueios/feriados", &json!({"ano": 2026})).await;
    again.expect_status(201);
    assert_eq!(datas(&again.body), NACIONAIS[2].1);
    assert_eq!(app.count("/bloqueios?limit=5000").await, total);

    // With the optional days: Carnival Monday and Tuesday (Easter − 48, − 47) and Corpus
    // Christi (Easter + 60); 2026: Easter 04-05.
    let opc = app
        .post(
            "/bloqueios/feriados",
            &json!({"ano": 2026, "incluir_pontos_facultativos": true}),
        )
        .await;
    opc.expect_status(201);
    let got: BTreeSet<String> = datas(&opc.body).into_iter().collect();
    let mut want: BTreeSet<String> = NACIONAIS[2].1.iter().map(|s| (*s).to_owned()).collect();
    want.extend(["02-16", "02-17", "06-04"].map(str::to_owned));
    assert_eq!(got, want);
    assert_eq!(app.count("/bloqueios?limit=5000").await, total + 3);

    // A holiday hides the day's slots.
    let mid = app.medico(7050, &[("segunda", "08:00", "12:00")]).await;
    let r = app
        .get(&format!(
            "/agenda/slots?medico_id={mid}&de=2026-02-16&days=1"
        ))
        .await;
    r.expect_status(200);
    assert_eq!(r.body[&mid], json!({}), "{}", r.text);
}

#[tokio::test]
async fn a_bad_holiday_year_is_a_problem() {
    let app = TestApp::new().await;
    for (body, status) in [
        (json!({"ano": 1899}), 422),
        (json!({"ano": 2201}), 422),
        (json!({"ano": 70000}), 422),
        (json!({"ano": "2026"}), 0),
        (json!({"ano": 2026.5}), 0),
        (json!({}), 0),
        (
            json!({"ano": 2026, "incluir_pontos_facultativos": "sim"}),
            0,
        ),
    ] {
        let r = app.post("/bloqueios/feriados", &body).await;
        assert!(
            (status == 0 && matches!(r.status, 400 | 422)) || r.status == status,
            "{body}: {} {}",
            r.status,
            r.text
        );
        assert_eq!(
            r.header("content-type"),
            "application/problem+json",
            "{body}"
        );
    }
    assert_eq!(app.count("/bloqueios").await, 0);
}

/// A block written while 40 bookings race for its slots (and the worker decides them):
/// afterwards the appointments inside the block are exactly those the block's answer named
/// as already there (`consultas_afetadas`): none was created after the block's write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_written_during_racing_bookings_lets_no_booking_into_it_afterwards() {
    let app = TestApp::new().await;
    let mid = app.medico(7060, &[("segunda", "08:00", "18:00")]).await;
    let seg = monday(1);
    let mut pacientes = Vec::new();
    for i in 0..40 {
        pacientes.push(app.paciente(7100 + i).await);
    }
    let horas: Vec<String> = (0..20)
        .map(|i| format!("{:02}:{:02}", 8 + i / 2, (i % 2) * 30))
        .collect();
    let app = std::sync::Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, pid) in pacientes.iter().enumerate() {
        let app = app.clone();
        let (pid, mid) = (pid.clone(), mid.clone());
        let h = horas[i % horas.len()].clone();
        tasks.spawn(async move {
            let ini = at(seg, &h);
            let fim = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", &ini)
                .expect("dt")
                .checked_add(jiff::SignedDuration::from_mins(30))
                .expect("fim")
                .to_string();
            let r = app
                .post("/consultas/agendar", &consulta_body(&pid, &mid, &ini, &fim))
                .await;
            assert!(
                matches!(r.status, 202 | 409 | 422),
                "{} {}",
                r.status,
                r.text
            );
            None
        });
    }
    // The worker steps while the bookings arrive.
    {
        let app = app.clone();
        tasks.spawn(async move {
            for _ in 0..20 {
                app.run_tasks().await;
                tokio::task::yield_now().await;
            }
            None
        });
    }
    let bloqueio = {
        let app = app.clone();
        let mid = mid.clone();
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            let r = app
                .post(
                    "/bloqueios",
                    &json!({"medico_id": mid, "inicio": at(seg, "09:00"), "fim": at(seg, "13:00"), "motivo": "Reunião"}),
                )
                .await;
            r.expect_status(201);
            r.body
        })
    };
    while let Some(r) = tasks.join_next().await {
        let _: Option<()> = r.expect("booking task");
    }
    let b = bloqueio.await.expect("block");
    // Whatever is still queued is decided now, after the block.
    app.run_tasks().await;
    let afetadas: BTreeSet<String> = b["consultas_afetadas"]
        .as_array()
        .expect("afetadas")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    let consultas = app.get("/consultas?limit=5000").await;
    let dentro: BTreeSet<String> = consultas
        .array()
        .iter()
        .filter(|c| {
            let ini = c["inicio"].as_str().expect("inicio");
            ini >= at(seg, "09:00").as_str() && ini < at(seg, "13:00").as_str()
        })
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        dentro, afetadas,
        "appointments inside the block vs the block's answer"
    );
    // Every task is final; those refused after the block say why.
    let tarefas = app.get("/sistema/tasks?limit=5000").await;
    for t in tarefas.array() {
        assert!(
            matches!(t["status"].as_str(), Some("concluida" | "falhou")),
            "{t}"
        );
        if t["status"] == "falhou" {
            assert!(
                matches!(
                    t["erro"]["code"].as_str(),
                    Some("horario_bloqueado" | "horario_ocupado")
                ),
                "{t}"
            );
        }
    }
}

#[tokio::test]
async fn block_writes_leave_audit_entries() {
    let app = TestApp::new().await;
    let mid = app.medico(7070, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let r = app
        .post(
            "/bloqueios",
            &json!({"medico_id": mid, "inicio": at(seg, "08:00"), "fim": at(seg, "09:00"), "motivo": "Folga"}),
        )
        .await;
    r.expect_status(201);
    let id = r.id();
    app.delete(&format!("/bloqueios/{id}"))
        .await
        .expect_status(204);
    app.post("/bloqueios/feriados", &json!({"ano": 2027}))
        .await
        .expect_status(201);
    let trilha = app
        .get(&format!(
            "/sistema/auditoria?recurso=bloqueios&recurso_id={id}"
        ))
        .await;
    trilha.expect_status(200);
    let acoes: BTreeSet<String> = trilha
        .array()
        .iter()
        .map(|e| e["acao"].as_str().expect("acao").to_owned())
        .collect();
    assert_eq!(
        acoes,
        BTreeSet::from(["criar".to_owned(), "excluir".to_owned()]),
        "{}",
        trilha.text
    );
    let feriados = app
        .get("/sistema/auditoria?recurso=bloqueios&acao=criar")
        .await;
    assert_eq!(
        feriados.array().len(),
        2,
        "one entry per write: {}",
        feriados.text
    );
}

/// Changing a doctor's slot length or buffer changes every slot of their grid (SPEC-2 §11):
/// the change publishes `horario_atualizado` so open agendas read it again; a change of
/// anything else (their phone) publishes nothing.
#[tokio::test]
async fn changing_a_doctors_slot_length_or_buffer_says_the_grid_changed() {
    let app = TestApp::new().await;
    let m = medico_grade(&app, 7030, 30, 0).await;
    let grade_mudou = |ev: &[Value]| {
        ev.iter()
            .any(|e| e["tipo"] == "horario_atualizado" && e["dados"]["medico_id"] == m)
    };
    let (_, mut rx) = app.state.events.subscribe(None);
    for (corpo, muda) in [
        (json!({"duracao_consulta_minutos": 45}), true),
        (json!({"intervalo_minutos": 10}), true),
        (json!({"intervalo_minutos": 10}), false),
        (json!({"telefone": "(11) 3333-4444"}), false),
    ] {
        app.put(&format!("/medicos/{m}"), &corpo)
            .await
            .expect_status(200);
        let ev = eventos(&mut rx);
        assert_eq!(grade_mudou(&ev), muda, "{corpo}: {ev:#?}");
    }
}

/// Two off-grid appointments of the front desk can share a slot: deleting or cancelling one
/// announces `horario_disponivel` only for the slots nothing else covers (SPEC §2: the event
/// says the slot is free, and `/agenda/slots` still shows the shared one `ocupado`).
#[tokio::test]
async fn a_slot_another_appointment_still_covers_is_not_announced_free() {
    let app = TestApp::new().await;
    let pid = app.paciente(7040).await;
    let outro = app.paciente(7041).await;
    let m = medico_grade(&app, 7040, 30, 0).await;
    let seg = monday(1);
    let a = app
        .post(
            "/consultas",
            &consulta_body(&pid, &m, &at(seg, "09:00"), &at(seg, "09:45")),
        )
        .await;
    a.expect_status(201);
    app.post(
        "/consultas",
        &consulta_body(&outro, &m, &at(seg, "09:45"), &at(seg, "10:30")),
    )
    .await
    .expect_status(201);
    let (_, mut rx) = app.state.events.subscribe(None);
    app.delete(&format!("/consultas/{}", a.id()))
        .await
        .expect_status(204);
    let livres: Vec<Value> = eventos(&mut rx)
        .into_iter()
        .filter(|e| e["tipo"] == "horario_disponivel")
        .map(|e| e["dados"]["slot"].clone())
        .collect();
    assert_eq!(livres, vec![json!(at(seg, "09:00"))], "09:30 is still B's");
    let estados = slots_do_dia(&app, &m, seg).await;
    assert!(estados.contains(&(at(seg, "09:30"), "ocupado".to_owned())));
    assert!(estados.contains(&(at(seg, "09:00"), "disponivel".to_owned())));
}
