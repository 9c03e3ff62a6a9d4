//! Body builders, record creation and problem assertions with the same names and shapes as
//! `tests/api/helpers.rs`, over the in-process [`TestApp`], so a handler test moves from
//! the socket harness by changing how it starts (`TestApp::new().await`).

use serde_json::{Value, json};

use crate::harness::{Resp, TestApp};

pub use crate::common::*;

impl TestApp {
    /// Creates a patient (asserting 201); returns its id.
    pub async fn paciente(&self, seed: u64) -> String {
        str_field(
            &criar_paciente(self, &format!("Paciente {seed}"), seed).await,
            "id",
        )
    }

    /// Creates a doctor (asserting 201) with horários `(dia, inicio, fim)`; returns its id.
    pub async fn medico(&self, crm: u32, horarios: &[(&str, &str, &str)]) -> String {
        medico_com_horarios(self, crm, horarios).await
    }

    /// POST with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Resp {
        self.send(
            axum::http::Method::POST,
            path,
            &[("content-type", content_type)],
            body.into(),
        )
        .await
    }

    /// Number of records in a list endpoint (`x-total-count`, cross-checked with the array).
    pub async fn count(&self, path: &str) -> u64 {
        let r = self.get(path).await;
        r.expect_status(200);
        let total = r.total_count();
        assert_eq!(total as usize, r.array().len(), "x-total-count on {path}");
        total
    }
}

/// `12345678909` → `123.456.789-09`.
pub fn cpf_formatado(digits: &str) -> String {
    assert_eq!(digits.len(), 11);
    format!(
        "{}.{}.{}-{}",
        &digits[0..3],
        &digits[3..6],
        &digits[6..9],
        &digits[9..11]
    )
}

/// Creates a patient (asserting 201) and returns the stored record.
pub async fn criar_paciente(app: &TestApp, nome: &str, seed: u64) -> Value {
    let r = app.post("/pacientes", &paciente_body(nome, seed)).await;
    r.expect_status(201);
    r.body
}

/// Creates a doctor (asserting 201) and returns the stored record.
pub async fn criar_medico(app: &TestApp, nome: &str, crm_num: u32, especialidade: &str) -> Value {
    let r = app
        .post("/medicos", &medico_body(nome, crm_num, especialidade))
        .await;
    r.expect_status(201);
    r.body
}

/// Creates an appointment (asserting 201) and returns the stored record.
pub async fn criar_consulta(
    app: &TestApp,
    paciente_id: &str,
    medico_id: &str,
    inicio: &str,
    fim: &str,
) -> Value {
    let r = app
        .post(
            "/consultas",
            &consulta_body(paciente_id, medico_id, inicio, fim),
        )
        .await;
    r.expect_status(201);
    r.body
}

/// A patient and a doctor, returned as (paciente_id, medico_id).
pub async fn paciente_e_medico(app: &TestApp) -> (String, String) {
    let p = criar_paciente(app, "Paciente Padrão", 1).await;
    let m = criar_medico(app, "Dra. Médica Padrão", 1, "Clínica Geral").await;
    (str_field(&p, "id"), str_field(&m, "id"))
}

/// Creates a doctor (CRM number `crm`) with the given horários `(dia, inicio, fim)`; returns its id.
pub async fn medico_com_horarios(
    app: &TestApp,
    crm: u32,
    horarios: &[(&str, &str, &str)],
) -> String {
    let m = criar_medico(app, &format!("Dr. Agenda {crm}"), crm, "Clínica Geral").await;
    let id = str_field(&m, "id");
    for (dia, ini, fim) in horarios {
        app.post(
            &format!("/horarios/medico/{id}"),
            &horario_body(dia, ini, fim),
        )
        .await
        .expect_status(201);
    }
    id
}

/// POST `/agenda/reservar`.
pub async fn reservar(app: &TestApp, medico_id: &str, slot: &str) -> Resp {
    app.post(
        "/agenda/reservar",
        &json!({"medico_id": medico_id, "slot": slot}),
    )
    .await
}

/// A Monday at least `weeks_ahead` whole weeks after today in the clinic's default zone
/// (`America/Sao_Paulo`, as `Config::for_tests`), never in the past.
pub fn monday(weeks_ahead: i64) -> jiff::civil::Date {
    use jiff::ToSpan as _;
    let today = jiff::Timestamp::now()
        .in_tz("America/Sao_Paulo")
        .expect("zone")
        .date();
    let mut d = today
        .checked_add((7 * weeks_ahead + 2).days())
        .expect("date in range");
    while d.weekday() != jiff::civil::Weekday::Monday {
        d = d.tomorrow().expect("date in range");
    }
    d
}

/// `date` + `n` days.
pub fn plus_days(date: jiff::civil::Date, n: i64) -> jiff::civil::Date {
    use jiff::ToSpan as _;
    date.checked_add(n.days()).expect("date in range")
}

/// The clinic-local datetime `YYYY-MM-DDTHH:MM:00`.
pub fn at(date: jiff::civil::Date, hhmm: &str) -> String {
    assert_eq!(hhmm.len(), 5, "time as HH:MM: {hhmm}");
    format!("{date}T{hhmm}:00")
}

/// Creates a working-hours entry (asserting 201) and returns the stored record.
pub async fn criar_horario(
    app: &TestApp,
    medico_id: &str,
    dia: &str,
    inicio: &str,
    fim: &str,
) -> Value {
    let r = app
        .post(
            &format!("/horarios/medico/{medico_id}"),
            &horario_body(dia, inicio, fim),
        )
        .await;
    r.expect_status(201);
    r.body
}

/// Sends every `(method, path, JSON body)` at once, each in its own task (run the test on
/// the multi-thread runtime so they really overlap); returns the statuses in order.
pub async fn send_all(
    app: &std::sync::Arc<TestApp>,
    requests: Vec<(axum::http::Method, String, Value)>,
) -> Vec<u16> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(method, path, body)| {
            let app = app.clone();
            tokio::spawn(async move { app.json(method, &path, &body).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    statuses
}
