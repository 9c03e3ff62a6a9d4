//! The waiting list (SPEC-2 §11): entries, offers of freed slots, accept, refuse, expiry,
//! the race between a cancellation, 50 bookings and an offer, roles and bad input.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agendamento::services::usuarios;
use axum::http::Method;
use serde_json::{Value, json};

use crate::common::{assert_problem, consulta_body, medico_body, paciente_body, str_field};
use crate::harness::{Resp, TestApp};
use crate::helpers::{at, criar_medico, monday, plus_days, send_all};

/// `POST /lista-espera` for `paciente_id`, with `extra` fields, over `[de, ate]`.
async fn entrada(app: &TestApp, paciente_id: &str, extra: Value, de: &str, ate: &str) -> Value {
    let mut body = json!({"paciente_id": paciente_id, "de": de, "ate": ate});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = app.post("/lista-espera", &body).await;
    r.expect_status(201);
    r.body
}

/// `POST /lista-espera/{id}/aceitar` without a body.
async fn aceitar(app: &TestApp, id: &str) -> Resp {
    app.post(&format!("/lista-espera/{id}/aceitar"), &json!({}))
        .await
}

async fn get_entrada(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/lista-espera/{id}")).await;
    r.expect_status(200);
    r.body
}

/// An appointment booked synchronously by the front desk; returns its id.
async fn consulta(app: &TestApp, p: &str, m: &str, ini: &str, fim: &str) -> String {
    let r = app.post("/consultas", &consulta_body(p, m, ini, fim)).await;
    r.expect_status(201);
    str_field(&r.body, "id")
}

async fn cancelar_consulta(app: &TestApp, id: &str) {
    app.put(&format!("/consultas/{id}"), &json!({"status": "cancelada"}))
        .await
        .expect_status(200);
}

/// The `vaga_oferecida` events published so far on `rx`.
fn ofertas(
    rx: &mut tokio::sync::broadcast::Receiver<agendamento::infra::events::Published>,
) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(p) = rx.try_recv() {
        let v: Value = serde_json::from_str(&p.data).expect("event JSON");
        if v["tipo"] == "vaga_oferecida" {
            out.push(v["dados"].clone());
        }
    }
    out
}

