//! `GET /relatorios/estatisticas` (SPEC-2 §15): exact figures for a seeded week, each rate
//! as §15 defines it, the filters, and bad input.
//!
//! The seeded week (2026-03-02, a Monday, to 2026-03-08), clinic zone America/Sao_Paulo:
//!
//! | # | doctor | patient (plan) | start | minutes | status | created before start |
//! |---|---|---|---|---|---|---|
//! | 1 | Ana | P1 (Unimed) | Mon 08:00 | 30 | concluida | 72 h |
//! | 2 | Ana | P2 (Bradesco) | Mon 09:00 | 60 | faltou | 24 h |
//! | 3 | Ana | P3 (none) | Mon 10:00 | 30 | cancelada | 1 h |
//! | 4 | Ana | P1 | Wed 08:00 | 30 | agendada | created 1 h *after* its start |
//! | 5 | Bruno | P1 | Tue 14:00 | 60 | confirmada | 48 h |
//! | 6 | Bruno | P2 | Tue 15:00 | 30 | concluida | 192 h |
//! | 7 | Ana | P3 | Sun 23:00 | 30 | concluida | 168 h (last day: inclusive) |
//! | – | Ana | P1 | next Mon 08:00 | | agendada | outside (after `ate`) |
//! | – | Bruno | P2 | Sun 03-01 10:00 | | concluida | outside (before `de`) |
//!
//! Horários: Ana (Cardiologia) Monday 08–12 and Wednesday 08–10 (360 min in the week),
//! Bruno (Dermatologia) Tuesday 14–18 (240), Carla (Cardiologia) Friday 09–10 (60, no
//! appointments).

use std::sync::Arc;

use agendamento::repositories::Op;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::helpers::*;

struct Seed {
    app: TestApp,
    ana: String,
    bruno: String,
    carla: String,
}

async fn paciente_com(app: &TestApp, nome: &str, seed: u64, convenio: Option<&str>) -> String {
    let mut body = paciente_body(nome, seed);
    body["convenio"] = json!(convenio);
    let r = app.post("/pacientes", &body).await;
    r.expect_status(201);
    r.id()
}

async fn medico_com(
    app: &TestApp,
    nome: &str,
    crm: u32,
    esp: &str,
    hs: &[(&str, &str, &str)],
) -> String {
    let id = str_field(&criar_medico(app, nome, crm, esp).await, "id");
    for (d, i, f) in hs {
        criar_horario(app, &id, d, i, f).await;
    }
    id
}

/// Records an appointment through `POST /consultas`, then sets its `created_at` (which the
/// API stamps with the real clock) `antes_horas` before its start, in the store.
async fn consulta(
    app: &TestApp,
    p: &str,
    m: &str,
    inicio: &str,
    fim: &str,
    status: &str,
    antes_horas: i64,
) {
    let mut body = consulta_body(p, m, inicio, fim);
    body["status"] = json!(status);
    let r = app.post("/consultas", &body).await;
    r.expect_status(201);
    let id = r.id();
    let start: jiff::Timestamp = format!("{inicio}-03:00").parse().expect("start");
    let created = start - jiff::SignedDuration::from_hours(antes_horas);
    let stamp = created
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(-3)))
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    app.state
        .write(move |db| {
            let mut c = (**db.consultas.get(&id).expect("stored")).clone();
            c.created_at = stamp;
            Ok((vec![Op::PutConsulta(Arc::new(c))], ()))
        })
        .await
        .expect("created_at rewritten");
}

