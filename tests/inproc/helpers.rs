//! Body builders, record creation and problem assertions with the same names and shapes as
//! `tests/api/helpers.rs`, over the in-process [`TestApp`], so a handler test moves from
//! the socket harness by changing how it starts (`TestApp::new().await`).

use serde_json::{Value, json};

use crate::harness::{Resp, TestApp};

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

/// The two CPF check digits of a 9-digit base.
fn cpf_check_digits(base: &[u32; 9]) -> (u32, u32) {
    let d1 = {
        let s: u32 = base
            .iter()
            .enumerate()
            .map(|(i, d)| d * (10 - i as u32))
            .sum();
        let r = (s * 10) % 11;
        if r == 10 { 0 } else { r }
    };
    let d2 = {
        let s: u32 = base
            .iter()
            .enumerate()
            .map(|(i, d)| d * (11 - i as u32))
            .sum::<u32>()
            + d1 * 2;
        let r = (s * 10) % 11;
        if r == 10 { 0 } else { r }
    };
    (d1, d2)
}

/// A valid CPF (11 digits, never all equal), distinct for each seed below ~20 million.
pub fn cpf(seed: u64) -> String {
    let n = 100_000_001 + seed * 37;
    assert!(n < 1_000_000_000, "cpf seed too large");
    let s = format!("{n:09}");
    let mut base = [0u32; 9];
    for (i, c) in s.chars().enumerate() {
        base[i] = c.to_digit(10).expect("digit");
    }
    let (d1, d2) = cpf_check_digits(&base);
    format!("{s}{d1}{d2}")
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

/// The same CPF with a wrong last check digit.
pub fn cpf_invalido(seed: u64) -> String {
    let mut c = cpf(seed);
    let last = c.pop().and_then(|ch| ch.to_digit(10)).expect("digit");
    c.push(char::from_digit((last + 1) % 10, 10).expect("digit"));
    c
}

/// A valid patient body.
pub fn paciente_body(nome: &str, seed: u64) -> Value {
    json!({
        "nome": nome,
        "cpf": cpf(seed),
        "data_nascimento": "1985-04-12",
        "email": format!("paciente{seed}@exemplo.com.br"),
        "telefone": "(11) 98765-4321",
        "convenio": "Unimed"
    })
}

/// A valid doctor body; `crm_num` makes the CRM unique.
pub fn medico_body(nome: &str, crm_num: u32, especialidade: &str) -> Value {
    json!({
        "nome": nome,
        "crm": format!("CRM/SP {crm_num:06}"),
        "especialidade": especialidade,
        "email": format!("medico{crm_num}@clinica.com.br"),
        "telefone": "+55 11 3333-4444"
    })
}

/// A valid working-hours body.
pub fn horario_body(dia: &str, inicio: &str, fim: &str) -> Value {
    json!({"dia_semana": dia, "hora_inicio": inicio, "hora_fim": fim})
}

/// A valid appointment body.
pub fn consulta_body(paciente_id: &str, medico_id: &str, inicio: &str, fim: &str) -> Value {
    json!({"paciente_id": paciente_id, "medico_id": medico_id, "inicio": inicio, "fim": fim})
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

/// A string field of a JSON object (panics with the object otherwise).
pub fn str_field(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field:?} is not a string in {v}"))
        .to_string()
}

/// A random UUID that no record has.
pub fn unknown_id() -> String {
    uuid::Uuid::new_v4().to_string()
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

/// Asserts an RFC 9457 problem: status, content type, and every envelope field; returns the body.
#[track_caller]
pub fn assert_problem(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(
        r.status, status,
        "expected {status} {code}, got {} {}",
        r.status, r.text
    );
    let ct = r.header("content-type");
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type should be application/problem+json, got {ct:?} (body {})",
        r.text
    );
    let b = &r.body;
    assert_eq!(b["code"], json!(code), "code in {}", r.text);
    assert_eq!(b["status"], json!(status), "status field in {}", r.text);
    assert_eq!(
        b["type"],
        json!(format!("urn:agendamento:problema:{code}")),
        "type in {}",
        r.text
    );
    assert!(
        b["title"].as_str().is_some_and(|s| !s.trim().is_empty()),
        "title should be a non-empty string in {}",
        r.text
    );
    assert!(
        b["detail"].as_str().is_some_and(|s| !s.trim().is_empty()),
        "detail should be a non-empty string in {}",
        r.text
    );
    if let Some(errors) = b.get("errors") {
        let arr = errors
            .as_array()
            .unwrap_or_else(|| panic!("errors should be an array in {}", r.text));
        for e in arr {
            assert!(
                e["campo"].is_string() && e["mensagem"].as_str().is_some_and(|m| !m.is_empty()),
                "each error needs campo and mensagem: {}",
                r.text
            );
        }
    }
    b.clone()
}

/// The `campo` names of a problem's `errors`.
pub fn campos(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["campo"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts a 422 validation problem whose `errors` names one of `expected` fields.
#[track_caller]
pub fn assert_validation(r: &Resp, expected: &[&str], reason: &str) {
    assert_eq!(
        r.status, 422,
        "[{reason}] expected 422, got {} {}",
        r.status, r.text
    );
    let body = assert_problem(r, 422, "validation_failed");
    if !expected.is_empty() {
        let got = campos(&body);
        assert!(
            got.iter().any(|c| expected.contains(&c.as_str())),
            "[{reason}] errors should name one of {expected:?}, got {got:?} in {}",
            r.text
        );
    }
}

/// The `id`s of a JSON array, in order.
pub fn ids(v: &[Value]) -> Vec<String> {
    v.iter().map(|x| str_field(x, "id")).collect()
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

/// An optional field sent as "" or null must come back absent or null.
pub fn is_absent(v: &Value, field: &str) -> bool {
    v.get(field).is_none_or(Value::is_null)
}

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.as_bytes() {
        match *b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(*b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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

/// How many of `statuses` are `code`.
pub fn count_status(statuses: &[u16], code: u16) -> usize {
    statuses.iter().filter(|s| **s == code).count()
}
