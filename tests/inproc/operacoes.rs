//! The front desk's operations (SPEC-2 §11): `cancelar`, `remarcar`, `historico`, the
//! `incluir` embeds and `/sistema/regras`, through the production router. The clinic's
//! zone is `America/Sao_Paulo` (`Config::for_tests`), not UTC.

use std::sync::Arc;

use agendamento::services::usuarios;
use axum::http::Method;
use serde_json::{Value, json};

use crate::harness::{Resp, TestApp};
use crate::helpers::{
    assert_problem, at, campos, consulta_body, criar_consulta, monday, plus_days, str_field,
    unknown_id,
};

/// Every event published so far, as `{"tipo", "dados"}`.
fn eventos(app: &TestApp) -> Vec<Value> {
    let (all, _) = app.state.events.subscribe(Some(0));
    all.iter()
        .map(|e| serde_json::from_str(&e.data).expect("event JSON"))
        .collect()
}

/// The events of type `tipo` about `slot`.
fn eventos_de(app: &TestApp, tipo: &str, slot: &str) -> Vec<Value> {
    eventos(app)
        .into_iter()
        .filter(|e| e["tipo"] == tipo && e["dados"]["slot"] == slot)
        .collect()
}

/// A doctor working Monday 08:00–12:00 and a patient; an appointment Monday 09:00–09:30.
async fn cenario(app: &TestApp, crm: u32) -> (String, String, Value) {
    let pid = app.paciente(u64::from(crm)).await;
    let mid = app.medico(crm, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let c = criar_consulta(app, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;
    (pid, mid, c)
}

async fn cancelar(app: &TestApp, id: &str, body: &Value) -> Resp {
    app.post(&format!("/consultas/{id}/cancelar"), body).await
}

async fn remarcar(app: &TestApp, id: &str, body: &Value) -> Resp {
    app.post(&format!("/consultas/{id}/remarcar"), body).await
}

async fn historico(app: &TestApp, id: &str) -> Vec<Value> {
    let r = app.get(&format!("/consultas/{id}/historico")).await;
    r.expect_status(200);
    r.array().clone()
}

fn acoes(h: &[Value]) -> Vec<String> {
    h.iter().map(|e| str_field(e, "acao")).collect()
}

#[tokio::test]
async fn cancelar_frees_the_slot_keeps_the_reason_and_records_it_in_the_history() {
    let app = TestApp::new().await;
    let (_, mid, c) = cenario(&app, 301).await;
    let id = str_field(&c, "id");
    let s = at(monday(1), "09:00");
    assert_eq!(app.slot_state(&mid, &s).await, "ocupado");

    let r = cancelar(&app, &id, &json!({"motivo": "  Paciente viajou  "})).await;

    r.expect_status(200);
    assert_eq!(r.body["id"], json!(id));
    assert_eq!(r.body["status"], "cancelada");
    assert_eq!(r.body["motivo_cancelamento"], "Paciente viajou");
    assert_eq!(app.slot_state(&mid, &s).await, "disponivel");
    let ev = eventos_de(&app, "horario_disponivel", &s);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["dados"]["motivo"], "cancelada");
    assert_eq!(ev[0]["dados"]["medico_id"], json!(mid));
    let h = historico(&app, &id).await;
    assert_eq!(acoes(&h), ["criada", "cancelada"], "{h:?}");
    assert_eq!(h[1]["motivo"], "Paciente viajou");
    assert_eq!(h[1]["de"], "agendada");
    // Stored: a GET answers the same.
    let g = app.get(&format!("/consultas/{id}")).await;
    assert_eq!(g.body["motivo_cancelamento"], "Paciente viajou");

    let again = cancelar(&app, &id, &json!({})).await;
    assert_problem(&again, 409, "already_cancelled");
    assert_eq!(
        historico(&app, &id).await.len(),
        2,
        "nothing recorded twice"
    );
}

#[tokio::test]
async fn cancelar_a_finished_appointment_is_409_and_changes_nothing() {
    let app = TestApp::new().await;
    let (_, _, c) = cenario(&app, 302).await;
    let id = str_field(&c, "id");
    app.put(&format!("/consultas/{id}"), &json!({"status": "concluida"}))
        .await
        .expect_status(200);

    let r = cancelar(&app, &id, &json!({"motivo": "tarde demais"})).await;

    assert_problem(&r, 409, "appointment_finished");
    let g = app.get(&format!("/consultas/{id}")).await;
    assert_eq!(g.body["status"], "concluida");
    assert!(g.body.get("motivo_cancelamento").is_none(), "{}", g.text);
    let h = historico(&app, &id).await;
    assert_eq!(acoes(&h), ["criada", "status"]);
    assert_eq!(
        (&h[1]["de"], &h[1]["para"]),
        (&json!("agendada"), &json!("concluida"))
    );
}

#[tokio::test]
async fn cancelar_takes_an_empty_body_and_refuses_other_media_types() {
    let app = TestApp::new().await;
    let (_, _, c) = cenario(&app, 303).await;
    let id = str_field(&c, "id");
    let path = format!("/consultas/{id}/cancelar");

    let texto = app.post_raw(&path, "text/plain", "cancela").await;
    assert_problem(&texto, 415, "unsupported_media_type");
    let vazio = app.send(Method::POST, &path, &[], "").await;

    vazio.expect_status(200);
    assert_eq!(vazio.body["status"], "cancelada");
    assert!(vazio.body.get("motivo_cancelamento").is_none());
}

#[tokio::test]
async fn remarcar_moves_the_same_appointment_keeping_its_duration_and_frees_the_old_slot() {
    let app = TestApp::new().await;
    let (_, mid, c) = cenario(&app, 304).await;
    let id = str_field(&c, "id");
    let seg = monday(1);
    let (velho, novo) = (at(seg, "09:00"), at(seg, "10:30"));

    let r = remarcar(&app, &id, &json!({"inicio": novo})).await;

    r.expect_status(200);
    assert_eq!(r.body["id"], json!(id), "the same appointment");
    assert_eq!(r.body["inicio"], json!(novo));
    assert_eq!(r.body["fim"], json!(at(seg, "11:00")), "same duration");
    assert_eq!(r.body["status"], "agendada");
    assert_eq!(app.slot_state(&mid, &velho).await, "disponivel");
    assert_eq!(app.slot_state(&mid, &novo).await, "ocupado");
    let livre = eventos_de(&app, "horario_disponivel", &velho);
    assert_eq!(livre.len(), 1, "{livre:?}");
    assert_eq!(livre[0]["dados"]["motivo"], "remarcada");
    let ocupado = eventos_de(&app, "horario_ocupado", &novo);
    assert_eq!(ocupado.len(), 1, "{ocupado:?}");
    assert_eq!(ocupado[0]["dados"]["consulta"]["id"], json!(id));
    assert_eq!(app.count("/consultas").await, 1, "moved, not copied");
    let h = historico(&app, &id).await;
    assert_eq!(acoes(&h), ["criada", "remarcada"]);
    assert_eq!((&h[1]["de"], &h[1]["para"]), (&json!(velho), &json!(novo)));

    // With an explicit end, over part of its own old time.
    let r = remarcar(
        &app,
        &id,
        &json!({"inicio": at(seg, "10:00"), "fim": at(seg, "11:00")}),
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.body["fim"], json!(at(seg, "11:00")));
    assert_eq!(app.slot_state(&mid, &at(seg, "10:00")).await, "ocupado");
    assert_eq!(app.slot_state(&mid, &at(seg, "10:30")).await, "ocupado");

    // `"fim": ""` is absent (SPEC §1): the duration (now an hour) is kept.
    let r = remarcar(&app, &id, &json!({"inicio": at(seg, "08:00"), "fim": ""})).await;
    r.expect_status(200);
    assert_eq!(r.body["fim"], json!(at(seg, "09:00")), "{}", r.text);
}

#[tokio::test]
async fn remarcar_is_checked_like_agendar_and_a_refusal_changes_nothing() {
    let app = TestApp::new().await;
    let (pid, mid, c) = cenario(&app, 305).await;
    let id = str_field(&c, "id");
    let seg = monday(1);
    // Another appointment of the doctor at 11:00, and one of the patient elsewhere at 10:00.
    let outro = app.paciente(3051).await;
    criar_consulta(&app, &outro, &mid, &at(seg, "11:00"), &at(seg, "11:30")).await;
    let m2 = app.medico(3052, &[("segunda", "08:00", "12:00")]).await;
    criar_consulta(&app, &pid, &m2, &at(seg, "10:00"), &at(seg, "10:30")).await;
    let antes = app.get(&format!("/consultas/{id}")).await.body;

    let casos: [(Value, u16, &str, &str); 7] = [
        (
            json!({"inicio": at(seg, "10:15")}),
            422,
            "validation_failed",
            "off the grid",
        ),
        (
            json!({"inicio": at(plus_days(seg, 1), "09:00")}),
            422,
            "validation_failed",
            "no horário that day",
        ),
        (
            json!({"inicio": at(seg, "11:30"), "fim": at(seg, "12:30")}),
            422,
            "validation_failed",
            "past the end of the horário",
        ),
        (
            json!({"inicio": at(seg, "11:00")}),
            409,
            "horario_ocupado",
            "the doctor is busy",
        ),
        (
            json!({"inicio": at(seg, "10:00")}),
            409,
            "patient_overlap",
            "the patient is busy",
        ),
        (
            json!({"inicio": "2020-01-06T09:00:00"}),
            422,
            "validation_failed",
            "in the past",
        ),
        (
            json!({"inicio": at(seg, "10:00"), "fim": at(seg, "09:00")}),
            422,
            "validation_failed",
            "ends before it starts",
        ),
    ];
    for (body, status, code, why) in casos {
        let r = remarcar(&app, &id, &body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "[{why}] {}",
            r.text
        );
    }

    assert_eq!(app.get(&format!("/consultas/{id}")).await.body, antes);
    assert_eq!(acoes(&historico(&app, &id).await), ["criada"]);
    assert_eq!(app.slot_state(&mid, &at(seg, "09:00")).await, "ocupado");
}

#[tokio::test]
async fn remarcar_or_cancelar_unknown_or_closed_appointments_is_a_problem_never_a_5xx() {
    let app = TestApp::new().await;
    let (_, _, c) = cenario(&app, 306).await;
    let id = str_field(&c, "id");
    let seg = monday(1);
    let nada = unknown_id();
    assert_problem(
        &remarcar(&app, &nada, &json!({"inicio": at(seg, "10:00")})).await,
        404,
        "not_found",
    );
    assert_problem(&cancelar(&app, &nada, &json!({})).await, 404, "not_found");
    let h = app.get(&format!("/consultas/{nada}/historico")).await;
    assert_problem(&h, 404, "not_found");

    let path = format!("/consultas/{id}/remarcar");
    let malformado = app
        .post_raw(&path, "application/json", "{\"inicio\": ")
        .await;
    assert_problem(&malformado, 400, "invalid_json");
    for (body, campo) in [
        (json!({"inicio": 5}), "inicio"),
        (json!({}), "inicio"),
        (json!({"inicio": "amanhã"}), "inicio"),
        (json!({"inicio": at(seg, "10:00"), "fim": true}), "fim"),
        (json!({"inicio": at(seg, "10:00"), "sala": 3}), "sala"),
    ] {
        let r = remarcar(&app, &id, &body).await;
        assert_problem(&r, 422, "validation_failed");
        assert_eq!(campos(&r.body), [campo], "{body} → {}", r.text);
    }
    let r = cancelar(&app, &id, &json!({"motivo": 12})).await;
    assert_problem(&r, 422, "validation_failed");
    let r = cancelar(&app, &id, &json!({"motivo": "x".repeat(2001)})).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(campos(&r.body), ["motivo"]);
    let r = app
        .post_raw(
            &format!("/consultas/{id}/cancelar"),
            "application/json",
            "[1]",
        )
        .await;
    assert_problem(&r, 422, "validation_failed");

    cancelar(&app, &id, &json!({})).await.expect_status(200);
    let r = remarcar(&app, &id, &json!({"inicio": at(seg, "10:00")})).await;
    assert_problem(&r, 409, "already_cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_remarcar_into_one_free_slot_move_exactly_one() {
    let app = Arc::new(TestApp::new().await);
    let dias = ["segunda", "terca", "quarta", "quinta", "sexta"];
    let horarios: Vec<(&str, &str, &str)> = dias.iter().map(|d| (*d, "08:00", "18:00")).collect();
    let mid = app.medico(307, &horarios).await;
    let seg = monday(1);
    // 50 appointments of 50 patients in 50 different slots; Friday 17:30 stays free.
    let mut ids = Vec::new();
    let mut inicios = Vec::new();
    for i in 0..50u32 {
        let pid = app.paciente(3070 + u64::from(i)).await;
        let dia = plus_days(seg, i64::from(i / 20));
        let min = 8 * 60 + (i % 20) * 30;
        let ini = at(dia, &format!("{:02}:{:02}", min / 60, min % 60));
        let fim_min = min + 30;
        let fim = at(dia, &format!("{:02}:{:02}", fim_min / 60, fim_min % 60));
        let c = criar_consulta(&app, &pid, &mid, &ini, &fim).await;
        ids.push(str_field(&c, "id"));
        inicios.push(ini);
    }
    let alvo = at(plus_days(seg, 4), "17:30");

    let reqs = ids
        .iter()
        .map(|id| {
            (
                Method::POST,
                format!("/consultas/{id}/remarcar"),
                json!({"inicio": alvo}),
            )
        })
        .collect();
    let statuses = crate::helpers::send_all(&app, reqs).await;

    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    let no_alvo = app
        .get(&format!(
            "/consultas?medico_id={mid}&de={}&ate={}",
            plus_days(seg, 4),
            plus_days(seg, 4)
        ))
        .await;
    let la: Vec<&Value> = no_alvo
        .array()
        .iter()
        .filter(|c| c["inicio"] == json!(alvo))
        .collect();
    assert_eq!(
        la.len(),
        1,
        "one appointment at the target: {}",
        no_alvo.text
    );
    let vencedor = str_field(la[0], "id");
    for (id, ini) in ids.iter().zip(&inicios) {
        let c = app.get(&format!("/consultas/{id}")).await.body;
        if *id == vencedor {
            assert_eq!(c["inicio"], json!(alvo));
            assert_eq!(app.slot_state(&mid, ini).await, "disponivel");
        } else {
            assert_eq!(c["inicio"], json!(ini), "a loser is unchanged");
            assert_eq!(acoes(&historico(&app, id).await), ["criada"]);
        }
    }
    assert_eq!(eventos_de(&app, "horario_ocupado", &alvo).len(), 1);
}

#[tokio::test]
async fn remarcar_with_an_idempotency_key_runs_once_and_replays_its_answer() {
    let app = TestApp::new().await;
    let (_, _, c) = cenario(&app, 308).await;
    let id = str_field(&c, "id");
    let seg = monday(1);
    let path = format!("/consultas/{id}/remarcar");
    let enviar = |inicio: String| {
        let path = path.clone();
        let app = &app;
        async move {
            app.send(
                Method::POST,
                &path,
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", "mover-1"),
                ],
                json!({"inicio": inicio}).to_string(),
            )
            .await
        }
    };

    let primeira = enviar(at(seg, "10:00")).await;
    let segunda = enviar(at(seg, "10:00")).await;
    let outra = enviar(at(seg, "11:00")).await;

    primeira.expect_status(200);
    segunda.expect_status(200);
    assert_eq!(primeira.body, segunda.body);
    assert_problem(&outra, 422, "idempotency_key_reused");
    assert_eq!(acoes(&historico(&app, &id).await), ["criada", "remarcada"]);
}

#[tokio::test]
async fn historico_records_status_changes_and_an_old_appointment_starts_with_criada() {
    let app = TestApp::new().await;
    let (pid, mid, c) = cenario(&app, 309).await;
    let id = str_field(&c, "id");
    app.put(
        &format!("/consultas/{id}"),
        &json!({"status": "confirmada"}),
    )
    .await
    .expect_status(200);
    app.put(
        &format!("/consultas/{id}"),
        &json!({"observacoes": "só notas"}),
    )
    .await
    .expect_status(200);
    let h = historico(&app, &id).await;
    assert_eq!(
        acoes(&h),
        ["criada", "status"],
        "notes are not history: {h:?}"
    );
    assert_eq!(
        (&h[1]["de"], &h[1]["para"]),
        (&json!("agendada"), &json!("confirmada"))
    );
    assert!(
        h.iter()
            .all(|e| e["em"].is_string() && e.get("usuario_id").is_none())
    );

    // An appointment stored before histories existed: written straight to the store.
    let seg = monday(1);
    let mut velha: agendamento::models::Consulta = serde_json::from_value(
        criar_consulta(&app, &pid, &mid, &at(seg, "11:00"), &at(seg, "11:30")).await,
    )
    .expect("consulta");
    velha.id = "0190c3a2-7c1e-7d3a-9f1b-000000000001".into();
    velha.inicio = format!("{}T11:30:00", seg).parse().expect("dt");
    velha.fim = format!("{}T12:00:00", seg).parse().expect("dt");
    velha.created_at = "2025-01-02T03:04:05-03:00".into();
    let op = agendamento::repositories::Op::PutConsulta(Arc::new(velha));
    app.state
        .store
        .write(|_| Ok::<_, agendamento::error::AppError>((vec![op], ())))
        .await
        .expect("write");
    let h = historico(&app, "0190c3a2-7c1e-7d3a-9f1b-000000000001").await;
    assert_eq!(acoes(&h), ["criada"]);
    assert_eq!(h[0]["em"], "2025-01-02T03:04:05-03:00");

    // Deleting an appointment takes its history with it.
    app.delete(&format!("/consultas/{id}"))
        .await
        .expect_status(204);
    let db = app.state.store.read();
    assert!(db.historico.iter().all(|e| e.consulta_id != id));
}

#[tokio::test]
async fn a_booking_task_records_criada_with_the_booking() {
    let app = TestApp::new().await;
    let pid = app.paciente(310).await;
    let mid = app.medico(310, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    app.post(
        "/consultas/agendar",
        &consulta_body(&pid, &mid, &at(seg, "08:00"), &at(seg, "08:30")),
    )
    .await
    .expect_status(202);
    app.run_tasks().await;
    let lista = app.get("/consultas").await;
    let id = str_field(&lista.array()[0], "id");
    assert_eq!(acoes(&historico(&app, &id).await), ["criada"]);
}

#[tokio::test]
async fn incluir_embeds_the_patient_and_the_doctor_and_refuses_unknown_values() {
    let app = TestApp::new().await;
    let (pid, mid, c) = cenario(&app, 311).await;
    let id = str_field(&c, "id");

    let ambos = app.get("/consultas?incluir=paciente,medico").await;
    ambos.expect_status(200);
    let um = &ambos.array()[0];
    assert_eq!(um["id"], json!(id));
    let p = &um["paciente"];
    assert_eq!(p["id"], json!(pid));
    assert_eq!(p["nome"], "Paciente 311");
    assert!(p.get("telefone").is_some(), "{p}");
    assert!(p.get("cpf").is_none(), "only id, nome, telefone: {p}");
    assert_eq!(
        um["medico"],
        json!({"id": mid, "nome": "Dr. Agenda 311", "especialidade": "Clínica Geral"})
    );
    assert_eq!(ambos.total_count(), 1);

    let so_medico = app.get(&format!("/consultas/{id}?incluir=medico")).await;
    so_medico.expect_status(200);
    assert!(so_medico.body.get("paciente").is_none());
    assert_eq!(so_medico.body["medico"]["id"], json!(mid));
    let sem = app.get(&format!("/consultas/{id}")).await;
    assert!(sem.body.get("paciente").is_none() && sem.body.get("medico").is_none());
    assert_eq!(sem.body, c, "without incluir, exactly the appointment");

    for uri in [
        "/consultas?incluir=convenio".to_owned(),
        format!("/consultas/{id}?incluir=paciente,sala"),
        // Empty is not "nothing" (schemathesis: the pattern refuses it).
        "/consultas?incluir=".to_owned(),
        format!("/consultas/{id}?incluir=paciente,"),
    ] {
        let r = app.get(&uri).await;
        assert_problem(&r, 422, "validation_failed");
        assert_eq!(campos(&r.body), ["incluir"], "{uri}");
    }
}

#[tokio::test]
async fn regras_start_as_defaults_and_put_changes_only_the_fields_sent() {
    let app = TestApp::new().await;
    let padrao = json!({
        "antecedencia_minima_minutos": null,
        "horizonte_dias": null,
        "prazo_cancelamento_horas": null,
        "max_reservas_por_paciente": null,
        "oferta_minutos": 30,
        "lembretes_horas": [24, 2]
    });
    assert_eq!(app.get("/sistema/regras").await.body, padrao);

    let r = app
        .put(
            "/sistema/regras",
            &json!({"horizonte_dias": 60, "lembretes_horas": [2, 48]}),
        )
        .await;
    r.expect_status(200);
    assert_eq!(r.body["horizonte_dias"], 60);
    assert_eq!(r.body["lembretes_horas"], json!([48, 2]), "longest first");
    assert_eq!(r.body["oferta_minutos"], 30, "untouched");
    let r = app
        .put(
            "/sistema/regras",
            &json!({"prazo_cancelamento_horas": 24, "horizonte_dias": null}),
        )
        .await;
    r.expect_status(200);
    assert_eq!(
        r.body["horizonte_dias"],
        Value::Null,
        "null removes the rule"
    );
    assert_eq!(r.body["prazo_cancelamento_horas"], 24);
    assert_eq!(r.body["lembretes_horas"], json!([48, 2]));
    assert_eq!(app.get("/sistema/regras").await.body, r.body);

    let antes = r.body.clone();
    for (body, campo) in [
        (json!({"horizonte_dias": 0}), "horizonte_dias"),
        (
            json!({"antecedencia_minima_minutos": -1}),
            "antecedencia_minima_minutos",
        ),
        (
            json!({"prazo_cancelamento_horas": 8761}),
            "prazo_cancelamento_horas",
        ),
        (
            json!({"max_reservas_por_paciente": "dois"}),
            "max_reservas_por_paciente",
        ),
        (json!({"oferta_minutos": null}), "oferta_minutos"),
        (json!({"oferta_minutos": 0}), "oferta_minutos"),
        (json!({"lembretes_horas": [24, 24]}), "lembretes_horas"),
        (json!({"lembretes_horas": [0]}), "lembretes_horas"),
        (json!({"lembretes_horas": null}), "lembretes_horas"),
        (
            json!({"lembretes_horas": [1,2,3,4,5,6,7,8,9,10,11]}),
            "lembretes_horas",
        ),
        (json!({"limite": 3}), "limite"),
    ] {
        let r = app.put("/sistema/regras", &body).await;
        assert_problem(&r, 422, "validation_failed");
        assert_eq!(campos(&r.body), [campo], "{body} → {}", r.text);
    }
    let r = app
        .send(
            Method::PUT,
            "/sistema/regras",
            &[("content-type", "application/json")],
            "{",
        )
        .await;
    assert_problem(&r, 400, "invalid_json");
    assert_eq!(
        app.get("/sistema/regras").await.body,
        antes,
        "refusals changed nothing"
    );
    // Written in the audit trail as a change of `regras`.
    let a = app.get("/sistema/auditoria?recurso=regras").await;
    a.expect_status(200);
    assert_eq!(a.array().len(), 2, "{}", a.text);
}

/// Seconds from now until the clinic-local `local` (São Paulo).
fn segundos_ate(local: &str) -> i64 {
    let dt: jiff::civil::DateTime = local.parse().expect("datetime");
    let alvo = dt.in_tz("America/Sao_Paulo").expect("zone").timestamp();
    alvo.duration_since(jiff::Timestamp::now()).as_secs()
}

/// The largest whole number of minutes surely still ahead of `local` for the next few
/// seconds, and the smallest surely beyond it: they differ by one minute, or two when
/// `local` is a few seconds past a whole minute from now (the test's own run time).
fn minutos_limite(local: &str) -> (i64, i64) {
    let s = segundos_ate(local);
    ((s - 5) / 60, s / 60 + 1)
}

/// Days from the clinic's today (São Paulo) until the date of `local`.
fn dias_ate(local: &str) -> i64 {
    let dt: jiff::civil::DateTime = local.parse().expect("datetime");
    let hoje = jiff::Timestamp::now()
        .in_tz("America/Sao_Paulo")
        .expect("zone")
        .date();
    (dt.date() - hoje).get_days().into()
}

async fn regras(app: &TestApp, body: Value) {
    app.put("/sistema/regras", &body).await.expect_status(200);
}

/// Minimum notice at its boundary, end to end: `M` whole minutes ahead passes a rule of
/// `M` minutes (exactly at the notice, give or take the seconds of the test) and fails one of
/// `M + 1`, for holds, bookings (also again in the worker) and moves; the front desk's
/// synchronous routes are exempt. The exact-minute boundary is `services::regras` tests'.
#[tokio::test]
async fn minimum_notice_applies_at_its_boundary_to_holds_bookings_and_moves_not_to_the_desk() {
    let app = TestApp::new().await;
    let (pid, mid, c) = cenario(&app, 312).await;
    let id = str_field(&c, "id");
    let seg = monday(1);
    let s = at(seg, "10:00");
    let outro = app.paciente(3121).await;

    regras(
        &app,
        json!({"antecedencia_minima_minutos": minutos_limite(&s).1}),
    )
    .await;
    let r = app
        .post("/agenda/reservar", &json!({"medico_id": mid, "slot": s}))
        .await;
    assert_problem(&r, 422, "antecedencia_minima");
    let r = app
        .post(
            "/consultas/agendar",
            &consulta_body(&pid, &mid, &s, &at(seg, "10:30")),
        )
        .await;
    assert_problem(&r, 422, "antecedencia_minima");
    let r = remarcar(&app, &id, &json!({"inicio": s})).await;
    assert_problem(&r, 422, "antecedencia_minima");
    // The desk's own routes are free of the rules (both sooner than the notice).
    app.put(
        &format!("/consultas/{id}"),
        &json!({"inicio": at(seg, "08:00"), "fim": at(seg, "08:30")}),
    )
    .await
    .expect_status(200);
    criar_consulta(&app, &outro, &mid, &at(seg, "08:30"), &at(seg, "09:00")).await;

    regras(
        &app,
        json!({"antecedencia_minima_minutos": minutos_limite(&s).0}),
    )
    .await;
    app.post("/agenda/reservar", &json!({"medico_id": mid, "slot": s}))
        .await
        .expect_status(200);
    app.post("/agenda/liberar", &json!({"medico_id": mid, "slot": s}))
        .await
        .expect_status(200);
    regras(
        &app,
        json!({"antecedencia_minima_minutos": minutos_limite(&s).0}),
    )
    .await;
    remarcar(&app, &id, &json!({"inicio": s}))
        .await
        .expect_status(200);
    // Accepted now, refused by the worker after the rule tightened.
    let r = app
        .post(
            "/consultas/agendar",
            &consulta_body(&outro, &mid, &at(seg, "10:30"), &at(seg, "11:00")),
        )
        .await;
    r.expect_status(202);
    let task = str_field(&r.body, "task_id");
    regras(
        &app,
        json!({"antecedencia_minima_minutos": minutos_limite(&s).1 + 60}),
    )
    .await;
    app.run_tasks().await;
    let t = app.get(&format!("/sistema/tasks/{task}")).await;
    assert_eq!(t.body["status"], "falhou", "{}", t.text);
    assert_eq!(t.body["erro"]["code"], "antecedencia_minima", "{}", t.text);
    assert_eq!(app.slot_state(&mid, &at(seg, "10:30")).await, "disponivel");
}

/// The horizon at its boundary: a slot `D` days ahead passes a horizon of `D` days and fails
/// one of `D - 1`.
#[tokio::test]
async fn the_horizon_allows_its_last_day_and_refuses_the_day_after() {
    let app = TestApp::new().await;
    let (pid, mid, c) = cenario(&app, 313).await;
    let id = str_field(&c, "id");
    let seg = monday(1);
    let s = at(seg, "10:00");
    let d = dias_ate(&s);

    regras(&app, json!({"horizonte_dias": d - 1})).await;
    for r in [
        app.post("/agenda/reservar", &json!({"medico_id": mid, "slot": s}))
            .await,
        app.post(
            "/consultas/agendar",
            &consulta_body(&pid, &mid, &s, &at(seg, "10:30")),
        )
        .await,
        remarcar(&app, &id, &json!({"inicio": s})).await,
    ] {
        assert_problem(&r, 422, "fora_do_horizonte");
    }
    regras(&app, json!({"horizonte_dias": d})).await;
    remarcar(&app, &id, &json!({"inicio": s}))
        .await
        .expect_status(200);
    app.post(
        "/agenda/reservar",
        &json!({"medico_id": mid, "slot": at(seg, "11:00")}),
    )
    .await
    .expect_status(200);
}

/// The cancellation cutoff at its boundary: an appointment `H` whole hours ahead may be
/// cancelled or moved under a cutoff of `H` hours, not of `H + 1`; `PUT` stays free.
#[tokio::test]
async fn the_cancellation_cutoff_applies_to_cancelar_and_remarcar_at_its_boundary() {
    let app = TestApp::new().await;
    let (_, _, c) = cenario(&app, 314).await;
    let id = str_field(&c, "id");
    let seg = monday(1);
    let h = (segundos_ate(&at(seg, "09:00")) - 5) / 3600;

    regras(&app, json!({"prazo_cancelamento_horas": h + 1})).await;
    assert_problem(
        &cancelar(&app, &id, &json!({})).await,
        409,
        "prazo_cancelamento",
    );
    assert_problem(
        &remarcar(&app, &id, &json!({"inicio": at(seg, "10:00")})).await,
        409,
        "prazo_cancelamento",
    );
    assert_eq!(
        app.get(&format!("/consultas/{id}")).await.body["status"],
        "agendada"
    );

    regras(&app, json!({"prazo_cancelamento_horas": h})).await;
    remarcar(&app, &id, &json!({"inicio": at(seg, "09:30")}))
        .await
        .expect_status(200);
    // Now at 09:30: further away than the cutoff still.
    cancelar(&app, &id, &json!({"motivo": "no prazo"}))
        .await
        .expect_status(200);
}

const ADMIN: (&str, &str) = ("admin@clinica.example", "senha-do-admin");
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

/// Signed-in roles: admin, recepcao, a doctor and a patient (with their records).
struct Papeis {
    admin: String,
    recepcao: String,
    medico: String,
    paciente: String,
    paciente_id: String,
    medico_id: String,
}

async fn papeis(app: &TestApp) -> Papeis {
    usuarios::criar_admin(&app.state, ADMIN.0, "Admin", ADMIN.1.into())
        .await
        .expect("first admin");
    let admin = token(app, ADMIN.0, ADMIN.1).await;
    let p = com(
        app,
        &admin,
        Method::POST,
        "/pacientes",
        Some(&crate::helpers::paciente_body("Paula", 1)),
    )
    .await;
    p.expect_status(201);
    let m = com(
        app,
        &admin,
        Method::POST,
        "/medicos",
        Some(&crate::helpers::medico_body(
            "Dr. Marco",
            1,
            "Clínica Geral",
        )),
    )
    .await;
    m.expect_status(201);
    let (paciente_id, medico_id) = (str_field(&p.body, "id"), str_field(&m.body, "id"));
    com(
        app,
        &admin,
        Method::POST,
        &format!("/horarios/medico/{medico_id}"),
        Some(&crate::helpers::horario_body("segunda", "08:00", "12:00")),
    )
    .await
    .expect_status(201);
    for (papel, extra) in [
        ("recepcao", json!({})),
        ("medico", json!({"medico_id": medico_id})),
        ("paciente", json!({"paciente_id": paciente_id})),
    ] {
        let mut b = json!({"nome": format!("Usuário {papel}"), "email": format!("{papel}@clinica.example"), "papel": papel, "senha": SENHA});
        b.as_object_mut()
            .expect("obj")
            .extend(extra.as_object().expect("obj").clone());
        com(app, &admin, Method::POST, "/usuarios", Some(&b))
            .await
            .expect_status(201);
    }
    Papeis {
        recepcao: token(app, "recepcao@clinica.example", SENHA).await,
        medico: token(app, "medico@clinica.example", SENHA).await,
        paciente: token(app, "paciente@clinica.example", SENHA).await,
        admin,
        paciente_id,
        medico_id,
    }
}

#[tokio::test]
async fn a_patient_cancels_and_moves_their_own_a_doctor_may_not_and_others_are_404() {
    let app = TestApp::with_args(&["--auth", "on", "--timezone", "America/Sao_Paulo"]).await;
    let p = papeis(&app).await;
    let seg = monday(1);
    let outro = com(
        &app,
        &p.admin,
        Method::POST,
        "/pacientes",
        Some(&crate::helpers::paciente_body("Outra", 2)),
    )
    .await;
    let outro_id = str_field(&outro.body, "id");
    let criar = |pid: String, ini: &str, fim: &str| {
        let body = consulta_body(&pid, &p.medico_id, &at(seg, ini), &at(seg, fim));
        let app = &app;
        let tok = p.recepcao.clone();
        async move {
            let r = com(app, &tok, Method::POST, "/consultas", Some(&body)).await;
            r.expect_status(201);
            str_field(&r.body, "id")
        }
    };
    let minha = criar(p.paciente_id.clone(), "09:00", "09:30").await;
    let alheia = criar(outro_id, "10:00", "10:30").await;
    let mover = json!({"inicio": at(seg, "11:00")});

    let r = com(
        &app,
        &p.medico,
        Method::POST,
        &format!("/consultas/{minha}/cancelar"),
        Some(&json!({})),
    )
    .await;
    assert_problem(&r, 403, "sem_permissao");
    let r = com(
        &app,
        &p.medico,
        Method::POST,
        &format!("/consultas/{minha}/remarcar"),
        Some(&mover),
    )
    .await;
    assert_problem(&r, 403, "sem_permissao");
    let r = com(
        &app,
        &p.paciente,
        Method::POST,
        &format!("/consultas/{alheia}/cancelar"),
        Some(&json!({})),
    )
    .await;
    assert_problem(&r, 404, "not_found");
    let r = com(
        &app,
        &p.paciente,
        Method::POST,
        &format!("/consultas/{alheia}/remarcar"),
        Some(&mover),
    )
    .await;
    assert_problem(&r, 404, "not_found");
    let r = com(
        &app,
        &p.paciente,
        Method::GET,
        &format!("/consultas/{alheia}/historico"),
        None,
    )
    .await;
    assert_problem(&r, 404, "not_found");

    // A slot the front desk holds is theirs: the patient may not move into it.
    let r = com(
        &app,
        &p.recepcao,
        Method::POST,
        "/agenda/reservar",
        Some(&json!({"medico_id": p.medico_id, "slot": at(seg, "11:30")})),
    )
    .await;
    r.expect_status(200);
    let r = com(
        &app,
        &p.paciente,
        Method::POST,
        &format!("/consultas/{minha}/remarcar"),
        Some(&json!({"inicio": at(seg, "11:30")})),
    )
    .await;
    assert_problem(&r, 409, "horario_reservado");

    let r = com(
        &app,
        &p.paciente,
        Method::POST,
        &format!("/consultas/{minha}/remarcar"),
        Some(&mover),
    )
    .await;
    r.expect_status(200);
    let r = com(
        &app,
        &p.paciente,
        Method::POST,
        &format!("/consultas/{minha}/cancelar"),
        Some(&json!({"motivo": "viagem"})),
    )
    .await;
    r.expect_status(200);
    let h = com(
        &app,
        &p.medico,
        Method::GET,
        &format!("/consultas/{minha}/historico"),
        None,
    )
    .await;
    h.expect_status(200);
    let usuario_paciente = com(&app, &p.paciente, Method::GET, "/auth/eu", None).await;
    let uid = str_field(&usuario_paciente.body, "id");
    assert_eq!(acoes(h.array()), ["criada", "remarcada", "cancelada"]);
    assert_eq!(h.array()[1]["usuario_id"], json!(uid), "who moved it");
    assert_eq!(h.array()[2]["usuario_id"], json!(uid), "who cancelled it");
    // The embeds: the doctor sees their own appointment's patient.
    let r = com(
        &app,
        &p.medico,
        Method::GET,
        &format!("/consultas/{minha}?incluir=paciente,medico"),
        None,
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.body["paciente"]["nome"], "Paula");
    // Rules: staff read them, only administrators change them.
    com(&app, &p.recepcao, Method::GET, "/sistema/regras", None)
        .await
        .expect_status(200);
    let r = com(
        &app,
        &p.recepcao,
        Method::PUT,
        "/sistema/regras",
        Some(&json!({"horizonte_dias": 5})),
    )
    .await;
    assert_problem(&r, 403, "sem_permissao");
}

#[tokio::test]
async fn a_patient_holding_the_allowed_number_of_holds_gets_409_limite_reservas() {
    let app = TestApp::with_args(&["--auth", "on", "--timezone", "America/Sao_Paulo"]).await;
    let p = papeis(&app).await;
    let seg = monday(1);
    com(
        &app,
        &p.admin,
        Method::PUT,
        "/sistema/regras",
        Some(&json!({"max_reservas_por_paciente": 1})),
    )
    .await
    .expect_status(200);
    let hold = |tok: String, hhmm: &'static str| {
        let body = json!({"medico_id": p.medico_id, "slot": at(seg, hhmm)});
        let app = &app;
        async move { com(app, &tok, Method::POST, "/agenda/reservar", Some(&body)).await }
    };

    hold(p.paciente.clone(), "08:00").await.expect_status(200);
    let r = hold(p.paciente.clone(), "08:30").await;
    assert_problem(&r, 409, "limite_reservas");
    // Booking would add a hold too.
    let r = com(
        &app,
        &p.paciente,
        Method::POST,
        "/consultas/agendar",
        Some(&consulta_body(
            &p.paciente_id,
            &p.medico_id,
            &at(seg, "09:00"),
            &at(seg, "09:30"),
        )),
    )
    .await;
    assert_problem(&r, 409, "limite_reservas");
    // Booking the slot they hold adds none.
    let r = com(
        &app,
        &p.paciente,
        Method::POST,
        "/consultas/agendar",
        Some(&consulta_body(
            &p.paciente_id,
            &p.medico_id,
            &at(seg, "08:00"),
            &at(seg, "08:30"),
        )),
    )
    .await;
    r.expect_status(202);
    // Staff are not limited.
    hold(p.recepcao.clone(), "10:00").await.expect_status(200);
    hold(p.recepcao.clone(), "10:30").await.expect_status(200);
    // Once their hold is released, the patient may hold again.
    com(
        &app,
        &p.paciente,
        Method::POST,
        "/agenda/liberar",
        Some(&json!({"medico_id": p.medico_id, "slot": at(seg, "08:00")})),
    )
    .await
    .expect_status(200);
    hold(p.paciente.clone(), "08:30").await.expect_status(200);
}
