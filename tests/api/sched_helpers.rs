//! Helpers for the scheduling tests (SPEC §2 agendar, §3, §4, §5): future dates on a known
//! weekday, doctors with working hours, the slot agenda read in the server's own order,
//! waiting for tasks, and a small Server-Sent Events reader over a raw response body.

use std::time::{Duration, Instant};

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use serde_json::{Value, json};

use crate::helpers::*;

/// How long a single booking task may take to finish in a test.
pub const TASK_TIMEOUT: Duration = Duration::from_secs(30);

/// Today in the clinic's default zone (`America/Sao_Paulo`).
pub fn today_in(tz: &str) -> Date {
    jiff::Timestamp::now()
        .in_tz(tz)
        .unwrap_or_else(|e| panic!("time zone {tz}: {e}"))
        .date()
}

/// A Monday at least `weeks_ahead` whole weeks after today (never in the past, whatever
/// the zone), so tests keep working in any year.
pub fn monday(weeks_ahead: i64) -> Date {
    let mut d = today_in("America/Sao_Paulo")
        .checked_add((7 * weeks_ahead + 2).days())
        .expect("date in range");
    while d.weekday() != Weekday::Monday {
        d = d.tomorrow().expect("date in range");
    }
    d
}

/// A Monday in the past (always before today).
pub fn past_monday() -> Date {
    let mut d = today_in("America/Sao_Paulo")
        .checked_sub(14.days())
        .expect("date in range");
    while d.weekday() != Weekday::Monday {
        d = d.yesterday().expect("date in range");
    }
    d
}

/// `date` + `n` days.
pub fn plus_days(date: Date, n: i64) -> Date {
    date.checked_add(n.days()).expect("date in range")
}

/// The clinic-local datetime string `YYYY-MM-DDTHH:MM:00` of a date and `HH:MM`.
pub fn at(date: Date, hhmm: &str) -> String {
    assert_eq!(hhmm.len(), 5, "time as HH:MM: {hhmm}");
    format!("{date}T{hhmm}:00")
}

/// Creates a doctor (CRM number `crm`) with the given horários `(dia, inicio, fim)`; returns its id.
pub async fn medico_com_horarios(
    srv: &TestServer,
    crm: u32,
    horarios: &[(&str, &str, &str)],
) -> String {
    let m = criar_medico(srv, &format!("Dr. Agenda {crm}"), crm, "Clínica Geral").await;
    let id = str_field(&m, "id");
    for (dia, ini, fim) in horarios {
        criar_horario(srv, &id, dia, ini, fim).await;
    }
    id
}

/// Creates `n` patients with distinct valid CPFs (seeds `seed0..seed0+n`), a few at a
/// time; returns their ids in seed order.
pub async fn criar_pacientes(srv: &TestServer, n: u64, seed0: u64) -> Vec<String> {
    let mut ids = Vec::with_capacity(n as usize);
    let seeds: Vec<u64> = (seed0..seed0 + n).collect();
    for chunk in seeds.chunks(25) {
        let futs = chunk.iter().map(|s| {
            let body = paciente_body(&format!("Paciente Fila {s}"), *s);
            let client = srv.client.clone();
            let url = srv.url("/pacientes");
            async move {
                read(
                    client
                        .post(url)
                        .json(&body)
                        .send()
                        .await
                        .expect("POST /pacientes"),
                )
                .await
            }
        });
        for r in futures_util::future::join_all(futs).await {
            r.expect_status(201);
            ids.push(r.id());
        }
    }
    ids
}

/// The `/agenda/slots` answer in the order the server wrote it:
/// `[(medico_id, [(slot, state), ...]), ...]`. (serde_json's map sorts keys, so the order
/// the SPEC promises is read from the raw text.)
pub fn ordered_slots(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut depth = 0;
    let mut pending_key: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next().expect("unterminated string in slots answer") {
                        '"' => break,
                        '\\' => s.push(chars.next().expect("escape")),
                        ch => s.push(ch),
                    }
                }
                match depth {
                    1 => out.push((s, Vec::new())),
                    2 => match pending_key.take() {
                        None => pending_key = Some(s),
                        Some(k) => out.last_mut().expect("doctor key").1.push((k, s)),
                    },
                    d => panic!("unexpected string at depth {d} in slots answer: {text}"),
                }
            }
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unbalanced slots answer: {text}");
    out
}

