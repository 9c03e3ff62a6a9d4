//! The outbox, webhooks and reminders (SPEC-2 §13) through the production router, with the
//! real delivery worker and a real HTTP receiver on 127.0.0.1 that checks every signature
//! with the independent `standardwebhooks` crate.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{assert_problem, consulta_body, str_field};
use crate::harness::TestApp;
use crate::helpers::{at, monday};
use crate::receptor::Receptor;

/// The fast retry schedule of these tests: three retries a second apart, four attempts.
const RAPIDO: &[&str] = &[
    "--webhooks-rede-local",
    "--webhook-atrasos-segundos",
    "1,1,1",
];

/// An application with its delivery worker running.
async fn app_com_entregas(args: &[&str]) -> TestApp {
    let app = TestApp::with_args(args).await;
    tokio::spawn(agendamento::services::notificacoes::entregar_sempre(
        app.state.clone(),
    ));
    app
}

/// `POST /webhooks` to the receiver for `eventos`; returns its id and tells the receiver
/// its secret.
async fn webhook(app: &TestApp, r: &Receptor, eventos: &[&str]) -> String {
    let resp = app
        .post("/webhooks", &json!({"url": r.url(), "eventos": eventos}))
        .await;
    resp.expect_status(201);
    r.segredo(&str_field(&resp.body, "segredo"));
    str_field(&resp.body, "id")
}

async fn notificacoes(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/notificacoes?{query}")).await;
    r.expect_status(200);
    r.body.as_array().cloned().unwrap_or_default()
}

