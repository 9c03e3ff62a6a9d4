//! Scheduling, backup and report benchmarks (subcommands `sched-setup`, `sched-fill`, `book`,
//! `slots`, `sched-blocks`, `backup-load`, `report`; see bench/README.md).
//!
//! The future grid: every doctor works every day 00:00-23:30 (7 horários each), so each day has
//! `PER_DAY` = 47 slots of 30 minutes (00:00 .. 23:00). Cell number c is doctor `c % D`, slot
//! `t = c / D` counted from `base` 00:00 (a date at least 2 days ahead, chosen at setup and
//! kept in the state file), patient `c % P`. Every cell is used once (bookings, then the
//! preload), so no doctor and no patient is ever double-booked.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::sse::{SseConn, host_port, proc_kib};
use crate::{
    Args, BodyFn, Errors, Res, State, Stats, client, consulta_body, cpf, create_many, error_kind,
    post_bodies_conc, post_json, result,
};

const HORA_INICIO: &str = "00:00";
const HORA_FIM: &str = "23:30";
pub(crate) const PER_DAY: u64 = 47;
const STEP_MIN: i64 = 30;
const DIAS: [&str; 7] = [
    "segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo",
];

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The ids created by `sched-setup` and the grid's first day.
pub(crate) struct Grid {
    pub(crate) medicos: Vec<String>,
    pub(crate) pacientes: Vec<String>,
    pub(crate) base: jiff::civil::Date,
}

impl Grid {
    pub(crate) fn load(path: &str) -> Res<Grid> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let base: jiff::civil::Date = v["base"]
            .as_str()
            .ok_or_else(|| format!("{path}: no base date"))?
            .parse()
            .map_err(|e| format!("{path}: base: {e}"))?;
        let g = Grid {
            medicos: list("medicos"),
            pacientes: list("pacientes"),
            base,
        };
        if g.medicos.is_empty() || g.pacientes.is_empty() {
            return Err(format!("{path}: no médicos or pacientes"));
        }
        Ok(g)
    }

    fn slot_of(&self, t: u64) -> jiff::civil::DateTime {
        let day = (t / PER_DAY) as i64;
        let min = (t % PER_DAY) as i64 * STEP_MIN;
        self.base
            .checked_add(jiff::Span::new().days(day))
            .expect("date in range")
            .at((min / 60) as i8, (min % 60) as i8, 0, 0)
    }

    /// (medico_id, inicio, fim, paciente_id) of cell c.
    pub(crate) fn cell(&self, c: u64) -> (String, String, String, String) {
        let nd = self.medicos.len() as u64;
        let np = self.pacientes.len() as u64;
        let s = self.slot_of(c / nd);
        let e = s
            .checked_add(jiff::Span::new().minutes(STEP_MIN))
            .expect("in range");
        let f = |d: jiff::civil::DateTime| d.strftime("%Y-%m-%dT%H:%M:%S").to_string();
        (
            self.medicos[(c % nd) as usize].clone(),
            f(s),
            f(e),
            self.pacientes[(c % np) as usize].clone(),
        )
    }

    pub(crate) fn body(&self, c: u64) -> Value {
        let (m, i, f, p) = self.cell(c);
        json!({"paciente_id": p, "medico_id": m, "inicio": i, "fim": f})
    }

    fn capacity(&self, days: u64) -> u64 {
        days * PER_DAY * self.medicos.len() as u64
    }
}

fn today(tz: &str) -> Res<jiff::civil::Date> {
    let z = jiff::tz::TimeZone::get(tz).map_err(|e| format!("time zone {tz}: {e}"))?;
    Ok(jiff::Timestamp::now().to_zoned(z).date())
}

// ---------------------------------------------------------------------------------------------
// sched-setup