/// GET `/agenda/slots?{query}` asserting 200; returns the ordered answer.
pub async fn get_slots(srv: &TestServer, query: &str) -> Vec<(String, Vec<(String, String)>)> {
    let r = srv.get(&format!("/agenda/slots?{query}")).await;
    r.expect_status(200);
    assert!(
        r.body.is_object(),
        "slots answer should be a JSON object: {}",
        r.text
    );
    ordered_slots(&r.text)
}

/// One doctor's slots `[(slot, state)]` over `days` days from `de`.
pub async fn slots_of(
    srv: &TestServer,
    medico_id: &str,
    de: Date,
    days: u32,
) -> Vec<(String, String)> {
    let all = get_slots(srv, &format!("medico_id={medico_id}&de={de}&days={days}")).await;
    assert_eq!(
        all.len(),
        1,
        "filtered answer should hold one doctor: {all:?}"
    );
    assert_eq!(all[0].0, medico_id);
    all.into_iter().next().expect("one doctor").1
}

/// The state of one slot (panics when the slot is not in the agenda).
pub async fn slot_state(srv: &TestServer, medico_id: &str, slot: &str) -> String {
    let date: Date = slot[..10].parse().expect("slot date");
    slots_of(srv, medico_id, date, 1)
        .await
        .into_iter()
        .find(|(s, _)| s == slot)
        .unwrap_or_else(|| panic!("slot {slot} not in the agenda of {medico_id}"))
        .1
}

/// POST `/agenda/reservar`.
pub async fn reservar(srv: &TestServer, medico_id: &str, slot: &str) -> Resp {
    srv.post(
        "/agenda/reservar",
        &json!({"medico_id": medico_id, "slot": slot}),
    )
    .await
}

/// POST `/agenda/liberar`.
pub async fn liberar(srv: &TestServer, medico_id: &str, slot: &str) -> Resp {
    srv.post(
        "/agenda/liberar",
        &json!({"medico_id": medico_id, "slot": slot}),
    )
    .await
}

/// POST `/consultas/agendar`.
pub async fn agendar(
    srv: &TestServer,
    paciente_id: &str,
    medico_id: &str,
    inicio: &str,
    fim: &str,
) -> Resp {
    srv.post(
        "/consultas/agendar",
        &consulta_body(paciente_id, medico_id, inicio, fim),
    )
    .await
}

/// POST `/consultas/agendar` asserting 202; returns the task id.
pub async fn agendar_ok(
    srv: &TestServer,
    paciente_id: &str,
    medico_id: &str,
    inicio: &str,
    fim: &str,
) -> String {
    let r = agendar(srv, paciente_id, medico_id, inicio, fim).await;
    r.expect_status(202);
    str_field(&r.body, "task_id")
}

/// Whether a task status is final.
pub fn is_final(status: &str) -> bool {
    matches!(status, "concluida" | "falhou")
}

/// Polls `GET /sistema/tasks/{id}` until the task is final (bounded); returns it.
pub async fn wait_task(srv: &TestServer, task_id: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let r = srv.get(&format!("/sistema/tasks/{task_id}")).await;
        r.expect_status(200);
        if r.body["status"].as_str().is_some_and(is_final) {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "task {task_id} not finished after {timeout:?}: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every task (all pages), newest first.
pub async fn all_tasks(srv: &TestServer, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let r = srv
            .get(&format!(
                "/sistema/tasks?limit=5000&offset={}{}{query}",
                out.len(),
                if query.is_empty() { "" } else { "&" }
            ))
            .await;
        r.expect_status(200);
        let total = r.total_count() as usize;
        let page = r.array().clone();
        let empty = page.is_empty();
        out.extend(page);
        if out.len() >= total || empty {
            return out;
        }
    }
}

/// Polls until no task is `pendente` or `executando` (bounded); returns every task.
pub async fn wait_all_tasks_final(srv: &TestServer, timeout: Duration) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let tasks = all_tasks(srv, "").await;
        let open = tasks
            .iter()
            .filter(|t| !t["status"].as_str().is_some_and(is_final))
            .count();
        if open == 0 {
            return tasks;
        }
        assert!(
            Instant::now() < deadline,
            "{open} of {} tasks still unfinished after {timeout:?}",
            tasks.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Server-Sent Events
// ---------------------------------------------------------------------------------------------

/// One SSE message as it came over the wire.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// The `id:` field, if any.
    pub id: Option<String>,
    /// The `event:` field, if any (the SPEC wants none: unnamed events).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

impl SseEvent {
    /// The id as a number (panics when absent or not a number).
    pub fn id_num(&self) -> u64 {
        self.id
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("event without a numeric id: {self:?}"))
    }

    /// The data parsed as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }

    /// `tipo` of an agenda event.
    pub fn tipo(&self) -> String {
        self.json()["tipo"].as_str().unwrap_or("").to_string()
    }

    /// `dados` of an agenda event.
    pub fn dados(&self) -> Value {
        self.json()["dados"].clone()
    }
}

/// A client without a total timeout, for streams that stay open.
pub fn stream_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's rustls (SPEC-2 §13 webhooks) needs one
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("build stream client")
}