/// Polls `GET /notificacoes?query` until `ok` holds.
async fn esperar(app: &TestApp, query: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let fim = Instant::now() + Duration::from_secs(30);
    loop {
        let v = notificacoes(app, query).await;
        if ok(&v) {
            return v;
        }
        assert!(
            Instant::now() < fim,
            "notifications never satisfied the condition: {v:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A patient and a doctor working every weekday 08:00–18:00.
async fn cenario(app: &TestApp) -> (String, String) {
    let dias = ["segunda", "terca", "quarta", "quinta", "sexta"];
    let h: Vec<(&str, &str, &str)> = dias.iter().map(|d| (*d, "08:00", "18:00")).collect();
    let m = app.medico(90, &h).await;
    let p = app.paciente(91).await;
    (p, m)
}

async fn consulta(app: &TestApp, p: &str, m: &str, ini: &str, fim: &str) -> String {
    let r = app.post("/consultas", &consulta_body(p, m, ini, fim)).await;
    r.expect_status(201);
    str_field(&r.body, "id")
}

/// The journal entries (one per durable write), each as its list of operations.
fn journal(app: &TestApp) -> Vec<Vec<Value>> {
    let text =
        std::fs::read_to_string(app.dir.path().join("banco/journal.jsonl")).expect("journal");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("journal line");
            v["ops"].as_array().cloned().unwrap_or_default()
        })
        .collect()
}

/// How many journal entries record a delivery (`enviada`).
fn escritas_de_entregas(app: &TestApp) -> usize {
    journal(app)
        .iter()
        .filter(|ops| {
            ops.iter()
                .any(|o| o["op"] == "put_notificacao" && o["dados"]["status"] == "enviada")
        })
        .count()
}

/// Books the half hour from `h`:00 on the Monday a week ahead.
async fn na_hora(app: &TestApp, p: &str, m: &str, h: usize) -> String {
    consulta(
        app,
        p,
        m,
        &at(monday(1), &format!("{h:02}:00")),
        &at(monday(1), &format!("{h:02}:30")),
    )
    .await
}

/// Asserts that the journal entry creating `evento`'s notification about record `id` (an
/// appointment, or with `espera` a waiting-list entry) also holds the change of that record.
fn na_mesma_escrita(app: &TestApp, evento: &str, id: &str, espera: bool) {
    let (campo, op) = if espera {
        ("lista_espera_id", "put_espera")
    } else {
        ("consulta_id", "put_consulta")
    };
    let entradas = journal(app);
    let entrada = entradas
        .iter()
        .find(|ops| {
            ops.iter().any(|o| {
                o["op"] == "put_notificacao"
                    && o["dados"]["evento"] == evento
                    && o["dados"]["status"] == "pendente"
                    && o["dados"]["tentativas"] == 0
                    && o["dados"][campo] == id
            })
        })
        .unwrap_or_else(|| panic!("no journal entry creates {evento} for {id}"));
    assert!(
        entrada
            .iter()
            .any(|o| o["op"] == op && o["dados"]["id"] == id),
        "{evento} was journaled without the change of {id}: {entrada:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_validate_their_input_and_show_the_secret_only_once() {
    let app = TestApp::with_args(&[]).await;
    let r = app
        .post(
            "/webhooks",
            &json!({"url": "https://exemplo.com/gancho", "eventos": ["consulta.agendada"]}),
        )
        .await;
    r.expect_status(201);
    let segredo = str_field(&r.body, "segredo");
    assert!(segredo.starts_with("whsec_"), "{segredo}");
    assert_eq!(r.body["ativo"], true);
    let id = str_field(&r.body, "id");

    let one = app.get(&format!("/webhooks/{id}")).await;
    one.expect_status(200);
    assert!(one.body.get("segredo").is_none(), "{}", one.text);
    let list = app.get("/webhooks").await;
    list.expect_status(200);
    assert_eq!(list.header("x-total-count"), "1");
    assert!(!list.text.contains(&segredo), "{}", list.text);

    let put = app
        .put(&format!("/webhooks/{id}"), &json!({"ativo": false}))
        .await;
    put.expect_status(200);
    assert_eq!(put.body["ativo"], false);
    assert_eq!(put.body["url"], "https://exemplo.com/gancho");
    assert_eq!(put.body["eventos"], json!(["consulta.agendada"]));

    for (body, campo) in [
        (
            json!({"url": "ftp://exemplo.com/x", "eventos": ["consulta.agendada"]}),
            "url",
        ),
        (
            json!({"url": "https://u:s@exemplo.com/", "eventos": ["consulta.agendada"]}),
            "url",
        ),
        (
            json!({"url": "nada", "eventos": ["consulta.agendada"]}),
            "url",
        ),
        (
            json!({"url": "https://exemplo.com/", "eventos": []}),
            "eventos",
        ),
        (
            json!({"url": "https://exemplo.com/", "eventos": ["consulta.inventada"]}),
            "eventos",
        ),
    ] {
        let r = app.post("/webhooks", &body).await;
        assert_problem(&r, 422, "validation_failed");
        assert!(r.text.contains(campo), "{}", r.text);
    }
    let r = app
        .put(&format!("/webhooks/{id}"), &json!({"eventos": []}))
        .await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(
        app.count("/webhooks").await,
        1,
        "a refused request changes nothing"
    );

    // The administrators' writes are audited like the others.
    let trilha = app.get("/sistema/auditoria?recurso=webhooks").await;
    trilha.expect_status(200);
    assert_eq!(
        trilha.body.as_array().map(Vec::len),
        Some(2),
        "{}",
        trilha.text
    );

    app.delete(&format!("/webhooks/{id}"))
        .await
        .expect_status(204);
    app.get(&format!("/webhooks/{id}")).await.expect_status(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_writes_its_notification_in_the_same_write_as_the_change() {
    let app = TestApp::with_args(RAPIDO).await;
    let r = Receptor::iniciar().await;
    let todos = [
        "consulta.agendada",
        "consulta.confirmada",
        "consulta.remarcada",
        "consulta.cancelada",
        "consulta.faltou",
        "lista_espera.vaga_oferecida",
    ];
    webhook(&app, &r, &todos).await;
    let (p, m) = cenario(&app).await;
    let seg = monday(1);

    // The front desk's POST /consultas, then confirm, move, cancel.
    let c1 = consulta(&app, &p, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;
    na_mesma_escrita(&app, "consulta.agendada", &c1, false);
    app.put(
        &format!("/consultas/{c1}"),
        &json!({"status": "confirmada"}),
    )
    .await
    .expect_status(200);
    na_mesma_escrita(&app, "consulta.confirmada", &c1, false);
    app.post(
        &format!("/consultas/{c1}/remarcar"),
        &json!({"inicio": at(seg, "10:00")}),
    )
    .await
    .expect_status(200);
    na_mesma_escrita(&app, "consulta.remarcada", &c1, false);

    // A waiting-list entry for that doctor and day: the cancellation offers it the slot.
    let dia = seg.to_string();
    let outro = app.paciente(92).await;
    let e = app
        .post(
            "/lista-espera",
            &json!({"paciente_id": outro, "medico_id": m, "de": dia, "ate": dia}),
        )
        .await;
    e.expect_status(201);
    let eid = str_field(&e.body, "id");
    app.post(
        &format!("/consultas/{c1}/cancelar"),
        &json!({"motivo": "viagem"}),
    )
    .await
    .expect_status(200);
    na_mesma_escrita(&app, "consulta.cancelada", &c1, false);
    na_mesma_escrita(&app, "lista_espera.vaga_oferecida", &eid, true);

    // A no-show, and a booking through the task queue.
    let c2 = consulta(&app, &p, &m, &at(seg, "14:00"), &at(seg, "14:30")).await;
    app.put(&format!("/consultas/{c2}"), &json!({"status": "faltou"}))
        .await
        .expect_status(200);
    na_mesma_escrita(&app, "consulta.faltou", &c2, false);
    let t = app
        .post(
            "/consultas/agendar",
            &consulta_body(&p, &m, &at(seg, "15:00"), &at(seg, "15:30")),
        )
        .await;
    t.expect_status(202);
    app.run_tasks().await;
    let c3 = app
        .get(&format!("/sistema/tasks/{}", str_field(&t.body, "task_id")))
        .await;
    let c3 = str_field(&c3.body["resultado"]["consulta"], "id");
    na_mesma_escrita(&app, "consulta.agendada", &c3, false);

    // One notification per event and webhook, none delivered yet (no worker here).
    let todas = notificacoes(&app, "").await;
    let eventos: Vec<&str> = todas.iter().filter_map(|n| n["evento"].as_str()).collect();
    assert_eq!(todas.len(), 8, "{eventos:?}");
    assert!(
        todas
            .iter()
            .all(|n| n["status"] == "pendente" && n["canal"] == "webhook")
    );
    assert_eq!(
        notificacoes(&app, &format!("consulta_id={c1}")).await.len(),
        4
    );
    assert_eq!(
        notificacoes(&app, "evento=consulta.agendada").await.len(),
        3
    );
    let r = app.get("/notificacoes?status=perdida").await;
    assert_problem(&r, 422, "validation_failed");
    // An empty filter is refused too, not read as "no filter" (schemathesis ST201).
    for q in ["status=", "canal=", "evento="] {
        let r = app.get(&format!("/notificacoes?{q}")).await;
        assert_problem(&r, 422, "validation_failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_with_the_same_webhook_id_until_it_accepts() {
    let app = app_com_entregas(RAPIDO).await;
    let r = Receptor::iniciar().await;
    r.roteiro(&[500, 500], 200);
    let wid = webhook(&app, &r, &["consulta.agendada"]).await;
    let (p, m) = cenario(&app).await;
    let seg = monday(1);
    let c = consulta(&app, &p, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;

    let n = esperar(&app, "evento=consulta.agendada", |v| {
        v.first().is_some_and(|n| n["status"] == "enviada")
    })
    .await;
    assert_eq!(n[0]["tentativas"], 3, "{:#?}", n[0]);
    assert_eq!(n[0]["destino"], json!(wid));
    assert!(n[0]["enviada_em"].is_string());
    let recebidas = r.recebidas();
    assert_eq!(recebidas.len(), 3, "{recebidas:#?}");
    for x in &recebidas {
        assert_eq!(
            x.id,
            str_field(&n[0], "id"),
            "the same webhook-id on every attempt"
        );
        assert!(x.valida, "standardwebhooks rejected the signature: {x:#?}");
        assert_eq!(x.tipo, "consulta.agendada");
        assert_eq!(x.corpo["data"]["consulta"]["id"], json!(c));
        assert_eq!(x.corpo["data"]["paciente"]["id"], json!(p));
        assert_eq!(x.corpo["data"]["medico"]["id"], json!(m));
        // The body's shape: only the parts this event has, the patient and doctor as the
        // receiver needs them (absent contact details as null).
        let mut partes: Vec<&String> = x.corpo["data"].as_object().expect("data").keys().collect();
        partes.sort();
        assert_eq!(partes, ["consulta", "medico", "paciente"], "{:#?}", x.corpo);
        let mut campos: Vec<&String> = x.corpo["data"]["paciente"]
            .as_object()
            .expect("paciente")
            .keys()
            .collect();
        campos.sort();
        assert_eq!(campos, ["email", "id", "nome", "telefone"]);
        assert!(x.corpo["data"]["medico"]["especialidade"].is_string());
        // The appointment without the doctor's notes or the payment (health and money
        // details a messaging provider has no business receiving), with its instants.
        let consulta = x.corpo["data"]["consulta"].as_object().expect("consulta");
        for fora in ["observacoes", "pagamento"] {
            assert!(!consulta.contains_key(fora), "{fora} in {consulta:#?}");
        }
        for campo in [
            "paciente_id",
            "medico_id",
            "inicio",
            "fim",
            "status",
            "inicio_em",
            "fim_em",
        ] {
            assert!(
                consulta.contains_key(campo),
                "{campo} missing in {consulta:#?}"
            );
        }
        assert!(
            x.corpo["data"]["consulta"]["inicio_em"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{consulta:#?}"
        );
        // When the event happened (Standard Webhooks), the same on every attempt: the
        // notification's creation, not the attempt (that is the webhook-timestamp header).
        let quando: jiff::Timestamp = x.corpo["timestamp"]
            .as_str()
            .expect("timestamp")
            .parse()
            .expect("RFC 3339");
        let criada: jiff::Timestamp = str_field(&n[0], "created_at").parse().expect("created_at");
        assert_eq!(quando, criada, "{:#?}", x.corpo);
    }
}

/// Whether `ev` is a `notificacao_atualizada` of the notification `id`.
fn atualiza(ev: &agendamento::infra::events::Published, id: &Value) -> bool {
    let v: Value = serde_json::from_str(&ev.data).expect("event");
    v["tipo"] == "notificacao_atualizada" && v["dados"]["id"] == *id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_always_fails_ends_falhou_and_reenviar_delivers_once_it_recovers() {
    let app = app_com_entregas(RAPIDO).await;
    let r = Receptor::iniciar().await;
    r.roteiro(&[], 500);
    webhook(&app, &r, &["consulta.agendada"]).await;
    let (p, m) = cenario(&app).await;
    // Subscribed before the booking: the first attempt may come at once.
    let (_, mut rx) = app.state.events.subscribe(None);
    let seg = monday(1);
    consulta(&app, &p, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;

    let n = esperar(&app, "evento=consulta.agendada", |v| {
        v.first().is_some_and(|n| n["status"] == "falhou")
    })
    .await;
    assert_eq!(
        n[0]["tentativas"], 4,
        "three retries, four attempts: {:#?}",
        n[0]
    );
    assert_eq!(n[0]["ultimo_erro"], "HTTP 500");
    assert_eq!(r.recebidas().len(), 4);
    // Every attempt was announced to staff (published right after it is journaled, so the
    // last announcement may trail the state the listing shows by a moment).
    let mut atualizacoes = 0;
    let prazo = tokio::time::Instant::now() + Duration::from_secs(5);
    while atualizacoes < 4 {
        let Ok(Ok(ev)) = tokio::time::timeout_at(prazo, rx.recv()).await else {
            break;
        };
        atualizacoes += usize::from(atualiza(&ev, &n[0]["id"]));
    }
    while let Ok(ev) = rx.try_recv() {
        atualizacoes += usize::from(atualiza(&ev, &n[0]["id"]));
    }
    assert_eq!(atualizacoes, 4, "one announcement per attempt");

    r.roteiro(&[], 200);
    let id = str_field(&n[0], "id");
    let again = app
        .post(&format!("/notificacoes/{id}/reenviar"), &json!({}))
        .await;
    again.expect_status(202);
    assert_eq!(again.body["status"], "pendente");
    assert_eq!(again.body["tentativas"], 0);
    let n = esperar(&app, "evento=consulta.agendada", |v| {
        v.first().is_some_and(|n| n["status"] == "enviada")
    })
    .await;
    assert_eq!(n[0]["tentativas"], 1);
    let ultima = r.recebidas().pop().expect("delivered");
    assert_eq!(ultima.id, id);
    assert!(ultima.valida);
    // Delivered: a resend (SPEC-2 §13: 202) sends it again with the same webhook-id, for a
    // receiver that lost it.
    let antes = r.recebidas().len();
    let r2 = app
        .post(&format!("/notificacoes/{id}/reenviar"), &json!({}))
        .await;
    r2.expect_status(202);
    assert_eq!(r2.body["status"], "pendente");
    assert_eq!(r2.body["tentativas"], 0);
    assert!(
        r2.body.get("enviada_em").is_none_or(|v| v.is_null()),
        "{}",
        r2.text
    );
    let n = esperar(&app, "evento=consulta.agendada", |v| {
        v.first().is_some_and(|n| n["status"] == "enviada")
    })
    .await;
    assert_eq!(n[0]["tentativas"], 1);
    let recebidas = r.recebidas();
    assert_eq!(recebidas.len(), antes + 1);
    assert_eq!(recebidas.last().map(|x| x.id.as_str()), Some(id.as_str()));
    let r3 = app
        .post("/notificacoes/nao-existe/reenviar", &json!({}))
        .await;
    assert_problem(&r3, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_410_turns_the_webhook_off() {
    let app = app_com_entregas(RAPIDO).await;
    let r = Receptor::iniciar().await;
    r.roteiro(&[], 410);
    let wid = webhook(&app, &r, &["consulta.agendada"]).await;
    let (p, m) = cenario(&app).await;
    let seg = monday(1);
    consulta(&app, &p, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let n = esperar(&app, "", |v| {
        v.first().is_some_and(|n| n["status"] == "falhou")
    })
    .await;
    assert_eq!(n[0]["tentativas"], 1, "410 ends it at once");
    let w = app.get(&format!("/webhooks/{wid}")).await;
    assert_eq!(w.body["ativo"], false, "{}", w.text);
    // An inactive webhook gets nothing new.
    consulta(&app, &p, &m, &at(seg, "10:00"), &at(seg, "10:30")).await;
    assert_eq!(notificacoes(&app, "").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_receivers_are_refused_without_the_local_network_flag() {
    let app = app_com_entregas(&["--webhook-atrasos-segundos", "1"]).await;
    let r = Receptor::iniciar().await;
    // By IP literal and through a name that resolves to 127.0.0.1.
    let por_ip = webhook(&app, &r, &["consulta.agendada"]).await;
    let por_nome = app
        .post(
            "/webhooks",
            &json!({"url": format!("http://localhost:{}/gancho", r.porta()),
                    "eventos": ["consulta.agendada"]}),
        )
        .await;
    por_nome.expect_status(201);
    let (p, m) = cenario(&app).await;
    let seg = monday(1);
    consulta(&app, &p, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let n = esperar(&app, "", |v| {
        v.len() == 2 && v.iter().all(|n| n["status"] == "falhou")
    })
    .await;
    for x in &n {
        assert_eq!(x["tentativas"], 2, "a refusal counts as an attempt: {x:#?}");
        let erro = x["ultimo_erro"].as_str().unwrap_or_default();
        assert!(
            erro.contains("recusado") && erro.contains("--webhooks-rede-local"),
            "{erro}"
        );
    }
    assert!(n.iter().any(|x| x["destino"] == json!(por_ip)));
    assert!(r.recebidas().is_empty(), "nothing reached the receiver");
}

/// An appointment starting `segundos` seconds after an hour from now, in the clinic's
/// time (the front desk's POST /consultas takes any start).
fn daqui_uma_hora_e(app: &TestApp, segundos: i64) -> (String, String) {
    let tz = app.state.clock.tz().clone();
    let ini = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(3600 + segundos))
        .expect("time")
        .to_zoned(tz);
    let fim = ini
        .checked_add(jiff::SignedDuration::from_mins(30))
        .expect("time");
    let f = |z: &jiff::Zoned| z.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    (f(&ini), f(&fim))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_reminder_goes_out_once_and_past_lead_times_get_none() {
    let app = app_com_entregas(RAPIDO).await;
    app.put("/sistema/regras", &json!({"lembretes_horas": [24, 1]}))
        .await
        .expect_status(200);
    let r = Receptor::iniciar().await;
    webhook(&app, &r, &["consulta.lembrete"]).await;
    let p = app.paciente(93).await;
    let m = app.medico(94, &[]).await;
    let (ini, fim) = daqui_uma_hora_e(&app, 6);
    let c = consulta(&app, &p, &m, &ini, &fim).await;
    // 24 h before is already past: only the 1 h reminder exists, due in ~6 s.
    let n = notificacoes(&app, &format!("consulta_id={c}")).await;
    assert_eq!(n.len(), 1, "{n:#?}");
    assert_eq!(n[0]["lembrete_horas"], 1);
    assert!(n[0]["proxima_tentativa_em"].is_string());
    na_mesma_escrita(&app, "consulta.lembrete", &c, false);

    let got = r.esperar(Duration::from_secs(20), |v| !v.is_empty()).await;
    assert_eq!(got[0].tipo, "consulta.lembrete");
    assert!(got[0].valida);
    assert_eq!(got[0].corpo["data"]["lembrete_horas"], 1);
    esperar(&app, &format!("consulta_id={c}"), |v| {
        v[0]["status"] == "enviada"
    })
    .await;
    assert_eq!(r.recebidas().len(), 1, "delivered exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_re_arms_reminders_and_cancelling_removes_them() {
    let app = TestApp::with_args(RAPIDO).await;
    let r = Receptor::iniciar().await;
    webhook(&app, &r, &["consulta.lembrete"]).await;
    let (p, m) = cenario(&app).await;
    let seg = monday(2);
    let c = consulta(&app, &p, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let antes = notificacoes(&app, &format!("consulta_id={c}&evento=consulta.lembrete")).await;
    assert_eq!(
        antes.len(),
        2,
        "the default lead times 24 h and 2 h: {antes:#?}"
    );

    app.put(
        &format!("/consultas/{c}"),
        &json!({"inicio": at(seg, "11:00"), "fim": at(seg, "11:30")}),
    )
    .await
    .expect_status(200);
    let depois = notificacoes(&app, &format!("consulta_id={c}&evento=consulta.lembrete")).await;
    assert_eq!(depois.len(), 2, "{depois:#?}");
    for a in &antes {
        assert!(
            depois.iter().all(|d| d["id"] != a["id"]),
            "the old reminders are gone"
        );
    }
    let horas: Vec<_> = depois.iter().map(|d| d["lembrete_horas"].clone()).collect();
    assert!(
        horas.contains(&json!(24)) && horas.contains(&json!(2)),
        "{horas:?}"
    );
    for d in &depois {
        let t: jiff::Timestamp = d["proxima_tentativa_em"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("due time");
        let inicio = seg
            .at(11, 0, 0, 0)
            .to_zoned(app.state.clock.tz().clone())
            .expect("zoned")
            .timestamp();
        let h = d["lembrete_horas"].as_i64().expect("lead");
        assert_eq!(inicio.duration_since(t).as_secs(), h * 3600, "{d:#?}");
    }

    app.post(&format!("/consultas/{c}/cancelar"), &json!({}))
        .await
        .expect_status(200);
    assert!(
        notificacoes(&app, &format!("consulta_id={c}&evento=consulta.lembrete"))
            .await
            .is_empty(),
        "cancelling removes the pending reminders"
    );
}

/// Reminders follow the clinic, not only the booking: an appointment booked before a
/// reminder webhook existed gets its reminders from housekeeping, a change of
/// `lembretes_horas` replaces the pending ones, and running it again changes nothing.
#[tokio::test]
async fn housekeeping_arms_reminders_missing_since_the_booking_and_follows_the_lead_times() {
    use agendamento::services::notificacoes::acertar_lembretes;
    let app = TestApp::with_args(RAPIDO).await;
    let (p, m) = cenario(&app).await;
    let seg = monday(2);
    let c = consulta(&app, &p, &m, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let q = format!("consulta_id={c}&evento=consulta.lembrete");
    assert!(
        notificacoes(&app, &q).await.is_empty(),
        "no destination yet"
    );
    assert_eq!(acertar_lembretes(&app.state).await.expect("write"), 0);

    let r = Receptor::iniciar().await;
    let w = webhook(&app, &r, &["consulta.lembrete"]).await;
    assert_eq!(acertar_lembretes(&app.state).await.expect("write"), 1);
    let armados = notificacoes(&app, &q).await;
    let mut horas: Vec<_> = armados
        .iter()
        .map(|n| n["lembrete_horas"].clone())
        .collect();
    horas.sort_by_key(|h| h.as_i64());
    assert_eq!(horas, vec![json!(2), json!(24)], "{armados:#?}");
    assert!(
        armados
            .iter()
            .all(|n| n["destino"] == w.as_str() && n["status"] == "pendente")
    );
    assert_eq!(
        acertar_lembretes(&app.state).await.expect("write"),
        0,
        "nothing left"
    );
    assert_eq!(notificacoes(&app, &q).await.len(), 2);

    let mut regras = app.get("/sistema/regras").await.body;
    regras["lembretes_horas"] = json!([48, 2]);
    app.put("/sistema/regras", &regras).await.expect_status(200);
    assert_eq!(acertar_lembretes(&app.state).await.expect("write"), 1);
    let depois = notificacoes(&app, &q).await;
    let mut horas: Vec<_> = depois.iter().map(|n| n["lembrete_horas"].clone()).collect();
    horas.sort_by_key(|h| h.as_i64());
    assert_eq!(horas, vec![json!(2), json!(48)], "{depois:#?}");
    let dois = |v: &[Value]| {
        v.iter()
            .find(|n| n["lembrete_horas"] == 2)
            .map(|n| n["id"].clone())
    };
    assert_eq!(
        dois(&depois),
        dois(&armados),
        "the 2 h reminder is the same one"
    );

    // A cancelled appointment is left alone.
    app.post(&format!("/consultas/{c}/cancelar"), &json!({}))
        .await
        .expect_status(200);
    assert_eq!(acertar_lembretes(&app.state).await.expect("write"), 0);
    assert!(notificacoes(&app, &q).await.is_empty());
}

/// Deliveries that end together share journal writes (the delivery worker's outcomes are
/// batched, so a burst of webhooks does not add one write and group-commit turn per
/// delivery to the bookings' journal): 32 queued notifications (as many as are in flight at
/// once) and a receiver that answers them all together once all 32 arrived; far fewer than
/// 32 entries record them; each is delivered once, `enviada` after one attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_of_deliveries_ending_together_share_journal_writes() {
    // No delivery worker yet: the notifications queue first.
    let app = TestApp::with_args(RAPIDO).await;
    let r = Receptor::iniciar().await;
    let total = agendamento::services::notificacoes::EM_VOO;
    r.reter(total);
    webhook(&app, &r, &["consulta.agendada"]).await;
    let (p, m) = cenario(&app).await;
    // Half-hour slots 08:00-18:00 (20 a day) on the Mondays one and two weeks ahead.
    for k in 0..total {
        let dia = monday(1 + i64::try_from(k / 20).expect("small"));
        let (h, min) = (8 + (k % 20) / 2, if k % 2 == 0 { "00" } else { "30" });
        let (h2, min2) = if k % 2 == 0 { (h, "30") } else { (h + 1, "00") };
        consulta(
            &app,
            &p,
            &m,
            &at(dia, &format!("{h:02}:{min}")),
            &at(dia, &format!("{h2:02}:{min2}")),
        )
        .await;
    }
    let pendentes = notificacoes(&app, "status=pendente&limit=100").await;
    assert_eq!(pendentes.len(), total);
    tokio::spawn(agendamento::services::notificacoes::entregar_sempre(
        app.state.clone(),
    ));
    let n = esperar(&app, "status=enviada&limit=100", |v| v.len() == total).await;
    assert!(n.iter().all(|x| x["tentativas"] == 1), "{n:#?}");
    let recebidas = r.recebidas();
    assert_eq!(recebidas.len(), total, "each delivered once");
    assert!(recebidas.iter().all(|x| x.valida));
    let escritas = escritas_de_entregas(&app);
    assert!(
        escritas <= total / 2,
        "{total} outcomes that ended together took {escritas} journal writes"
    );
}

/// A finished-or-not notification journaled as if created `dias_criada` days ago.
fn antiga(
    dias_criada: i64,
    status: agendamento::models::StatusNotificacao,
    enviada_dias: Option<i64>,
    lembrete_de: Option<&str>,
) -> agendamento::models::Notificacao {
    let ha = |dias: i64| {
        jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(dias * 24))
            .expect("time")
    };
    let criada = ha(dias_criada);
    // UUID v7 of the creation time, as the outbox makes them (ids sort by creation).
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        u64::try_from(criada.as_second()).expect("after 1970"),
        0,
    );
    agendamento::models::Notificacao {
        id: uuid::Uuid::new_v7(ts).to_string(),
        evento: if lembrete_de.is_some() {
            "consulta.lembrete"
        } else {
            "consulta.agendada"
        }
        .into(),
        canal: agendamento::models::Canal::Webhook,
        destino: "wh".into(),
        consulta_id: lembrete_de.map(str::to_owned),
        lista_espera_id: None,
        lembrete_horas: lembrete_de.map(|_| 24),
        status,
        tentativas: 1,
        proxima_tentativa_em: (status == agendamento::models::StatusNotificacao::Pendente)
            .then(|| ha(-30)),
        ultimo_erro: None,
        created_at: criada.to_string(),
        enviada_em: enviada_dias.map(|d| ha(d).to_string()),
        consulta: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_notifications_past_the_retention_are_forgotten_pending_and_recent_ones_stay() {
    use agendamento::models::StatusNotificacao::{Enviada, Falhou, Pendente};
    use agendamento::services::notificacoes::esquecer;
    let app = TestApp::new().await;
    let (p, m) = cenario(&app).await;
    // An appointment a month ago (the front desk records any start).
    let hoje = app.state.clock.today();
    let dia = hoje.checked_sub(jiff::Span::new().days(30)).expect("date");
    let c = consulta(&app, &p, &m, &at(dia, "09:00"), &at(dia, "09:30")).await;
    let velhas = [
        (
            "entregue há 100 dias",
            antiga(100, Enviada, Some(100), None),
        ),
        ("falhou há 100 dias", antiga(100, Falhou, None, None)),
    ];
    let ficam = [
        (
            "pendente criada há 100 dias",
            antiga(100, Pendente, None, None),
        ),
        (
            "criada há 100 dias, entregue há 10",
            antiga(100, Enviada, Some(10), None),
        ),
        (
            "lembrete de uma consulta de 30 dias atrás",
            antiga(120, Enviada, Some(95), Some(&c)),
        ),
        ("entregue há 89 dias", antiga(89, Enviada, Some(89), None)),
    ];
    let ops: Vec<_> = velhas
        .iter()
        .chain(&ficam)
        .map(|(_, n)| agendamento::repositories::Op::PutNotificacao(std::sync::Arc::new(n.clone())))
        .collect();
    app.state.write(|_| Ok((ops, ()))).await.expect("journaled");
    let ids = |v: Vec<Value>| -> Vec<String> { v.iter().map(|n| str_field(n, "id")).collect() };
    assert_eq!(notificacoes(&app, "limit=500").await.len(), 6);

    // One write at a time, as housekeeping runs it: a batch of one, then the rest.
    assert_eq!(esquecer(&app.state, 1).await.expect("write"), 1);
    assert_eq!(esquecer(&app.state, 5_000).await.expect("write"), 1);
    assert_eq!(esquecer(&app.state, 5_000).await.expect("write"), 0);
    let restam = ids(notificacoes(&app, "limit=500").await);
    for (porque, n) in &velhas {
        assert!(!restam.contains(&n.id), "{porque}: forgotten");
    }
    for (porque, n) in &ficam {
        assert!(restam.contains(&n.id), "{porque}: kept");
    }
    assert_eq!(restam.len(), ficam.len());

    // Forgotten for good: the deletions are journaled (a restart replays them).
    let apagadas: Vec<Value> = journal(&app)
        .into_iter()
        .flatten()
        .filter(|o| o["op"] == "del_notificacao")
        .collect();
    assert_eq!(apagadas.len(), 2, "{apagadas:#?}");
}

#[test]
fn the_retention_flag_takes_seven_days_or_more() {
    use agendamento::config::Config;
    let com = |dias: &str| {
        <Config as clap::Parser>::try_parse_from(["agendamento", "--notificacoes-dias", dias])
    };
    assert_eq!(com("7").expect("7 days").notificacoes_dias, 7);
    for ruim in ["6", "0", "-1", "muitos", "36501"] {
        assert!(com(ruim).is_err(), "--notificacoes-dias {ruim} is refused");
    }
    let padrao = <Config as clap::Parser>::try_parse_from(["agendamento"]).expect("defaults");
    assert_eq!(padrao.notificacoes_dias, 90);
}

/// A receiver that answers with a body keeps its connection: each answer is read to its end
/// (up to 64 KiB), so the connection goes back to the client's pool instead of a new TCP
/// (and, for `https`, TLS) handshake per delivery. A 60 kB answer (a page, say) to each of
/// twelve deliveries one after another: at most two connections (unread, it took twelve).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_a_receiver_that_answers_a_body_reuse_the_connection() {
    let app = app_com_entregas(RAPIDO).await;
    let r = Receptor::iniciar().await;
    r.corpo(format!(
        "<html><body>{}</body></html>",
        "recebido ".repeat(6_700)
    ));
    webhook(&app, &r, &["consulta.agendada"]).await;
    let (p, m) = cenario(&app).await;
    let total = 12;
    for k in 0..total {
        na_hora(&app, &p, &m, 8 + k).await;
        r.esperar(Duration::from_secs(10), |v| v.len() == k + 1)
            .await;
    }
    esperar(&app, "status=enviada&limit=100", |v| v.len() == total).await;
    let conexoes = r.conexoes();
    assert!(
        conexoes <= 2,
        "{total} deliveries one after another took {conexoes} connections"
    );
}

/// Deliveries that end a few milliseconds apart (bookings one after another, each delivered
/// at once) have their outcomes journaled in one write, not one write each: every write is
/// a turn of the group commit the bookings wait for.
#[tokio::test]
async fn outcomes_of_deliveries_ending_close_together_share_one_journal_write() {
    let app = app_com_entregas(RAPIDO).await;
    let r = Receptor::iniciar().await;
    webhook(&app, &r, &["consulta.agendada"]).await;
    let (p, m) = cenario(&app).await;
    let total = 8;
    for k in 0..total {
        na_hora(&app, &p, &m, 8 + k).await;
        // Each delivery ends on its own, a few milliseconds after the one before.
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    let enviadas = esperar(&app, "status=enviada&limit=100", |v| v.len() == total).await;
    for n in &enviadas {
        assert_eq!(n["tentativas"], 1, "{n:#?}");
    }
    let escritas = escritas_de_entregas(&app);
    // One or two windows of 50 ms on an idle machine; a loaded one may stretch the bookings
    // over a third or fourth. One write per delivery was 8.
    assert!(
        escritas <= 4,
        "{total} deliveries within a few milliseconds took {escritas} journal writes"
    );
}

/// A webhook gets only the events it subscribes to now: one taken off its `eventos` is not
/// sent, not even what was queued before the change (reminders are armed weeks ahead). The
/// dropped notification is `falhou` with the reason, no attempt counted; the rest go out.
#[tokio::test]
async fn an_event_taken_off_a_webhooks_subscription_is_no_longer_sent() {
    // No delivery worker yet: the notifications queue first.
    let app = TestApp::with_args(RAPIDO).await;
    let r = Receptor::iniciar().await;
    let w = webhook(&app, &r, &["consulta.agendada", "consulta.cancelada"]).await;
    let (p, m) = cenario(&app).await;
    let c = na_hora(&app, &p, &m, 9).await;
    app.post(&format!("/consultas/{c}/cancelar"), &json!({}))
        .await
        .expect_status(200);
    assert_eq!(notificacoes(&app, "status=pendente").await.len(), 2);
    app.put(
        &format!("/webhooks/{w}"),
        &json!({"eventos": ["consulta.agendada"]}),
    )
    .await
    .expect_status(200);
    tokio::spawn(agendamento::services::notificacoes::entregar_sempre(
        app.state.clone(),
    ));
    esperar(&app, "evento=consulta.agendada&status=enviada", |v| {
        v.len() == 1
    })
    .await;
    let falhou = esperar(&app, "evento=consulta.cancelada&status=falhou", |v| {
        v.len() == 1
    })
    .await;
    assert_eq!(falhou[0]["tentativas"], 0, "{falhou:#?}");
    assert_eq!(
        falhou[0]["ultimo_erro"], "o webhook não assina mais este evento",
        "{falhou:#?}"
    );
    let tipos: Vec<String> = r.recebidas().into_iter().map(|x| x.tipo).collect();
    assert_eq!(tipos, ["consulta.agendada"]);
}

/// A `consulta.cancelada` still pending when its appointment is deleted goes out all the
/// same (none is lost), with the appointment as it was: its receiver was down, then the front
/// desk deleted the appointment. A pending `consulta.agendada` of it is dropped instead: it
/// would announce an appointment that no longer exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_cancellation_of_a_deleted_appointment_is_still_delivered() {
    let app = app_com_entregas(RAPIDO).await;
    let r = Receptor::iniciar().await;
    r.roteiro(&[500, 500], 200);
    webhook(&app, &r, &["consulta.agendada", "consulta.cancelada"]).await;
    let (p, m) = cenario(&app).await;
    let c = na_hora(&app, &p, &m, 9).await;
    app.post(&format!("/consultas/{c}/cancelar"), &json!({}))
        .await
        .expect_status(200);
    // Both first attempts failed (500): the next are a second later.
    esperar(&app, &format!("consulta_id={c}"), |v| {
        v.len() == 2 && v.iter().all(|n| n["tentativas"] == 1)
    })
    .await;
    app.delete(&format!("/consultas/{c}"))
        .await
        .expect_status(204);
    let n = esperar(&app, &format!("consulta_id={c}"), |v| {
        v.len() == 2 && v.iter().all(|n| n["status"] != "pendente")
    })
    .await;
    let de = |evento: &str| {
        n.iter()
            .find(|x| x["evento"] == evento)
            .cloned()
            .expect("notification")
    };
    let cancelada = de("consulta.cancelada");
    assert_eq!(cancelada["status"], "enviada", "{n:#?}");
    assert_eq!(cancelada["tentativas"], 2);
    let agendada = de("consulta.agendada");
    assert_eq!(agendada["status"], "falhou", "{n:#?}");
    assert_eq!(agendada["ultimo_erro"], "a consulta foi excluída");
    let recebidas = r.recebidas();
    assert_eq!(recebidas.len(), 3, "{recebidas:#?}");
    let ultima = recebidas.last().expect("a delivery");
    assert!(ultima.valida);
    assert_eq!(ultima.tipo, "consulta.cancelada");
    assert_eq!(ultima.corpo["data"]["consulta"]["id"], json!(c));
    assert_eq!(ultima.corpo["data"]["consulta"]["status"], "cancelada");
}