async fn seed() -> Seed {
    let app = TestApp::new().await;
    let ana = medico_com(
        &app,
        "Dra. Ana",
        1,
        "Cardiologia",
        &[("segunda", "08:00", "12:00"), ("quarta", "08:00", "10:00")],
    )
    .await;
    let bruno = medico_com(
        &app,
        "Dr. Bruno",
        2,
        "Dermatologia",
        &[("terca", "14:00", "18:00")],
    )
    .await;
    let carla = medico_com(
        &app,
        "Dra. Carla",
        3,
        "Cardiologia",
        &[("sexta", "09:00", "10:00")],
    )
    .await;
    let p1 = paciente_com(&app, "Paciente Um", 1, Some("Unimed")).await;
    let p2 = paciente_com(&app, "Paciente Dois", 2, Some("Bradesco")).await;
    let p3 = paciente_com(&app, "Paciente Três", 3, None).await;
    consulta(
        &app,
        &p1,
        &ana,
        "2026-03-02T08:00:00",
        "2026-03-02T08:30:00",
        "concluida",
        72,
    )
    .await;
    consulta(
        &app,
        &p2,
        &ana,
        "2026-03-02T09:00:00",
        "2026-03-02T10:00:00",
        "faltou",
        24,
    )
    .await;
    consulta(
        &app,
        &p3,
        &ana,
        "2026-03-02T10:00:00",
        "2026-03-02T10:30:00",
        "cancelada",
        1,
    )
    .await;
    consulta(
        &app,
        &p1,
        &ana,
        "2026-03-04T08:00:00",
        "2026-03-04T08:30:00",
        "agendada",
        -1,
    )
    .await;
    consulta(
        &app,
        &p1,
        &bruno,
        "2026-03-03T14:00:00",
        "2026-03-03T15:00:00",
        "confirmada",
        48,
    )
    .await;
    consulta(
        &app,
        &p2,
        &bruno,
        "2026-03-03T15:00:00",
        "2026-03-03T15:30:00",
        "concluida",
        192,
    )
    .await;
    consulta(
        &app,
        &p3,
        &ana,
        "2026-03-08T23:00:00",
        "2026-03-08T23:30:00",
        "concluida",
        168,
    )
    .await;
    consulta(
        &app,
        &p1,
        &ana,
        "2026-03-09T08:00:00",
        "2026-03-09T08:30:00",
        "agendada",
        5,
    )
    .await;
    consulta(
        &app,
        &p2,
        &bruno,
        "2026-03-01T10:00:00",
        "2026-03-01T10:30:00",
        "concluida",
        5,
    )
    .await;
    Seed {
        app,
        ana,
        bruno,
        carla,
    }
}

const SEMANA: &str = "/relatorios/estatisticas?de=2026-03-02&ate=2026-03-08";

fn por_hora(pares: &[(u64, u64)]) -> Value {
    let v: Vec<Value> = (0..24u64)
        .map(|h| {
            let n = pares.iter().find(|(k, _)| *k == h).map_or(0, |(_, n)| *n);
            json!({"hora": h, "total": n})
        })
        .collect();
    json!(v)
}