/// An open SSE response read chunk by chunk.
pub struct SseStream {
    resp: reqwest::Response,
    /// Bytes not yet split into messages (a chunk may end inside a UTF-8 character).
    buf: Vec<u8>,
    /// Everything received so far, for assertions on the raw format.
    pub raw: String,
    /// Every event returned so far, in order.
    pub seen: Vec<SseEvent>,
    /// The response's content type.
    pub content_type: String,
}

impl SseStream {
    /// Opens `path` on the server, optionally with `Last-Event-ID`; asserts 200.
    /// When this returns the server has subscribed the client (the headers came back).
    pub async fn open(srv: &TestServer, path: &str, last_event_id: Option<&str>) -> Self {
        let mut req = stream_client()
            .get(srv.url(path))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = tokio::time::timeout(Duration::from_secs(10), req.send())
            .await
            .expect("stream answered within 10 s")
            .expect("open stream");
        assert_eq!(resp.status().as_u16(), 200, "stream {path} status");
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        SseStream {
            resp,
            buf: Vec::new(),
            raw: String::new(),
            seen: Vec::new(),
            content_type,
        }
    }

    /// The next event (keep-alive comments skipped), or `None` when `timeout` passes or
    /// the stream ends.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(ev) = self.parse_one() {
                self.seen.push(ev.clone());
                return Some(ev);
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await;
            match chunk {
                Err(_) => return None,
                Ok(Err(e)) => panic!("stream read error: {e}"),
                Ok(Ok(None)) => return None,
                Ok(Ok(Some(bytes))) => self.buf.extend_from_slice(&bytes),
            }
        }
    }

    /// Takes one complete message off the buffer, skipping comment-only blocks.
    fn parse_one(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buf.windows(2).position(|w| w == b"\n\n")?;
            let bytes: Vec<u8> = self.buf.drain(..end + 2).collect();
            let block = String::from_utf8(bytes[..end].to_vec())
                .unwrap_or_else(|e| panic!("SSE message is not UTF-8: {e}"))
                .replace("\r\n", "\n");
            self.raw.push_str(&block);
            self.raw.push_str("\n\n");
            let mut ev = SseEvent {
                id: None,
                event: None,
                data: String::new(),
            };
            let mut has_data = false;
            for line in block.lines() {
                if line.starts_with(':') {
                    continue;
                }
                let (field, value) = match line.split_once(':') {
                    Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                    None => (line, ""),
                };
                match field {
                    "id" => ev.id = Some(value.to_string()),
                    "event" => ev.event = Some(value.to_string()),
                    "data" => {
                        if has_data {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(value);
                        has_data = true;
                    }
                    _ => {}
                }
            }
            if has_data || ev.id.is_some() || ev.event.is_some() {
                return Some(ev);
            }
        }
    }

    /// Reads events until one satisfies `pred` (bounded); returns it. Events read on the
    /// way stay in `seen`.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&SseEvent) -> bool,
    ) -> SseEvent {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(ev) if pred(&ev) => return ev,
                Some(_) => {}
                None => panic!("no event {what} within {timeout:?}; seen: {:#?}", self.seen),
            }
        }
    }

    /// Reads exactly `n` events (bounded).
    pub async fn take(&mut self, n: usize, timeout: Duration) -> Vec<SseEvent> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(ev) => out.push(ev),
                None => panic!(
                    "only {} of {n} events within {timeout:?}: {out:#?}",
                    out.len()
                ),
            }
        }
        out
    }
}

/// Whether an agenda event is `tipo` about this doctor's slot.
pub fn is_slot_event(ev: &SseEvent, tipo: &str, medico_id: &str, slot: &str) -> bool {
    let d = ev.dados();
    ev.tipo() == tipo && d["medico_id"] == json!(medico_id) && d["slot"] == json!(slot)
}
