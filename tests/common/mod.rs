//! What both integration-test binaries share (`tests/api`: the real binary over a socket;
//! `tests/inproc`: the router in-process): the read response, valid body builders, and the
//! problem+json assertions (SPEC §1). Each binary includes this file with `#[path]` and
//! re-exports it from its own `helpers`.

// Each binary uses a different part of this file.
#![allow(dead_code)]

use http::HeaderMap;
use serde_json::{Value, json};

/// A fully read HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// Body as JSON, `Value::Null` when empty or not JSON.
    pub body: Value,
    /// Body as text.
    pub text: String,
}

impl Resp {
    /// A header as a string ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// `x-total-count` as a number.
    pub fn total_count(&self) -> u64 {
        self.header("x-total-count")
            .parse()
            .unwrap_or_else(|_| panic!("x-total-count missing or not a number: {self:?}"))
    }

    /// The body as an array (panics with the response otherwise).
    pub fn array(&self) -> &Vec<Value> {
        self.body
            .as_array()
            .unwrap_or_else(|| panic!("expected a JSON array, got {} {}", self.status, self.text))
    }

    /// Asserts the status, printing the whole response on failure.
    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "expected status {status}, got {} with body {}",
            self.status, self.text
        );
        self
    }

    /// Asserts a problem+json answer with this status and code (the whole envelope: see
    /// [`assert_problem`]).
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) -> &Self {
        assert_problem(self, status, code);
        self
    }

    /// The `id` field of the body.
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no string id in {} {}", self.status, self.text))
            .to_string()
    }
}

/// The two CPF check digits of a 9-digit base.
pub fn cpf_check_digits(base: &[u32; 9]) -> (u32, u32) {
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

/// A string field of a JSON object (panics with the object otherwise).
pub fn str_field(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field:?} is not a string in {v}"))
        .to_string()
}

/// The `id`s of a JSON array, in order.
pub fn ids(v: &[Value]) -> Vec<String> {
    v.iter().map(|x| str_field(x, "id")).collect()
}

/// A random UUID that no record has.
pub fn unknown_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An optional field sent as "" or null must come back absent or null.
pub fn is_absent(v: &Value, field: &str) -> bool {
    v.get(field).is_none_or(Value::is_null)
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

/// Percent-encodes a query-string value (reqwest's `query` feature is off).
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

/// How many of `statuses` are `code`.
pub fn count_status(statuses: &[u16], code: u16) -> usize {
    statuses.iter().filter(|s| **s == code).count()
}