#[tokio::test]
async fn estatisticas_gives_every_figure_of_a_seeded_week_exactly() {
    let s = seed().await;

    let r = s.app.get(SEMANA).await;

    r.expect_status(200);
    let expected = json!({
        "periodo": {"de": "2026-03-02", "ate": "2026-03-08", "dias": 7},
        "total": 7,
        "por_status": {"agendada": 1, "confirmada": 1, "concluida": 3, "faltou": 1, "cancelada": 1},
        // (30+60+30+30 Ana + 60+30 Bruno, #3 cancelled left out) / (360 + 240 + 60).
        "taxa_ocupacao": 0.3636,
        // faltou / (concluida + faltou) = 1 / 4.
        "taxa_faltas": 0.25,
        // cancelada / total = 1 / 7.
        "taxa_cancelamento": 0.1429,
        // 1, 24, 48, 72, 168, 192 (#4 was created after its start) → (48 + 72) / 2.
        "antecedencia_mediana_horas": 60.0,
        "por_medico": [
            {"medico_id": s.ana, "nome": "Dra. Ana", "especialidade": "Cardiologia", "total": 5,
             "por_status": {"agendada": 1, "confirmada": 0, "concluida": 2, "faltou": 1, "cancelada": 1},
             "minutos_ocupados": 150, "minutos_trabalho": 360, "taxa_ocupacao": 0.4167},
            {"medico_id": s.bruno, "nome": "Dr. Bruno", "especialidade": "Dermatologia", "total": 2,
             "por_status": {"agendada": 0, "confirmada": 1, "concluida": 1, "faltou": 0, "cancelada": 0},
             "minutos_ocupados": 90, "minutos_trabalho": 240, "taxa_ocupacao": 0.375},
            {"medico_id": s.carla, "nome": "Dra. Carla", "especialidade": "Cardiologia", "total": 0,
             "por_status": {"agendada": 0, "confirmada": 0, "concluida": 0, "faltou": 0, "cancelada": 0},
             "minutos_ocupados": 0, "minutos_trabalho": 60, "taxa_ocupacao": 0.0},
        ],
        "por_especialidade": [
            {"especialidade": "Cardiologia", "total": 5, "minutos_ocupados": 150,
             "minutos_trabalho": 420, "taxa_ocupacao": 0.3571},
            {"especialidade": "Dermatologia", "total": 2, "minutos_ocupados": 90,
             "minutos_trabalho": 240, "taxa_ocupacao": 0.375},
        ],
        "por_dia_semana": [
            {"dia_semana": "segunda", "total": 3}, {"dia_semana": "terca", "total": 2},
            {"dia_semana": "quarta", "total": 1}, {"dia_semana": "quinta", "total": 0},
            {"dia_semana": "sexta", "total": 0}, {"dia_semana": "sabado", "total": 0},
            {"dia_semana": "domingo", "total": 1},
        ],
        "por_hora": por_hora(&[(8, 2), (9, 1), (10, 1), (14, 1), (15, 1), (23, 1)]),
        "por_convenio": [
            {"convenio": "Unimed", "total": 3},
            {"convenio": "Bradesco", "total": 2},
            {"convenio": null, "total": 2},
        ],
        // Seeded through the front desk without forma_pagamento: patients without a
        // convenio_id pay privately (SPEC-2 §12); nothing paid yet.
        "por_plano": [
            {"forma": "particular", "convenio_id": null, "nome": "Particular", "total": 7,
                "recebido_centavos": 0},
        ],
        "recebido_centavos": 0,
    });
    // Dr. Bruno sorts before Dra. Ana by name ("dr. bruno" < "dra. ana").
    let mut expected = expected;
    let medicos = expected["por_medico"].as_array_mut().expect("array");
    medicos.swap(0, 1);
    assert_eq!(
        r.body,
        expected,
        "{}",
        serde_json::to_string_pretty(&r.body).unwrap_or_default()
    );
}

#[tokio::test]
async fn estatisticas_filters_by_doctor() {
    let s = seed().await;

    let r = s.app.get(&format!("{SEMANA}&medico_id={}", s.bruno)).await;

    r.expect_status(200);
    let b = &r.body;
    assert_eq!(b["total"], 2);
    assert_eq!(b["taxa_ocupacao"], 0.375);
    // One concluida, no faltou: 0, not undefined; nothing cancelled.
    assert_eq!(b["taxa_faltas"], 0.0);
    assert_eq!(b["taxa_cancelamento"], 0.0);
    assert_eq!(b["antecedencia_mediana_horas"], 120.0, "(48 + 192) / 2");
    assert_eq!(b["por_medico"].as_array().map(Vec::len), Some(1));
    assert_eq!(b["por_medico"][0]["medico_id"], json!(s.bruno));
    assert_eq!(
        b["por_especialidade"],
        json!([{"especialidade": "Dermatologia", "total": 2,
        "minutos_ocupados": 90, "minutos_trabalho": 240, "taxa_ocupacao": 0.375}])
    );
    assert_eq!(
        b["por_convenio"],
        json!([{"convenio": "Bradesco", "total": 1}, {"convenio": "Unimed", "total": 1}])
    );
}

#[tokio::test]
async fn estatisticas_filters_by_speciality_ignoring_case_and_accents() {
    let s = seed().await;

    let r = s
        .app
        .get(&format!("{SEMANA}&especialidade={}", enc("CARDIOLOGÍA")))
        .await;

    r.expect_status(200);
    let b = &r.body;
    assert_eq!(b["total"], 5);
    assert_eq!(b["taxa_ocupacao"], 0.3571, "150 / (360 + 60)");
    assert_eq!(b["taxa_cancelamento"], 0.2, "1 / 5");
    assert_eq!(b["taxa_faltas"], 0.3333, "1 / (2 + 1)");
    let ids: Vec<&Value> = b["por_medico"]
        .as_array()
        .expect("array")
        .iter()
        .map(|m| &m["medico_id"])
        .collect();
    assert_eq!(ids, [&json!(s.ana), &json!(s.carla)]);
}