/// `sched-setup --base URL --state F [--doctors 50] [--patients 2000] [--concurrency 32]
/// [--timezone America/Sao_Paulo] [--ahead-days 2]`
pub async fn setup(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let state = a.s("state")?;
    let nd = a.n_or("doctors", 50)? as usize;
    let np = a.n_or("patients", 2000)? as usize;
    let conc = a.n_or("concurrency", 32)? as usize;
    let tz = a.s_or("timezone", "America/Sao_Paulo");
    let ahead = a.n_or("ahead-days", 2)? as i64;
    let c = client(conc)?;
    let t0 = Instant::now();
    let medicos = create_many(&c, &format!("{base}/medicos"), nd, conc, |i| {
        json!({
            "nome": format!("Dr. Agenda {i:03}"),
            "crm": format!("CRM/RJ {}", 300_000 + i),
            "especialidade": if i % 3 == 0 { "Pediatria" } else { "Clínica Geral" },
        })
    })
    .await?;
    let pacientes = create_many(&c, &format!("{base}/pacientes"), np, conc, |i| {
        json!({
            "nome": format!("Paciente Agenda {i:05}"),
            "cpf": cpf(500_000 + i as u64),
            "data_nascimento": "1975-03-09",
        })
    })
    .await?;
    // 7 horários per doctor.
    let jobs: Vec<(String, &'static str)> = medicos
        .iter()
        .flat_map(|m| DIAS.iter().map(move |d| (m.clone(), *d)))
        .collect();
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conc.max(1) {
        let (c, jobs, next, base) = (c.clone(), jobs.clone(), next.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((m, d)) = jobs.get(i) else { break };
                let url = format!("{base}/horarios/medico/{m}");
                let body =
                    json!({"dia_semana": d, "hora_inicio": HORA_INICIO, "hora_fim": HORA_FIM});
                let (st, text, _) = post_json(&c, &url, &body).await?;
                if st != 201 {
                    return Err(format!("POST {url}: HTTP {st}: {text}"));
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let base_date = today(&tz)?
        .checked_add(jiff::Span::new().days(ahead))
        .map_err(|e| e.to_string())?;
    println!(
        "sched-setup: {} médicos with {} horários ({HORA_INICIO}-{HORA_FIM}, every day) and {} pacientes in {:.1} s; grid from {base_date} ({tz})",
        medicos.len(),
        jobs.len(),
        pacientes.len(),
        t0.elapsed().as_secs_f64()
    );
    let v = json!({"medicos": medicos, "pacientes": pacientes, "base": base_date.to_string(), "timezone": tz});
    std::fs::write(
        &state,
        serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{state}: {e}"))?;
    let g = Grid::load(&state)?;
    result("sched_capacity_28d", g.capacity(28));
    // The first cell and slot, for the fan-out trigger: `show` equivalents.
    let (m, i, _, _) = g.cell(g.capacity(26));
    result("fanout_medico", m);
    result("fanout_slot", i);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// sched-fill: POST /consultas on grid cells

/// `sched-fill --base URL --state F --from C0 --to C1 [--concurrency 32] [--max-secs 600] [--label L]`
pub async fn fill(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let g = Arc::new(Grid::load(&a.s("state")?)?);
    let from = a.n("from")?;
    let to = a.n("to")?;
    let conc = a.n_or("concurrency", 32)? as usize;
    let max_secs = a.f_or("max-secs", 600.0)?;
    let label = a.s_or("label", "sched_fill");
    let body: BodyFn = {
        let g = g.clone();
        Arc::new(move |c| g.body(c))
    };
    let mut o = post_bodies_conc(&base, body, from, to, conc, max_secs, true).await?;
    let st = Stats::of(&mut o.lat);
    let n = o.ok + o.errors.total();
    let (_, first, _, _) = g.cell(from);
    let (_, last, _, _) = g.cell(to.saturating_sub(1).max(from));
    println!(
        "{label}: grid cells {from}..{to} ({first} .. {last}): {} created in {:.1} s ({:.0} req/s, c={conc}, p50 {:.2} ms, p99 {:.2} ms){}",
        o.ok,
        o.elapsed,
        n as f64 / o.elapsed,
        st.p50,
        st.p99,
        if o.stopped_by_time {
            " -- STOPPED BY TIME LIMIT"
        } else {
            ""
        }
    );
    result(&format!("{label}_created"), o.ok);
    result(&format!("{label}_secs"), format!("{:.1}", o.elapsed));
    result(
        &format!("{label}_rps"),
        format!("{:.0}", n as f64 / o.elapsed),
    );
    o.errors.report(&label);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// book: POST /consultas/agendar -> horario_ocupado on the SSE stream

#[derive(Default)]
pub(crate) struct Watch {
    /// "medico_id|slot" -> who waits for its horario_ocupado.
    waiters: Mutex<HashMap<String, tokio::sync::oneshot::Sender<Instant>>>,
    pub(crate) events: AtomicU64,
    pub(crate) unmatched: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) connected: AtomicBool,
    pub(crate) stop: AtomicBool,
    pub(crate) errors: Mutex<Vec<String>>,
}

/// Waits until `w`'s subscriber is connected, at most 10 s after `since`.
pub(crate) async fn connected(w: &Watch, since: Instant) -> Res<()> {
    while !w.connected.load(Ordering::Relaxed) {
        if since.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "SSE subscriber not connected: {:?}",
                lock(&w.errors)
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Reads the agenda stream, wakes the booking that waits for each `horario_ocupado`;
/// reconnects with `Last-Event-ID` (at most 5 times) if the server ends the stream.
pub(crate) async fn listen(hp: String, w: Arc<Watch>) {
    let mut last: Option<u64> = None;
    let mut attempts = 0;
    while attempts <= 5 && !w.stop.load(Ordering::Relaxed) {
        let mut conn = match SseConn::open(&hp, "/sistema/agenda/stream", last).await {
            Ok(c) => c,
            Err(e) => {
                lock(&w.errors).push(format!("SSE open: {e}"));
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if attempts > 0 {
            w.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        w.connected.store(true, Ordering::Relaxed);
        loop {
            match conn.next().await {
                Ok(Some(ev)) => {
                    let now = Instant::now();
                    if ev.id.is_some() {
                        last = ev.id;
                    }
                    w.events.fetch_add(1, Ordering::Relaxed);
                    let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                        lock(&w.errors).push(format!("SSE data is not JSON: {}", ev.data));
                        continue;
                    };
                    if v["tipo"] == "horario_ocupado" {
                        let d = &v["dados"];
                        let key = format!(
                            "{}|{}",
                            d["medico_id"].as_str().unwrap_or(""),
                            d["slot"].as_str().unwrap_or("")
                        );
                        let waiter = lock(&w.waiters).remove(&key);
                        match waiter {
                            Some(tx) => {
                                let _ = tx.send(now);
                            }
                            None => {
                                w.unmatched.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    lock(&w.errors).push(format!("SSE read: {e}"));
                    break;
                }
            }
        }
        if w.stop.load(Ordering::Relaxed) {
            break;
        }
        lock(&w.errors).push(format!("SSE stream ended (last id {last:?}); reconnecting"));
        attempts += 1;
    }
}

pub(crate) struct BookOutcome {
    pub(crate) e2e: Vec<Duration>,
    pub(crate) http: Vec<Duration>,
    pub(crate) n409: u64,
    pub(crate) timeouts: u64,
    pub(crate) errors: Errors,
    pub(crate) elapsed: f64,
    pub(crate) sent: u64,
}

async fn book_run(
    base: &str,
    g: Arc<Grid>,
    w: Arc<Watch>,
    from: u64,
    to: u64,
    conc: usize,
    max_secs: f64,
) -> Res<BookOutcome> {
    let next = Arc::new(AtomicU64::new(from));
    book_run_shared(base, g, w, next, to, conc, max_secs).await
}

/// [`book_run`] taking its cells from `next` (up to `to`), which several runs may share
/// (one per instance, `bench/instancias.rs`).
pub(crate) async fn book_run_shared(
    base: &str,
    g: Arc<Grid>,
    w: Arc<Watch>,
    next: Arc<AtomicU64>,
    to: u64,
    conc: usize,
    max_secs: f64,
) -> Res<BookOutcome> {
    let c = client(conc)?;
    let url = format!("{base}/consultas/agendar");
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(max_secs);
    let mut tasks = Vec::new();
    for _ in 0..conc.max(1) {
        let (c, url, g, w, next) = (c.clone(), url.clone(), g.clone(), w.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut o = BookOutcome {
                e2e: Vec::new(),
                http: Vec::new(),
                n409: 0,
                timeouts: 0,
                errors: Errors::default(),
                elapsed: 0.0,
                sent: 0,
            };
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= to {
                    break;
                }
                let (m, inicio, fim, p) = g.cell(k);
                let key = format!("{m}|{inicio}");
                let body = json!({"paciente_id": p, "medico_id": m, "inicio": inicio, "fim": fim});
                let (tx, rx) = tokio::sync::oneshot::channel();
                lock(&w.waiters).insert(key.clone(), tx);
                o.sent += 1;
                let t0 = Instant::now();
                match post_json(&c, &url, &body).await {
                    Ok((202, _, d)) => {
                        o.http.push(d);
                        match tokio::time::timeout(Duration::from_secs(30), rx).await {
                            Ok(Ok(seen)) => o.e2e.push(seen.saturating_duration_since(t0)),
                            _ => {
                                lock(&w.waiters).remove(&key);
                                o.timeouts += 1;
                            }
                        }
                    }
                    Ok((st, text, _)) => {
                        lock(&w.waiters).remove(&key);
                        if st == 409 {
                            o.n409 += 1;
                        }
                        o.errors.add(
                            error_kind(st, &text),
                            format!("cell {k} ({m} {inicio}): {text}"),
                        );
                    }
                    Err(e) => {
                        lock(&w.waiters).remove(&key);
                        o.errors.add("transport".into(), format!("cell {k}: {e}"));
                    }
                }
            }
            o
        }));
    }
    let mut all = BookOutcome {
        e2e: Vec::new(),
        http: Vec::new(),
        n409: 0,
        timeouts: 0,
        errors: Errors::default(),
        elapsed: 0.0,
        sent: 0,
    };
    for t in tasks {
        let o = t.await.map_err(|e| e.to_string())?;
        all.e2e.extend(o.e2e);
        all.http.extend(o.http);
        all.n409 += o.n409;
        all.timeouts += o.timeouts;
        all.errors.merge(o.errors);
        all.sent += o.sent;
    }
    all.elapsed = start.elapsed().as_secs_f64();
    Ok(all)
}

/// GET url; returns (status, x-total-count, body).
pub(crate) async fn get_text(c: &reqwest::Client, url: &str) -> Res<(u16, Option<u64>, String)> {
    let r = c
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let st = r.status().as_u16();
    let tc = r
        .headers()
        .get("x-total-count")
        .and_then(|h| h.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = r.text().await.map_err(|e| format!("GET {url}: {e}"))?;
    Ok((st, tc, body))
}

/// `book --base URL --state F --from C0 [--count 1000] [--concurrency 32] [--seq 200]
/// [--max-secs 120]`
pub async fn book(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let hp = host_port(&base)?;
    let g = Arc::new(Grid::load(&a.s("state")?)?);
    let from = a.n("from")?;
    let count = a.n_or("count", 1000)?;
    let conc = a.n_or("concurrency", 32)? as usize;
    let seq = a.n_or("seq", 200)?;
    let max_secs = a.f_or("max-secs", 120.0)?;

    let w = Arc::new(Watch::default());
    let listener = tokio::spawn(listen(hp, w.clone()));
    connected(&w, Instant::now()).await?;
    // Warm-up: 10 sequential bookings (not counted), so connections and caches are warm.
    let warm = 10;
    let o = book_run(&base, g.clone(), w.clone(), from, from + warm, 1, 30.0).await?;
    o.errors.report("book_warmup");

    let from_c = from + warm;
    let mut oc = book_run(
        &base,
        g.clone(),
        w.clone(),
        from_c,
        from_c + count,
        conc,
        max_secs,
    )
    .await?;
    let ok_c = oc.e2e.len() as u64;
    let rps = ok_c as f64 / oc.elapsed;
    let sc = Stats::of(&mut oc.e2e);
    let hc = Stats::of(&mut oc.http);
    println!(
        "book concurrent: {} POST /consultas/agendar at concurrency {conc} in {:.2} s: {ok_c} seen as horario_ocupado -> {rps:.0} bookings/s; request -> event p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (202 answer p50 {:.2} ms, p99 {:.2} ms); {} x 409, {} not seen within 30 s",
        oc.sent, oc.elapsed, sc.p50, sc.p99, sc.max, hc.p50, hc.p99, oc.n409, oc.timeouts
    );
    oc.errors.report("book_conc");

    let from_s = from_c + count;
    let mut os = book_run(
        &base,
        g.clone(),
        w.clone(),
        from_s,
        from_s + seq,
        1,
        max_secs,
    )
    .await?;
    let ss = Stats::of(&mut os.e2e);
    let hs = Stats::of(&mut os.http);
    println!(
        "book sequential: {} bookings one at a time in {:.2} s: request -> event p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (202 answer p50 {:.2} ms, p99 {:.2} ms); {} x 409, {} not seen within 30 s",
        os.sent, os.elapsed, ss.p50, ss.p99, ss.max, hs.p50, hs.p99, os.n409, os.timeouts
    );
    os.errors.report("book_seq");

    // Tasks: all agendar_consulta ones must have ended concluida.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = client(1)?;
    let mut counts = BTreeMap::new();
    for st in ["pendente", "executando", "concluida", "falhou"] {
        let (code, tc, body) = get_text(
            &c,
            &format!("{base}/sistema/tasks?tipo=agendar_consulta&status={st}&limit=3"),
        )
        .await?;
        if code != 200 {
            println!("  GET /sistema/tasks?status={st}: HTTP {code}: {body}");
        }
        let n = tc.unwrap_or(u64::MAX);
        if st == "falhou" && n > 0 {
            println!(
                "  tasks falhou: {n}; e.g. {}",
                body.chars().take(600).collect::<String>()
            );
        }
        counts.insert(st, n);
    }
    println!(
        "book: tasks agendar_consulta by status: {counts:?}; SSE: {} events read, {} horario_ocupado not waited for, {} reconnects",
        w.events.load(Ordering::Relaxed),
        w.unmatched.load(Ordering::Relaxed),
        w.reconnects.load(Ordering::Relaxed)
    );
    for e in lock(&w.errors).iter().take(5) {
        println!("  SSE: {e}");
    }
    w.stop.store(true, Ordering::Relaxed);
    listener.abort();

    result("book_conc_sent", oc.sent);
    result("book_conc_ok", ok_c);
    result("book_conc_secs", format!("{:.2}", oc.elapsed));
    result("book_conc_rps", format!("{rps:.0}"));
    result("book_conc_p50_ms", format!("{:.2}", sc.p50));
    result("book_conc_p99_ms", format!("{:.2}", sc.p99));
    result("book_conc_http_p50_ms", format!("{:.2}", hc.p50));
    result("book_seq_n", ss.n);
    result("book_seq_p50_ms", format!("{:.2}", ss.p50));
    result("book_seq_p99_ms", format!("{:.2}", ss.p99));
    result("book_409", oc.n409 + os.n409 + o.n409);
    result("book_timeouts", oc.timeouts + os.timeouts + o.timeouts);
    result(
        "book_other_errors",
        oc.errors.total() + os.errors.total() + o.errors.total() - (oc.n409 + os.n409 + o.n409),
    );
    result(
        "book_tasks_falhou",
        counts.get("falhou").copied().unwrap_or(u64::MAX),
    );
    result(
        "book_tasks_concluida",
        counts.get("concluida").copied().unwrap_or(u64::MAX),
    );
    result(
        "book_tasks_unfinished",
        counts.get("pendente").copied().unwrap_or(0)
            + counts.get("executando").copied().unwrap_or(0),
    );
    result("book_total", o.sent + oc.sent + os.sent);
    result("book_sse_reconnects", w.reconnects.load(Ordering::Relaxed));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// slots

/// `slots --base URL [--days 30] [--count 200] [--warmup 10] [--max-secs 120]`
pub async fn slots(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let label = a.s_or("label", "slots");
    let days = a.n_or("days", 30)?;
    let count = a.n_or("count", 200)?;
    let warmup = a.n_or("warmup", 10)?;
    let max_secs = a.f_or("max-secs", 120.0)?;
    let url = format!("{base}/agenda/slots?days={days}");
    let c = client(1)?;
    let mut lat = Vec::new();
    let mut errors = Errors::default();
    let mut last = bytes::Bytes::new();
    let start = Instant::now();
    for i in 0..warmup + count {
        if start.elapsed().as_secs_f64() > max_secs {
            break;
        }
        let t = Instant::now();
        let r = match c.get(&url).send().await {
            Ok(r) => r,
            Err(e) => {
                errors.add("transport".into(), e.to_string());
                continue;
            }
        };
        let st = r.status().as_u16();
        let body = match r.bytes().await {
            Ok(b) => b,
            Err(e) => {
                errors.add("transport".into(), e.to_string());
                continue;
            }
        };
        let d = t.elapsed();
        if i >= warmup {
            lat.push(d);
        }
        if st != 200 {
            errors.add(
                format!("HTTP {st}"),
                String::from_utf8_lossy(&body).into_owned(),
            );
        } else {
            last = body;
        }
    }
    let s = Stats::of(&mut lat);
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    let mut doctors = 0;
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&last) {
        doctors = m.len();
        for (_, v) in m {
            if let Value::Object(slots) = v {
                for (_, st) in slots {
                    *states
                        .entry(st.as_str().unwrap_or("?").to_string())
                        .or_default() += 1;
                }
            }
        }
    }
    println!(
        "slots: {} sequential GET {url} (after {warmup} warm-up): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; body {} B ({:.2} MiB), {doctors} doctors, slots by state {states:?}",
        s.n,
        s.p50,
        s.p99,
        s.max,
        last.len(),
        last.len() as f64 / 1048576.0
    );
    result(&format!("{label}_n"), s.n);
    result(&format!("{label}_p50_ms"), format!("{:.2}", s.p50));
    result(&format!("{label}_p99_ms"), format!("{:.2}", s.p99));
    result(&format!("{label}_bytes"), last.len());
    result(&format!("{label}_doctors"), doctors);
    result(&format!("{label}_total"), states.values().sum::<u64>());
    result(
        &format!("{label}_ocupado"),
        states.get("ocupado").copied().unwrap_or(0),
    );
    errors.report(&label);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// sched-blocks: POST /bloqueios (SPEC-2 §11) spread over the doctors and the grid's days

/// `sched-blocks --base URL --state F [--count 2000] [--days 30] [--concurrency 32]`: block
/// i is doctor `i % D`'s hour from `((i / D) * 5) % 23`:00 on day `(i / D) % days` from the
/// grid's base date. Stores `blocks_created`.
pub async fn blocks(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let g = Arc::new(Grid::load(&a.s("state")?)?);
    let count = a.n_or("count", 2000)? as usize;
    let days = a.n_or("days", 30)?.max(1) as usize;
    let conc = a.n_or("concurrency", 32)? as usize;
    let c = client(conc)?;
    let t0 = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conc.max(1) {
        let (c, g, next, base) = (c.clone(), g.clone(), next.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let nd = g.medicos.len();
                let k = i / nd;
                let day = g
                    .base
                    .checked_add(jiff::Span::new().days((k % days) as i64))
                    .map_err(|e| e.to_string())?;
                let h = ((k * 5) % 23) as i8;
                let ini = day.at(h, 0, 0, 0);
                let fim = day.at(h + 1, 0, 0, 0);
                let f = |d: jiff::civil::DateTime| d.strftime("%Y-%m-%dT%H:%M:%S").to_string();
                let body = json!({
                    "medico_id": g.medicos[i % nd],
                    "inicio": f(ini),
                    "fim": f(fim),
                    "motivo": format!("Bloqueio de carga {i}"),
                });
                let url = format!("{base}/bloqueios");
                let (st, text, _) = post_json(&c, &url, &body).await?;
                if st != 201 {
                    return Err(format!("POST {url}: HTTP {st}: {text}"));
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    println!(
        "sched-blocks: {count} blocks of one hour over {} doctors and {days} days in {:.1} s",
        g.medicos.len(),
        t0.elapsed().as_secs_f64()
    );
    result("blocks_created", count);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// backup-load

/// Polls a task until it is final (every `poll`, at most `max`); returns (status, task JSON).
pub(crate) async fn wait_task(
    c: &reqwest::Client,
    base: &str,
    id: &str,
    poll: Duration,
    max: Duration,
) -> Res<(String, Value)> {
    let start = Instant::now();
    loop {
        let (st, _, body) = get_text(c, &format!("{base}/sistema/tasks/{id}")).await?;
        if st == 200 {
            let v: Value = serde_json::from_str(&body).map_err(|e| format!("task JSON: {e}"))?;
            let s = v["status"].as_str().unwrap_or("").to_string();
            if s == "concluida" || s == "falhou" {
                return Ok((s, v));
            }
        } else {
            return Err(format!("GET /sistema/tasks/{id}: HTTP {st}: {body}"));
        }
        if start.elapsed() > max {
            return Ok(("timeout".into(), Value::Null));
        }
        tokio::time::sleep(poll).await;
    }
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const OTHER: u8 = 2;

/// `backup-load --base URL --state F --from K --backup-dir D [--idle-secs 4] [--pace-ms 10]
/// [--max-backups 5] [--min-samples 150] [--max-secs 90]`
///
/// Two paced probes (GET /medicos/{id} and POST /consultas, each one request every `pace-ms`)
/// run while the server is idle, then while backups run back to back.
pub async fn backup_load(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let s = Arc::new(State::load(&a.s("state")?)?);
    let from = a.n("from")?;
    let dir = a.s("backup-dir")?;
    let idle_secs = a.f_or("idle-secs", 4.0)?;
    let pace = Duration::from_millis(a.n_or("pace-ms", 10)?);
    let max_backups = a.n_or("max-backups", 5)?;
    let min_samples = a.n_or("min-samples", 150)? as usize;
    let max_secs = a.f_or("max-secs", 90.0)?;

    let phase = Arc::new(AtomicU8::new(OTHER));
    let stop = Arc::new(AtomicBool::new(false));
    let next_k = Arc::new(AtomicU64::new(from));
    // (phase, latency) samples of each probe.
    type Samples = Arc<Mutex<Vec<(u8, Duration)>>>;
    let get_s: Samples = Arc::default();
    let post_s: Samples = Arc::default();
    let errs = Arc::new(Mutex::new(Errors::default()));
    let medico = s.medicos[0].clone();
    let mut probes = Vec::new();
    for kind in ["get", "post"] {
        let c = client(1)?;
        let (phase, stop, next_k, s, errs) = (
            phase.clone(),
            stop.clone(),
            next_k.clone(),
            s.clone(),
            errs.clone(),
        );
        let out = if kind == "get" {
            get_s.clone()
        } else {
            post_s.clone()
        };
        let get_url = format!("{base}/medicos/{medico}");
        let post_url = format!("{base}/consultas");
        probes.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(pace);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let hard = Instant::now() + Duration::from_secs(600);
            while !stop.load(Ordering::Relaxed) && Instant::now() < hard {
                tick.tick().await;
                let p0 = phase.load(Ordering::Relaxed);
                let t = Instant::now();
                let r = if kind == "get" {
                    match c.get(&get_url).send().await {
                        Ok(r) => {
                            let st = r.status().as_u16();
                            let b = r.text().await.unwrap_or_default();
                            Ok((st, b))
                        }
                        Err(e) => Err(e.to_string()),
                    }
                } else {
                    let k = next_k.fetch_add(1, Ordering::Relaxed);
                    post_json(&c, &post_url, &consulta_body(&s, k))
                        .await
                        .map(|(st, b, _)| (st, b))
                };
                let d = t.elapsed();
                let p1 = phase.load(Ordering::Relaxed);
                match r {
                    Ok((200 | 201, _)) => {
                        let ph = if p0 == p1 { p0 } else { OTHER };
                        lock(&out).push((ph, d));
                    }
                    Ok((st, b)) => lock(&errs).add(error_kind(st, &b), format!("{kind}: {b}")),
                    Err(e) => lock(&errs).add("transport".into(), format!("{kind}: {e}")),
                }
            }
        }));
    }
    // Idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    phase.store(IDLE, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(idle_secs)).await;
    phase.store(OTHER, Ordering::Relaxed);

    let c = client(2)?;
    let count_busy = |v: &Samples| lock(v).iter().filter(|(p, _)| *p == BUSY).count();
    let start = Instant::now();
    let mut runs: Vec<(f64, String, u64, String)> = Vec::new();
    while (runs.len() as u64) < max_backups && start.elapsed().as_secs_f64() < max_secs {
        phase.store(BUSY, Ordering::Relaxed);
        let t0 = Instant::now();
        let (st, text, _) = post_json(&c, &format!("{base}/backup/executar"), &json!({})).await?;
        if st != 202 {
            phase.store(OTHER, Ordering::Relaxed);
            println!("backup-load: POST /backup/executar answered {st}: {text}");
            break;
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        let id = v["task_id"].as_str().unwrap_or("").to_string();
        let (status, task) = wait_task(
            &c,
            &base,
            &id,
            Duration::from_millis(20),
            Duration::from_secs_f64(max_secs.max(10.0)),
        )
        .await?;
        let secs = t0.elapsed().as_secs_f64();
        phase.store(OTHER, Ordering::Relaxed);
        let arquivo = task["resultado"]["arquivo"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let size = std::fs::metadata(std::path::Path::new(&dir).join(&arquivo))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "backup-load: backup #{} {status} in {secs:.2} s: {arquivo} {size} B{}",
            runs.len() + 1,
            if status == "concluida" {
                String::new()
            } else {
                format!(" -- {task}")
            }
        );
        runs.push((secs, status.clone(), size, arquivo));
        if status != "concluida" {
            break;
        }
        if count_busy(&get_s) >= min_samples && count_busy(&post_s) >= min_samples {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for p in probes {
        let _ = p.await;
    }
    let split = |v: &Samples| {
        let v = lock(v);
        let mut idle: Vec<Duration> = v
            .iter()
            .filter(|(p, _)| *p == IDLE)
            .map(|(_, d)| *d)
            .collect();
        let mut busy: Vec<Duration> = v
            .iter()
            .filter(|(p, _)| *p == BUSY)
            .map(|(_, d)| *d)
            .collect();
        (Stats::of(&mut idle), Stats::of(&mut busy))
    };
    let (gi, gb) = split(&get_s);
    let (pi, pb) = split(&post_s);
    let gr = gb.p50 / gi.p50;
    let pr = pb.p50 / pi.p50;
    println!(
        "backup-load: GET /medicos/{{id}} p50 {:.3} ms idle ({} samples) vs {:.3} ms during backups ({} samples): x{gr:.2}; p99 {:.3} vs {:.3} ms",
        gi.p50, gi.n, gb.p50, gb.n, gi.p99, gb.p99
    );
    println!(
        "backup-load: POST /consultas p50 {:.3} ms idle ({} samples) vs {:.3} ms during backups ({} samples): x{pr:.2}; p99 {:.3} vs {:.3} ms",
        pi.p50, pi.n, pb.p50, pb.n, pi.p99, pb.p99
    );
    let ok_runs: Vec<&(f64, String, u64, String)> =
        runs.iter().filter(|r| r.1 == "concluida").collect();
    let mut times: Vec<f64> = ok_runs.iter().map(|r| r.0).collect();
    times.sort_by(|a, b| a.total_cmp(b));
    let first = runs.first();
    result("backup_runs", runs.len());
    result("backup_ok", ok_runs.len());
    result(
        "backup_first_status",
        first.map(|r| r.1.as_str()).unwrap_or("none"),
    );
    result(
        "backup_first_s",
        first.map(|r| format!("{:.2}", r.0)).unwrap_or_default(),
    );
    result(
        "backup_median_s",
        times
            .get(times.len() / 2)
            .map(|t| format!("{t:.2}"))
            .unwrap_or_default(),
    );
    result("backup_bytes", first.map(|r| r.2).unwrap_or(0));
    result("backup_get_idle_p50_ms", format!("{:.3}", gi.p50));
    result("backup_get_busy_p50_ms", format!("{:.3}", gb.p50));
    result("backup_get_ratio", format!("{gr:.2}"));
    result("backup_get_busy_n", gb.n);
    result("backup_post_idle_p50_ms", format!("{:.3}", pi.p50));
    result("backup_post_busy_p50_ms", format!("{:.3}", pb.p50));
    result("backup_post_ratio", format!("{pr:.2}"));
    result("backup_post_busy_n", pb.n);
    result("backup_posts_used", next_k.load(Ordering::Relaxed) - from);
    lock(&errs).report("backup_probe");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// report

/// `report --base URL --pid PID --reports-dir D --de YYYY-MM-DD --ate YYYY-MM-DD [--max-secs 120]`
pub async fn report(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let pid = a.n("pid")? as u32;
    let dir = a.s("reports-dir")?;
    let de = a.s("de")?;
    let ate = a.s("ate")?;
    let max_secs = a.f_or("max-secs", 120.0)?;
    let c = client(2)?;
    let (_, expected, _) =
        get_text(&c, &format!("{base}/consultas?de={de}&ate={ate}&limit=1")).await?;
    let expected = expected.unwrap_or(0);
    result("report_rows", expected);

    let hwm0 = proc_kib(pid, "VmHWM").unwrap_or(0);
    let rss0 = proc_kib(pid, "VmRSS").unwrap_or(0);
    let peak = Arc::new(AtomicU64::new(rss0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let hard = Instant::now() + Duration::from_secs(600);
            while !stop.load(Ordering::Relaxed) && Instant::now() < hard {
                tick.tick().await;
                if let Some(r) = proc_kib(pid, "VmRSS") {
                    peak.fetch_max(r, Ordering::Relaxed);
                }
            }
        })
    };
    let t0 = Instant::now();
    let (st, text, _) = post_json(
        &c,
        &format!("{base}/relatorios/gerar"),
        &json!({"periodo_inicio": de, "periodo_fim": ate}),
    )
    .await?;
    let outcome: Res<(String, Value)> = if st != 202 {
        Err(format!("POST /relatorios/gerar answered {st}: {text}"))
    } else {
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        let id = v["task_id"].as_str().unwrap_or("").to_string();
        wait_task(
            &c,
            &base,
            &id,
            Duration::from_millis(20),
            Duration::from_secs_f64(max_secs),
        )
        .await
    };
    let secs = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(40)).await;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let hwm1 = proc_kib(pid, "VmHWM").unwrap_or(0);
    let peak = peak.load(Ordering::Relaxed);
    let delta = peak.saturating_sub(rss0);
    match outcome {
        Err(e) => {
            println!("report: not available: {e}");
            result(
                "report_status",
                if st == 404 || st == 405 {
                    "no_route"
                } else {
                    "http_error"
                },
            );
            result("report_http", st);
        }
        Ok((status, task)) => {
            let code = task["erro"]["code"].as_str().unwrap_or("").to_string();
            let arquivo = task["resultado"]["arquivo"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let size = std::fs::metadata(std::path::Path::new(&dir).join(&arquivo))
                .map(|m| m.len())
                .unwrap_or(0);
            if status == "concluida" {
                println!(
                    "report: {expected} consultas ({de} .. {ate}): concluida in {secs:.2} s, {arquivo} {size} B; server VmRSS {rss0} KiB before, peak {peak} KiB (+{:.1} MiB) sampled every 20 ms; VmHWM {hwm0} -> {hwm1} KiB",
                    delta as f64 / 1024.0
                );
            } else {
                println!("report: task ended {status} after {secs:.2} s: {task}");
            }
            result(
                "report_status",
                if code == "nao_implementado" {
                    "nao_implementado".to_string()
                } else {
                    status
                },
            );
            result(
                "report_code",
                if code.is_empty() { "-".into() } else { code },
            );
            result("report_s", format!("{secs:.2}"));
            result("report_bytes", size);
            result("report_mem_delta_kib", delta);
            result("report_hwm_delta_kib", hwm1.saturating_sub(hwm0));
        }
    }
    Ok(())
}