/// A doctor working Mondays 08:00–12:00, three patients, and the Monday a week ahead.
async fn cenario(app: &TestApp) -> (String, [String; 3], jiff::civil::Date) {
    let m = app.medico(70, &[("segunda", "08:00", "12:00")]).await;
    let p = [
        app.paciente(71).await,
        app.paciente(72).await,
        app.paciente(73).await,
    ];
    (m, p, monday(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_slot_is_held_for_the_oldest_matching_entry_and_offered() {
    let app = TestApp::new().await;
    let (m, [a, b, c], seg) = cenario(&app).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let cid = consulta(&app, &a, &m, &ini, &fim).await;
    let dia = seg.to_string();
    let eb = entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await;
    let ec = entrada(&app, &c, json!({}), &dia, &dia).await;
    assert_eq!(eb["status"], "aguardando");
    let (_, mut rx) = app.state.events.subscribe(None);

    cancelar_consulta(&app, &cid).await;

    let eb = get_entrada(&app, &str_field(&eb, "id")).await;
    assert_eq!(eb["status"], "oferecida", "{eb}");
    assert_eq!(eb["oferta"]["medico_id"], json!(m));
    assert_eq!(eb["oferta"]["slot"], json!(ini));
    assert!(eb["oferta"]["expira_em"].is_string(), "{eb}");
    assert_eq!(
        get_entrada(&app, &str_field(&ec, "id")).await["status"],
        "aguardando"
    );
    assert_eq!(app.slot_state(&m, &ini).await, "reservado");
    let ev = ofertas(&mut rx);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["lista_espera_id"], eb["id"]);
    assert_eq!(ev[0]["slot"], json!(ini));
    // An entry never holds two offers: freeing another slot goes to the next entry.
    let (i2, f2) = (at(seg, "10:00"), at(seg, "10:30"));
    let c2 = consulta(&app, &a, &m, &i2, &f2).await;
    app.delete(&format!("/consultas/{c2}"))
        .await
        .expect_status(204);
    let ec = get_entrada(&app, &str_field(&ec, "id")).await;
    assert_eq!(ec["status"], "oferecida", "{ec}");
    assert_eq!(ec["oferta"]["slot"], json!(i2));
    let eb2 = get_entrada(&app, &str_field(&eb, "id")).await;
    assert_eq!(eb2["oferta"]["slot"], json!(ini), "B keeps its one offer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_an_offer_books_the_slot_through_the_queue_and_the_entry_becomes_agendada() {
    let app = TestApp::new().await;
    let (m, [a, b, _], seg) = cenario(&app).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let cid = consulta(&app, &a, &m, &ini, &fim).await;
    let dia = seg.to_string();
    let e = entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await;
    let id = str_field(&e, "id");
    cancelar_consulta(&app, &cid).await;

    let r = aceitar(&app, &id).await;
    r.expect_status(202);
    assert_eq!(r.body["status"], "pendente");
    let task_id = str_field(&r.body, "task_id");
    // Accepted once: a second accept, a refusal or a cancellation is 409 while it books.
    let again = aceitar(&app, &id).await;
    assert_problem(&again, 409, "oferta_aceita");
    let refuse = app
        .post(&format!("/lista-espera/{id}/recusar"), &json!({}))
        .await;
    assert_problem(&refuse, 409, "oferta_aceita");
    assert_eq!(app.run_tasks().await, 1);

    let t = app.get(&format!("/sistema/tasks/{task_id}")).await;
    assert_eq!(t.body["status"], "concluida", "{}", t.text);
    let e = get_entrada(&app, &id).await;
    assert_eq!(e["status"], "agendada", "{e}");
    let consulta_id = str_field(&e, "consulta_id");
    let c = app.get(&format!("/consultas/{consulta_id}")).await;
    c.expect_status(200);
    assert_eq!(c.body["paciente_id"], json!(b));
    assert_eq!(c.body["inicio"], json!(ini));
    assert_eq!(app.slot_state(&m, &ini).await, "ocupado");
    let r = aceitar(&app, &id).await;
    assert_problem(&r, 409, "sem_oferta");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusing_keeps_the_place_passes_the_slot_on_and_never_offers_it_again() {
    let app = TestApp::new().await;
    let (m, [a, b, c], seg) = cenario(&app).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let cid = consulta(&app, &a, &m, &ini, &fim).await;
    let dia = seg.to_string();
    let eb = str_field(&entrada(&app, &b, json!({}), &dia, &dia).await, "id");
    let ec = str_field(&entrada(&app, &c, json!({}), &dia, &dia).await, "id");
    cancelar_consulta(&app, &cid).await;
    assert_eq!(get_entrada(&app, &eb).await["status"], "oferecida");

    let r = app
        .post(&format!("/lista-espera/{eb}/recusar"), &json!({}))
        .await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "aguardando", "{}", r.text);
    assert!(r.body.get("oferta").is_none(), "{}", r.text);
    assert_eq!(r.body["recusadas"][0]["slot"], json!(ini));
    let c_entry = get_entrada(&app, &ec).await;
    assert_eq!(c_entry["status"], "oferecida", "{c_entry}");
    assert_eq!(c_entry["oferta"]["slot"], json!(ini));

    // C refuses too: B refused it already, so the slot stays free.
    app.post(&format!("/lista-espera/{ec}/recusar"), &json!({}))
        .await
        .expect_status(200);
    assert_eq!(get_entrada(&app, &eb).await["status"], "aguardando");
    assert_eq!(app.slot_state(&m, &ini).await, "disponivel");
    // B keeps its place: the next freed slot goes to B (the oldest), not C.
    let (i2, f2) = (at(seg, "10:00"), at(seg, "10:30"));
    let c2 = consulta(&app, &a, &m, &i2, &f2).await;
    cancelar_consulta(&app, &c2).await;
    let b_entry = get_entrada(&app, &eb).await;
    assert_eq!(b_entry["status"], "oferecida", "{b_entry}");
    assert_eq!(b_entry["oferta"]["slot"], json!(i2));
    let r = aceitar(&app, &ec).await;
    assert_problem(&r, 409, "sem_oferta");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_left_to_expire_becomes_expirada_and_passes_the_slot_on() {
    let app = TestApp::with(|c| c.oferta_segundos = Some(1)).await;
    let (m, [a, b, c], seg) = cenario(&app).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let cid = consulta(&app, &a, &m, &ini, &fim).await;
    let dia = seg.to_string();
    let eb = str_field(&entrada(&app, &b, json!({}), &dia, &dia).await, "id");
    let ec = str_field(&entrada(&app, &c, json!({}), &dia, &dia).await, "id");
    cancelar_consulta(&app, &cid).await;
    assert_eq!(get_entrada(&app, &eb).await["status"], "oferecida");

    // The hold-expiry timer's step, run until the offer lapsed.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        agendamento::services::agenda::expire_holds(&app.state)
            .await
            .expect("expiry runs");
        if get_entrada(&app, &eb).await["status"] == "expirada" {
            break;
        }
        assert!(Instant::now() < deadline, "the offer never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c_entry = get_entrada(&app, &ec).await;
    assert_eq!(c_entry["status"], "oferecida", "{c_entry}");
    assert_eq!(c_entry["oferta"]["slot"], json!(ini));
    let r = aceitar(&app, &eb).await;
    assert_problem(&r, 409, "sem_oferta");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_follow_doctor_speciality_dates_and_the_patients_own_agenda() {
    let app = TestApp::new().await;
    let cardio = criar_medico(&app, "Dra. Cardio", 80, "Cardiologia").await;
    let cardio = str_field(&cardio, "id");
    app.post(
        &format!("/horarios/medico/{cardio}"),
        &json!({"dia_semana": "segunda", "hora_inicio": "08:00", "hora_fim": "12:00"}),
    )
    .await
    .expect_status(201);
    let outro = app.medico(81, &[("segunda", "08:00", "12:00")]).await;
    let [a, b, c, d] = [
        app.paciente(81).await,
        app.paciente(82).await,
        app.paciente(83).await,
        app.paciente(84).await,
    ];
    let seg = monday(1);
    let dia = seg.to_string();
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    // Oldest first, but: another doctor; another speciality; another week; busy then.
    let e_outro = str_field(
        &entrada(&app, &b, json!({"medico_id": outro}), &dia, &dia).await,
        "id",
    );
    let e_pediatria = str_field(
        &entrada(&app, &b, json!({"especialidade": "Pediatria"}), &dia, &dia).await,
        "id",
    );
    let depois = plus_days(seg, 7).to_string();
    let e_semana = str_field(&entrada(&app, &c, json!({}), &depois, &depois).await, "id");
    consulta(&app, &d, &outro, &ini, &fim).await;
    let e_ocupado = str_field(&entrada(&app, &d, json!({}), &dia, &dia).await, "id");
    let e_cardio = str_field(
        &entrada(
            &app,
            &c,
            json!({"especialidade": "cardiologia"}),
            &dia,
            &dia,
        )
        .await,
        "id",
    );
    let cid = consulta(&app, &a, &cardio, &ini, &fim).await;
    app.delete(&format!("/consultas/{cid}"))
        .await
        .expect_status(204);

    for id in [&e_outro, &e_pediatria, &e_semana, &e_ocupado] {
        assert_eq!(get_entrada(&app, id).await["status"], "aguardando", "{id}");
    }
    let e = get_entrada(&app, &e_cardio).await;
    assert_eq!(e["status"], "oferecida", "{e}");
    assert_eq!(e["oferta"]["medico_id"], json!(cardio));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_entry_with_an_offer_passes_the_slot_on() {
    let app = TestApp::new().await;
    let (m, [a, b, c], seg) = cenario(&app).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let cid = consulta(&app, &a, &m, &ini, &fim).await;
    let dia = seg.to_string();
    let eb = str_field(&entrada(&app, &b, json!({}), &dia, &dia).await, "id");
    let ec = str_field(&entrada(&app, &c, json!({}), &dia, &dia).await, "id");
    cancelar_consulta(&app, &cid).await;

    let r = app.delete(&format!("/lista-espera/{eb}")).await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "cancelada", "{}", r.text);
    assert_eq!(get_entrada(&app, &ec).await["status"], "oferecida");
    // Cancelling again answers the same; a list by status sees it.
    app.delete(&format!("/lista-espera/{eb}"))
        .await
        .expect_status(200);
    let l = app.get("/lista-espera?status=cancelada").await;
    l.expect_status(200);
    assert_eq!(l.array().len(), 1, "{}", l.text);
    let l = app.get(&format!("/lista-espera?paciente_id={c}")).await;
    assert_eq!(l.array().len(), 1, "{}", l.text);
    assert_eq!(l.total_count(), 1);
    let l = app.get(&format!("/lista-espera?medico_id={m}")).await;
    assert_eq!(l.array().len(), 1, "the offered one: {}", l.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_slot_raced_by_50_bookings_and_an_entry_ends_with_one_appointment() {
    let app = Arc::new(TestApp::new().await);
    let (m, [a, b, _], seg) = cenario(&app).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let cid = consulta(&app, &a, &m, &ini, &fim).await;
    let dia = seg.to_string();
    let eb = str_field(
        &entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await,
        "id",
    );
    let mut pacientes = Vec::new();
    for i in 0..50 {
        pacientes.push(app.paciente(1000 + i).await);
    }
    let mut reqs: Vec<(Method, String, Value)> = pacientes
        .iter()
        .map(|p| {
            (
                Method::POST,
                "/consultas/agendar".to_owned(),
                consulta_body(p, &m, &ini, &fim),
            )
        })
        .collect();
    reqs.insert(
        25,
        (
            Method::PUT,
            format!("/consultas/{cid}"),
            json!({"status": "cancelada"}),
        ),
    );
    let statuses = send_all(&app, reqs).await;
    assert_eq!(statuses[25], 200, "the cancellation");
    for s in statuses.iter().enumerate().filter(|(i, _)| *i != 25) {
        assert!(matches!(s.1, 202 | 409), "{statuses:?}");
    }
    app.run_tasks().await;

    let ativas = |v: &Value| -> Vec<Value> {
        v.as_array()
            .expect("list")
            .iter()
            .filter(|c| c["inicio"] == json!(ini) && c["status"] != "cancelada")
            .cloned()
            .collect()
    };
    let lista = app.get(&format!("/consultas?medico_id={m}")).await;
    let agora = ativas(&lista.body);
    let e = get_entrada(&app, &eb).await;
    let holds = app.state.store.read().reservas.len();
    match agora.len() {
        // A booking got the slot before the offer: the entry still waits, nothing is held.
        1 => {
            assert_eq!(e["status"], "aguardando", "{e}");
            assert_eq!(holds, 0, "no hold left over");
        }
        // The offer got it: every booking was refused, the slot is held once, for the entry.
        0 => {
            assert_eq!(e["status"], "oferecida", "{e}");
            assert_eq!(holds, 1, "one hold: the offer's");
            aceitar(&app, &eb).await.expect_status(202);
            app.run_tasks().await;
            let lista = app.get(&format!("/consultas?medico_id={m}")).await;
            let agora = ativas(&lista.body);
            assert_eq!(agora.len(), 1, "{}", lista.text);
            assert_eq!(agora[0]["paciente_id"], json!(b));
        }
        n => panic!("{n} active appointments in one slot: {}", lista.text),
    }
}

#[tokio::test]
async fn bad_input_and_unknown_ids_are_problems_never_5xx() {
    let app = TestApp::new().await;
    let p = app.paciente(90).await;
    let m = app.medico(90, &[("segunda", "08:00", "12:00")]).await;
    let hoje = app.state.clock.today().to_string();
    let bad = [
        (
            json!({"paciente_id": p, "de": "2026-13-01", "ate": hoje}),
            vec!["de"],
        ),
        (
            json!({"paciente_id": p, "de": hoje, "ate": "2020-01-01"}),
            vec!["ate"],
        ),
        (
            json!({"paciente_id": p, "medico_id": m, "especialidade": "Cardiologia", "de": hoje, "ate": hoje}),
            vec!["especialidade"],
        ),
        (
            json!({"paciente_id": "", "de": hoje, "ate": hoje}),
            vec!["paciente_id"],
        ),
        (
            json!({"paciente_id": p, "de": hoje, "ate": "2020-01-01"}),
            vec!["ate"],
        ),
    ];
    for (body, campos) in bad {
        let r = app.post("/lista-espera", &body).await;
        let prob = assert_problem(&r, 422, "validation_failed");
        let got = crate::common::campos(&prob);
        assert_eq!(got, campos, "{body}: {}", r.text);
    }
    // An empty or blank optional text is absent (SPEC §1): with a doctor, the entry is theirs.
    for vazio in ["", "  "] {
        let r = app
            .post(
                "/lista-espera",
                &json!({"paciente_id": p, "medico_id": m, "especialidade": vazio, "de": hoje, "ate": hoje}),
            )
            .await;
        r.expect_status(201);
        assert_eq!(r.body["especialidade"], Value::Null, "{}", r.text);
    }
    let r = app
        .post(
            "/lista-espera",
            &json!({"paciente_id": crate::common::unknown_id(), "medico_id": crate::common::unknown_id(), "de": hoje, "ate": hoje}),
        )
        .await;
    let prob = assert_problem(&r, 422, "validation_failed");
    assert_eq!(crate::common::campos(&prob), ["paciente_id", "medico_id"]);
    let r = app
        .post(
            "/lista-espera",
            &json!({"paciente_id": 5, "de": hoje, "ate": hoje}),
        )
        .await;
    assert!(matches!(r.status, 400 | 422), "{}", r.text);
    let r = app
        .post(
            "/lista-espera",
            &json!({"paciente_id": p, "de": hoje, "ate": hoje, "x": 1}),
        )
        .await;
    assert!(matches!(r.status, 400 | 422), "{}", r.text);
    let r = app
        .post_raw("/lista-espera", "application/json", "{\"paciente_id\": ")
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app.get("/lista-espera?status=talvez").await;
    assert!(matches!(r.status, 400 | 422), "{}", r.text);
    let u = crate::common::unknown_id();
    assert_problem(
        &app.get(&format!("/lista-espera/{u}")).await,
        404,
        "not_found",
    );
    assert_problem(
        &app.delete(&format!("/lista-espera/{u}")).await,
        404,
        "not_found",
    );
    for acao in ["aceitar", "recusar"] {
        let r = app
            .post(&format!("/lista-espera/{u}/{acao}"), &json!({}))
            .await;
        assert_problem(&r, 404, "not_found");
    }
    let e = entrada(&app, &p, json!({}), &hoje, &hoje).await;
    let r = app
        .post(
            &format!("/lista-espera/{}/recusar", str_field(&e, "id")),
            &json!({}),
        )
        .await;
    assert_problem(&r, 409, "sem_oferta");
}

const ADMIN_EMAIL: &str = "admin@clinica.example";
const ADMIN_SENHA: &str = "senha-do-admin";
const SENHA: &str = "senha-comum-1";

async fn token(app: &TestApp, email: &str, senha: &str) -> String {
    let r = app
        .post("/auth/login", &json!({"email": email, "senha": senha}))
        .await;
    r.expect_status(200);
    str_field(&r.body, "token")
}

async fn com(app: &TestApp, tok: &str, method: Method, uri: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {tok}");
    let mut h = vec![("authorization", auth.as_str())];
    let corpo = body.map(Value::to_string).unwrap_or_default();
    if body.is_some() {
        h.push(("content-type", "application/json"));
    }
    app.send(method, uri, &h, corpo).await
}

/// `POST uri` with `body` as the user of `tok`, expecting 201; the new record's id.
async fn criar(app: &TestApp, tok: &str, uri: &str, body: Value) -> String {
    let r = com(app, tok, Method::POST, uri, Some(&body)).await;
    r.expect_status(201);
    str_field(&r.body, "id")
}

/// Sign-in on: an administrator, the patient Paula (`eu`) with a user of her own, the
/// patient Otávio (`outro`, no user) and the doctor Marco (`m`).
struct Clinica {
    app: TestApp,
    admin: String,
    paciente: String,
    eu: String,
    outro: String,
    m: String,
}

async fn clinica() -> Clinica {
    let app = TestApp::with_args(&["--auth", "on"]).await;
    usuarios::criar_admin(&app.state, ADMIN_EMAIL, "Admin", ADMIN_SENHA.into())
        .await
        .expect("first admin");
    let admin = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let eu = criar(&app, &admin, "/pacientes", paciente_body("Paula", 1)).await;
    let outro = criar(&app, &admin, "/pacientes", paciente_body("Otávio", 2)).await;
    let m = criar(
        &app,
        &admin,
        "/medicos",
        medico_body("Dr. Marco", 1, "Clínica Geral"),
    )
    .await;
    criar(
        &app,
        &admin,
        "/usuarios",
        json!({"nome": "Paula", "email": "paciente@clinica.example", "papel": "paciente", "senha": SENHA, "paciente_id": eu}),
    )
    .await;
    let paciente = token(&app, "paciente@clinica.example", SENHA).await;
    Clinica {
        app,
        admin,
        paciente,
        eu,
        outro,
        m,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_uses_their_own_entries_and_a_doctor_reads_those_for_them() {
    let Clinica {
        app,
        admin,
        paciente,
        eu,
        outro,
        m,
    } = clinica().await;
    let m2 = criar(
        &app,
        &admin,
        "/medicos",
        medico_body("Dra. Outra", 2, "Clínica Geral"),
    )
    .await;
    criar(
        &app,
        &admin,
        "/usuarios",
        json!({"nome": "Marco", "email": "medico@clinica.example", "papel": "medico", "senha": SENHA, "medico_id": m}),
    )
    .await;
    let medico = token(&app, "medico@clinica.example", SENHA).await;
    let dia = monday(1).to_string();

    let minha = com(
        &app,
        &paciente,
        Method::POST,
        "/lista-espera",
        Some(&json!({"paciente_id": eu, "medico_id": m, "de": dia, "ate": dia})),
    )
    .await;
    minha.expect_status(201);
    let minha = str_field(&minha.body, "id");
    let r = com(
        &app,
        &paciente,
        Method::POST,
        "/lista-espera",
        Some(&json!({"paciente_id": outro, "de": dia, "ate": dia})),
    )
    .await;
    assert_problem(&r, 403, "sem_permissao");
    let alheia = com(
        &app,
        &admin,
        Method::POST,
        "/lista-espera",
        Some(&json!({"paciente_id": outro, "medico_id": m2, "de": dia, "ate": dia})),
    )
    .await;
    alheia.expect_status(201);
    let alheia = str_field(&alheia.body, "id");

    let l = com(&app, &paciente, Method::GET, "/lista-espera", None).await;
    assert_eq!(
        crate::common::ids(l.array()),
        vec![minha.as_str()],
        "{}",
        l.text
    );
    let uri = format!("/lista-espera/{alheia}");
    assert_problem(
        &com(&app, &paciente, Method::GET, &uri, None).await,
        404,
        "not_found",
    );
    assert_problem(
        &com(&app, &paciente, Method::DELETE, &uri, None).await,
        404,
        "not_found",
    );
    let l = com(&app, &medico, Method::GET, "/lista-espera", None).await;
    assert_eq!(
        crate::common::ids(l.array()),
        vec![minha.as_str()],
        "{}",
        l.text
    );
    let r = com(
        &app,
        &medico,
        Method::DELETE,
        &format!("/lista-espera/{minha}"),
        None,
    )
    .await;
    assert_problem(&r, 403, "sem_permissao");
    let r = com(
        &app,
        &paciente,
        Method::DELETE,
        &format!("/lista-espera/{minha}"),
        None,
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "cancelada");
    let l = com(&app, &admin, Method::GET, "/lista-espera", None).await;
    assert_eq!(l.array().len(), 2, "{}", l.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_booking_frees_its_slot_to_the_waiting_list() {
    let app = TestApp::new().await;
    let (m, [a, b, _], seg) = cenario(&app).await;
    let outro = app.medico(74, &[("segunda", "08:00", "12:00")]).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let dia = seg.to_string();
    let eb = str_field(
        &entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await,
        "id",
    );
    // A's booking holds the slot; then the front desk books A elsewhere at that time, so the
    // worker refuses the booking (patient_overlap) and the slot frees up.
    let r = app
        .post("/consultas/agendar", &consulta_body(&a, &m, &ini, &fim))
        .await;
    r.expect_status(202);
    consulta(&app, &a, &outro, &ini, &fim).await;
    assert_eq!(get_entrada(&app, &eb).await["status"], "aguardando");

    app.run_tasks().await;

    let t = app
        .get(&format!("/sistema/tasks/{}", str_field(&r.body, "task_id")))
        .await;
    assert_eq!(t.body["erro"]["code"], "patient_overlap", "{}", t.text);
    let e = get_entrada(&app, &eb).await;
    assert_eq!(e["status"], "oferecida", "{e}");
    assert_eq!(e["oferta"]["slot"], json!(ini));
    assert_eq!(app.slot_state(&m, &ini).await, "reservado");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_horario_offers_its_slots_and_an_accepted_offer_refused_by_the_worker_passes_on() {
    let app = TestApp::new().await;
    let m = app.medico(75, &[]).await;
    let outro = app.medico(76, &[("segunda", "08:00", "12:00")]).await;
    let [b, c] = [app.paciente(75).await, app.paciente(76).await];
    let seg = monday(1);
    let dia = seg.to_string();
    let eb = str_field(
        &entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await,
        "id",
    );
    let ec = str_field(
        &entrada(&app, &c, json!({"medico_id": m}), &dia, &dia).await,
        "id",
    );

    app.post(
        &format!("/horarios/medico/{m}"),
        &json!({"dia_semana": "segunda", "hora_inicio": "09:00", "hora_fim": "09:30"}),
    )
    .await
    .expect_status(201);

    let e = get_entrada(&app, &eb).await;
    assert_eq!(e["status"], "oferecida", "{e}");
    let slot = at(seg, "09:00");
    assert_eq!(e["oferta"]["slot"], json!(slot));
    // B accepts, but is booked elsewhere at that time before the worker runs: the booking is
    // refused, B waits again (that slot refused) and C gets the slot.
    aceitar(&app, &eb).await.expect_status(202);
    consulta(&app, &b, &outro, &slot, &at(seg, "09:30")).await;
    app.run_tasks().await;
    let e = get_entrada(&app, &eb).await;
    assert_eq!(e["status"], "aguardando", "{e}");
    assert_eq!(e["recusadas"][0]["slot"], json!(slot), "{e}");
    let c_entry = get_entrada(&app, &ec).await;
    assert_eq!(c_entry["status"], "oferecida", "{c_entry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_slot_is_not_offered_and_removing_the_block_offers_it() {
    let app = TestApp::new().await;
    let (m, [a, b, _], seg) = cenario(&app).await;
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let cid = consulta(&app, &a, &m, &ini, &fim).await;
    let dia = seg.to_string();
    let eb = entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await;
    let eb_id = str_field(&eb, "id");
    // Time off over the whole morning: the appointment stays (the desk moves it).
    let bloqueio = app
        .post(
            "/bloqueios",
            &json!({"medico_id": m, "inicio": at(seg, "08:00"), "fim": at(seg, "12:00"), "motivo": "Congresso"}),
        )
        .await;
    bloqueio.expect_status(201);
    assert_eq!(bloqueio.body["consultas_afetadas"], json!([cid]));

    // Cancelling it frees a slot inside the block: nothing is offered.
    cancelar_consulta(&app, &cid).await;
    assert_eq!(get_entrada(&app, &eb_id).await["status"], "aguardando");

    // Removing the block opens the morning: the first slot goes to the entry.
    app.delete(&format!("/bloqueios/{}", str_field(&bloqueio.body, "id")))
        .await
        .expect_status(204);
    let eb = get_entrada(&app, &eb_id).await;
    assert_eq!(eb["status"], "oferecida", "{eb}");
    assert_eq!(eb["oferta"]["slot"], json!(at(seg, "08:00")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_follows_the_doctors_own_slot_length_and_buffer() {
    let app = TestApp::new().await;
    let (m, [a, b, _], seg) = cenario(&app).await;
    app.put(
        &format!("/medicos/{m}"),
        &json!({"duracao_consulta_minutos": 60, "intervalo_minutos": 30}),
    )
    .await
    .expect_status(200);
    // 08:00 is taken (its buffer runs to 09:30); 09:30 is the next slot start? No: the
    // 60-minute grid is 08:00, 09:00, 10:00, 11:00 and 09:00 starts inside the buffer.
    consulta(&app, &a, &m, &at(seg, "08:00"), &at(seg, "09:00")).await;
    let c10 = consulta(&app, &a, &m, &at(seg, "10:00"), &at(seg, "11:00")).await;
    let dia = seg.to_string();
    let eb = entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await;

    app.delete(&format!("/consultas/{c10}"))
        .await
        .expect_status(204);

    let eb = get_entrada(&app, &str_field(&eb, "id")).await;
    assert_eq!(eb["status"], "oferecida", "{eb}");
    assert_eq!(eb["oferta"]["slot"], json!(at(seg, "10:00")), "{eb}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelar_and_remarcar_offer_the_freed_slot_for_the_clinics_offer_time() {
    let app = TestApp::new().await;
    let (m, [a, b, c], seg) = cenario(&app).await;
    app.put("/sistema/regras", &json!({"oferta_minutos": 5}))
        .await
        .expect_status(200);
    let c9 = consulta(&app, &a, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let c10 = consulta(&app, &c, &m, &at(seg, "10:00"), &at(seg, "10:30")).await;
    let dia = seg.to_string();
    let eb = entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await;
    let eb_id = str_field(&eb, "id");

    let antes = jiff::Timestamp::now();
    app.post(
        &format!("/consultas/{c9}/cancelar"),
        &json!({"motivo": "Viagem"}),
    )
    .await
    .expect_status(200);
    let eb = get_entrada(&app, &eb_id).await;
    assert_eq!(eb["status"], "oferecida", "{eb}");
    assert_eq!(eb["oferta"]["slot"], json!(at(seg, "09:00")));
    let expira: jiff::Timestamp = eb["oferta"]["expira_em"]
        .as_str()
        .expect("expira_em")
        .parse()
        .expect("an instant");
    let minutos = (expira - antes).get_seconds() as f64 / 60.0;
    assert!((4.5..=5.5).contains(&minutos), "offer of {minutos} minutes");

    // A move frees its old slot: offered to the next entry in line.
    let ec = entrada(&app, &a, json!({"medico_id": m}), &dia, &dia).await;
    app.post(
        &format!("/consultas/{c10}/remarcar"),
        &json!({"inicio": at(seg, "11:00")}),
    )
    .await
    .expect_status(200);
    let ec = get_entrada(&app, &str_field(&ec, "id")).await;
    assert_eq!(ec["status"], "oferecida", "{ec}");
    assert_eq!(ec["oferta"]["slot"], json!(at(seg, "10:00")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_offer_is_booked_for_the_doctors_own_slot_length() {
    let app = TestApp::new().await;
    let (m, [a, b, _], seg) = cenario(&app).await;
    app.put(
        &format!("/medicos/{m}"),
        &json!({"duracao_consulta_minutos": 20}),
    )
    .await
    .expect_status(200);
    let cid = consulta(&app, &a, &m, &at(seg, "09:00"), &at(seg, "09:20")).await;
    let dia = seg.to_string();
    let e = entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await;
    let id = str_field(&e, "id");
    cancelar_consulta(&app, &cid).await;
    assert_eq!(
        get_entrada(&app, &id).await["oferta"]["slot"],
        json!(at(seg, "09:00"))
    );

    aceitar(&app, &id).await.expect_status(202);
    assert_eq!(app.run_tasks().await, 1);
    let e = get_entrada(&app, &id).await;
    assert_eq!(e["status"], "agendada", "{e}");
    let r = app
        .get(&format!("/consultas?paciente_id={b}&status=agendada"))
        .await;
    r.expect_status(200);
    let c = &r.array()[0];
    assert_eq!(c["inicio"], json!(at(seg, "09:00")), "{c}");
    assert_eq!(
        c["fim"],
        json!(at(seg, "09:20")),
        "20 minutes, not the server's 30: {c}"
    );
    assert_eq!(app.slot_state(&m, &at(seg, "09:20")).await, "disponivel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_the_clinic_rules_forbid_are_not_offered_and_cannot_be_accepted() {
    let app = TestApp::new().await;
    let (m, [a, b, _], seg) = cenario(&app).await;
    let dia = seg.to_string();
    let e = entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await;
    let id = str_field(&e, "id");
    // Beyond the horizon: the freed slot is not offered.
    app.put("/sistema/regras", &json!({"horizonte_dias": 1}))
        .await
        .expect_status(200);
    let c1 = consulta(&app, &a, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;
    cancelar_consulta(&app, &c1).await;
    let e = get_entrada(&app, &id).await;
    assert_eq!(e["status"], "aguardando", "{e}");
    assert_eq!(app.slot_state(&m, &at(seg, "09:00")).await, "disponivel");

    // Offered while allowed; the rule comes back before the patient accepts: 422, and the
    // offer stays as it was.
    app.put("/sistema/regras", &json!({"horizonte_dias": null}))
        .await
        .expect_status(200);
    let c2 = consulta(&app, &a, &m, &at(seg, "10:00"), &at(seg, "10:30")).await;
    cancelar_consulta(&app, &c2).await;
    let antes = get_entrada(&app, &id).await;
    assert_eq!(antes["status"], "oferecida", "{antes}");
    app.put("/sistema/regras", &json!({"horizonte_dias": 1}))
        .await
        .expect_status(200);
    let r = aceitar(&app, &id).await;
    assert_problem(&r, 422, "fora_do_horizonte");
    assert_eq!(get_entrada(&app, &id).await, antes, "nothing changed");
    assert_eq!(app.run_tasks().await, 0, "no booking task");
}

/// A patient holds one offer at a time: with two entries of theirs first in line, two slots
/// freed together go one to them and the other to the next patient, not both to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_with_several_entries_holds_one_offer_at_a_time() {
    let app = TestApp::new().await;
    let (m, [a, b, c], seg) = cenario(&app).await;
    let dia = seg.to_string();
    let c1 = consulta(&app, &a, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let c2 = consulta(&app, &a, &m, &at(seg, "10:00"), &at(seg, "10:30")).await;
    // Patient b posts the same entry twice; c comes after.
    let b1 = str_field(&entrada(&app, &b, json!({}), &dia, &dia).await, "id");
    let b2 = str_field(&entrada(&app, &b, json!({}), &dia, &dia).await, "id");
    let c3 = str_field(&entrada(&app, &c, json!({}), &dia, &dia).await, "id");
    cancelar_consulta(&app, &c1).await;
    cancelar_consulta(&app, &c2).await;
    let estados = [
        get_entrada(&app, &b1).await["status"].clone(),
        get_entrada(&app, &b2).await["status"].clone(),
        get_entrada(&app, &c3).await["status"].clone(),
    ];
    assert_eq!(
        estados,
        [json!("oferecida"), json!("aguardando"), json!("oferecida")],
        "b's first entry and c get the two slots"
    );
    // b refuses: the slot is not offered to b's other entry (b refused it), and b, holding
    // no offer now, gets the next slot freed.
    app.post(&format!("/lista-espera/{b1}/recusar"), &json!({}))
        .await
        .expect_status(200);
    assert_eq!(get_entrada(&app, &b2).await["status"], "aguardando");
    let c4 = consulta(&app, &a, &m, &at(seg, "11:00"), &at(seg, "11:30")).await;
    cancelar_consulta(&app, &c4).await;
    let mut oferecidas = Vec::new();
    for id in [&b1, &b2] {
        oferecidas.push(get_entrada(&app, id).await["oferta"]["slot"].clone());
    }
    assert!(
        oferecidas.contains(&json!(at(seg, "11:00"))),
        "b is offered the 11:00 slot: {oferecidas:?}"
    );
}

/// SPEC-2 §10: "the holder (or staff) books it or releases it" — an offer's hold too. The
/// front desk releasing it, or booking the slot (`POST /consultas`, or `agendar`), takes the
/// offer back: the entry is `aguardando` again, keeping its place, and that slot is never
/// offered to it again; a released slot goes to the next in line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_desk_may_release_or_book_an_offered_slot_which_takes_the_offer_back() {
    let app = TestApp::new().await;
    let (m, [a, b, c], seg) = cenario(&app).await;
    let d = app.paciente(74).await;
    let dia = seg.to_string();
    let horas = ["08:00", "09:00", "10:00"];
    let mut ids = Vec::new();
    for h in horas {
        let fim = h.replace(":00", ":30");
        ids.push(consulta(&app, &a, &m, &at(seg, h), &at(seg, &fim)).await);
    }
    let eb = str_field(
        &entrada(&app, &b, json!({"medico_id": m}), &dia, &dia).await,
        "id",
    );
    let ec = str_field(&entrada(&app, &c, json!({}), &dia, &dia).await, "id");

    // Released by the front desk: the slot goes to c, b is back in line without it.
    cancelar_consulta(&app, &ids[0]).await;
    assert_eq!(get_entrada(&app, &eb).await["status"], "oferecida");
    let oito = at(seg, "08:00");
    let r = app
        .post("/agenda/liberar", &json!({"medico_id": m, "slot": oito}))
        .await;
    r.expect_status(200);
    let b_agora = get_entrada(&app, &eb).await;
    assert_eq!(b_agora["status"], "aguardando", "{b_agora}");
    assert!(b_agora["oferta"].is_null(), "{b_agora}");
    assert_eq!(b_agora["recusadas"][0]["slot"], json!(oito), "{b_agora}");
    let c_agora = get_entrada(&app, &ec).await;
    assert_eq!(c_agora["status"], "oferecida", "{c_agora}");
    assert_eq!(c_agora["oferta"]["slot"], json!(oito));

    // Booked by the front desk for someone else, synchronously or through the queue: b's
    // offer is taken back with the hold.
    for (consulta_id, hora, fim, uri, status) in [
        (&ids[1], "09:00", "09:30", "/consultas", 201),
        (&ids[2], "10:00", "10:30", "/consultas/agendar", 202),
    ] {
        cancelar_consulta(&app, consulta_id).await;
        let slot = at(seg, hora);
        assert_eq!(get_entrada(&app, &eb).await["oferta"]["slot"], json!(slot));
        app.post(uri, &consulta_body(&d, &m, &slot, &at(seg, fim)))
            .await
            .expect_status(status);
        // Taken back in the request's own write (for agendar, before the worker runs).
        let b_agora = get_entrada(&app, &eb).await;
        assert_eq!(b_agora["status"], "aguardando", "{uri}: {b_agora}");
        assert!(b_agora["oferta"].is_null(), "{uri}: {b_agora}");
        app.run_tasks().await;
        assert_eq!(app.slot_state(&m, &slot).await, "ocupado", "{uri}");
    }

    // An offer its patient accepted is theirs: staff can no longer release it.
    let onze = at(seg, "11:00");
    let c4 = consulta(&app, &a, &m, &onze, &at(seg, "11:30")).await;
    cancelar_consulta(&app, &c4).await;
    assert_eq!(get_entrada(&app, &eb).await["oferta"]["slot"], json!(onze));
    aceitar(&app, &eb).await.expect_status(202);
    let r = app
        .post("/agenda/liberar", &json!({"medico_id": m, "slot": onze}))
        .await;
    assert_problem(&r, 409, "horario_reservado");
    app.run_tasks().await;
    assert_eq!(get_entrada(&app, &eb).await["status"], "agendada");
}

/// A patient (or a doctor) is not staff: another patient's offered slot stays the entry's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_cannot_release_or_book_a_slot_offered_to_someone_else() {
    let Clinica {
        app,
        admin,
        paciente,
        eu,
        outro,
        m,
    } = clinica().await;
    let post = |uri: &'static str, body: Value| criar(&app, &admin, uri, body);
    com(
        &app,
        &admin,
        Method::POST,
        &format!("/horarios/medico/{m}"),
        Some(&json!({"dia_semana": "segunda", "hora_inicio": "08:00", "hora_fim": "12:00"})),
    )
    .await
    .expect_status(201);
    let seg = monday(1);
    let (ini, fim) = (at(seg, "09:00"), at(seg, "09:30"));
    let cid = post("/consultas", consulta_body(&eu, &m, &ini, &fim)).await;
    let dia = seg.to_string();
    let e = post(
        "/lista-espera",
        json!({"paciente_id": outro, "medico_id": m, "de": dia, "ate": dia}),
    )
    .await;
    com(
        &app,
        &admin,
        Method::POST,
        &format!("/consultas/{cid}/cancelar"),
        Some(&json!({})),
    )
    .await
    .expect_status(200);
    let status = || async {
        com(
            &app,
            &admin,
            Method::GET,
            &format!("/lista-espera/{e}"),
            None,
        )
        .await
        .body["status"]
            .clone()
    };
    assert_eq!(status().await, "oferecida");
    let r = com(
        &app,
        &paciente,
        Method::POST,
        "/agenda/liberar",
        Some(&json!({"medico_id": m, "slot": ini})),
    )
    .await;
    assert_problem(&r, 409, "horario_reservado");
    let r = com(
        &app,
        &paciente,
        Method::POST,
        "/consultas/agendar",
        Some(&consulta_body(&eu, &m, &ini, &fim)),
    )
    .await;
    assert_problem(&r, 409, "horario_reservado");
    assert_eq!(status().await, "oferecida", "still the entry's");
}