#[tokio::test]
async fn estatisticas_with_doctor_and_other_speciality_is_empty_with_undefined_rates() {
    let s = seed().await;

    let r = s
        .app
        .get(&format!(
            "{SEMANA}&medico_id={}&especialidade=Cardiologia",
            s.bruno
        ))
        .await;

    r.expect_status(200);
    let b = &r.body;
    assert_eq!(b["total"], 0);
    for rate in [
        "taxa_ocupacao",
        "taxa_faltas",
        "taxa_cancelamento",
        "antecedencia_mediana_horas",
    ] {
        assert_eq!(b[rate], Value::Null, "{rate} has a zero denominator");
    }
    assert_eq!(b["por_medico"], json!([]));
    assert_eq!(b["por_convenio"], json!([]));
    assert_eq!(b["por_hora"].as_array().map(Vec::len), Some(24));
    assert_eq!(b["por_dia_semana"].as_array().map(Vec::len), Some(7));
}

#[tokio::test]
async fn estatisticas_counts_only_the_period_both_ends_included() {
    let s = seed().await;

    let um_dia = s
        .app
        .get("/relatorios/estatisticas?de=2026-03-08&ate=2026-03-08")
        .await;
    let antes = s
        .app
        .get("/relatorios/estatisticas?de=2026-03-01&ate=2026-03-01")
        .await;
    let so_de = s.app.get("/relatorios/estatisticas?de=2026-03-02").await;

    um_dia.expect_status(200);
    assert_eq!(um_dia.body["total"], 1, "the Sunday 23:00 appointment");
    assert_eq!(um_dia.body["periodo"]["dias"], 1);
    // Sunday: no one works, so the minutes of #7 have nothing to be a fraction of.
    assert_eq!(um_dia.body["taxa_ocupacao"], Value::Null);
    assert_eq!(antes.body["total"], 1);
    so_de.expect_status(200);
    assert_eq!(
        so_de.body["periodo"],
        json!({"de": "2026-03-02", "ate": "2026-03-31", "dias": 30})
    );
    assert_eq!(so_de.body["total"], 8, "the week plus Monday 03-09");
}

#[tokio::test]
async fn estatisticas_refuses_bad_dates_and_ranges_and_unknown_doctors() {
    let s = seed().await;
    let cases: &[(&str, &[&str], &str)] = &[
        ("de=2026-13-01&ate=2026-12-31", &["de"], "no month 13"),
        ("de=ontem&ate=2026-03-01", &["de"], "not a date"),
        ("de=2026-03-01&ate=2026-02-30", &["ate"], "no February 30"),
        ("de=2026-03-10&ate=2026-03-09", &["ate"], "reversed"),
        ("de=2026-01-01&ate=2027-01-02", &["ate"], "367 days"),
        ("de=x&ate=y", &["de", "ate"], "both wrong, both reported"),
        (
            "ate=0000-01-01",
            &["ate"],
            "the default start would be before year 0",
        ),
    ];
    for (q, campos_esperados, why) in cases {
        let r = s.app.get(&format!("/relatorios/estatisticas?{q}")).await;
        assert_validation(&r, campos_esperados, why);
    }
    let ok = s
        .app
        .get("/relatorios/estatisticas?de=2026-01-01&ate=2026-12-31")
        .await;
    ok.expect_status(200);
    assert_eq!(
        ok.body["total"], 9,
        "a whole year is allowed; every seeded appointment"
    );

    let r = s
        .app
        .get(&format!("{SEMANA}&medico_id={}", unknown_id()))
        .await;
    let p = assert_problem(&r, 404, "not_found");
    assert_eq!(p["detail"], "Médico não encontrado.");
}

#[tokio::test]
async fn estatisticas_occupancy_leaves_blocked_working_minutes_out() {
    let s = seed().await;
    // Ana's Wednesday 08:00–10:00 loses 09:00–10:00; the whole clinic closes on Friday
    // (Carla's only hour). A block outside working hours takes nothing away.
    for b in [
        json!({"medico_id": s.ana, "inicio": "2026-03-04T09:00:00", "fim": "2026-03-04T12:00:00", "motivo": "Reunião"}),
        json!({"inicio": "2026-03-06T00:00:00", "fim": "2026-03-07T00:00:00", "motivo": "Feriado local"}),
        json!({"medico_id": s.bruno, "inicio": "2026-03-03T06:00:00", "fim": "2026-03-03T07:00:00", "motivo": "Cedo"}),
    ] {
        s.app.post("/bloqueios", &b).await.expect_status(201);
    }

    let r = s.app.get(SEMANA).await;

    r.expect_status(200);
    let mut por: Vec<(String, u64)> = r.body["por_medico"]
        .as_array()
        .expect("por_medico")
        .iter()
        .map(|m| {
            (
                m["medico_id"].as_str().unwrap_or_default().to_owned(),
                m["minutos_trabalho"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    por.sort();
    let mut esperado = vec![(s.ana.clone(), 300), (s.bruno.clone(), 240)];
    esperado.sort();
    // Carla has no appointment and no working minute left: no row.
    assert_eq!(por, esperado, "{}", r.text);
    // (150 + 90) / (300 + 240).
    assert_eq!(r.body["taxa_ocupacao"], json!(0.4444), "{}", r.text);
}

/// Every breakdown counts every appointment of the period: a deleted doctor's speciality is
/// gone with their record, so theirs count under `(médico excluído)` in `por_especialidade`
/// as in `por_medico`.
#[tokio::test]
async fn a_deleted_doctors_appointments_still_count_by_speciality() {
    let s = seed().await;
    let davi = medico_com(
        &s.app,
        "Dr. Davi",
        4,
        "Pediatria",
        &[("quinta", "08:00", "10:00")],
    )
    .await;
    let p = paciente_com(&s.app, "Paciente Quatro", 4, None).await;
    consulta(
        &s.app,
        &p,
        &davi,
        "2026-03-05T08:00:00",
        "2026-03-05T08:30:00",
        "concluida",
        24,
    )
    .await;
    s.app
        .delete(&format!("/medicos/{davi}"))
        .await
        .expect_status(204);

    let r = s.app.get(SEMANA).await;
    r.expect_status(200);
    let b = &r.body;
    let esp = b["por_especialidade"].as_array().expect("a list");
    let soma: u64 = esp.iter().filter_map(|e| e["total"].as_u64()).sum();
    assert_eq!(Some(soma), b["total"].as_u64(), "{esp:#?}");
    let excluido = esp
        .iter()
        .find(|e| e["especialidade"] == "(médico excluído)")
        .expect("the deleted doctor's speciality row");
    assert_eq!(excluido["total"], 1);
    assert!(
        b["por_medico"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|m| m["nome"] == "(médico excluído)" && m["total"] == 1)
    );
    // The deleted doctor has no working hours any more: their 30 minutes fill no one
    // else's hours, in the clinic's rate and in their speciality row.
    assert_eq!(excluido["minutos_ocupados"], 0, "{excluido}");
    assert_eq!(excluido["taxa_ocupacao"], serde_json::Value::Null);
    let (mut ocupados, mut trabalho) = (0u64, 0u64);
    for m in b["por_medico"].as_array().expect("a list") {
        let (o, t) = (
            m["minutos_ocupados"].as_u64().unwrap_or(0),
            m["minutos_trabalho"].as_u64().unwrap_or(0),
        );
        ocupados += o.min(t);
        trabalho += t;
    }
    assert!(trabalho > 0);
    let esperado = ocupados as f64 / trabalho as f64;
    let taxa = b["taxa_ocupacao"].as_f64().expect("a rate");
    assert!(
        (taxa - esperado).abs() < 1e-4,
        "{taxa} vs {esperado}: {b:#}"
    );
}
