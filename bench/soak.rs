//! The memory soak (subcommand `soak`; see bench/README.md): minutes of mixed, rate-bounded
//! load whose stored data set stays constant, while the server's VmRSS is sampled.
//!
//! Grid cells are the ones of `bench/sched.rs` (a `sched-setup` state file): cells
//! `0..prime` are booked once before the soak starts (so the finished-task history is at its
//! cap of 10,000 from the start); during the soak, worker `w` books its own cells of the days
//! after those (then cancels and deletes each booking), holds and releases its own cells of
//! the week after, and creates/deletes consultas in the past (2020..2022, one 30-minute step
//! per request number), so no two requests of the soak want the same doctor or patient at the
//! same time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::sched::{Grid, PER_DAY, get_text};
use crate::sse::{SseConn, host_port, proc_kib};
use crate::{Args, Errors, Res, client, cpf, error_kind, result};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// At most one request every `every` over all workers (a request may catch up at most 1 s).
struct Pacer {
    next: Mutex<Instant>,
    every: Duration,
}

impl Pacer {
    async fn wait(&self) {
        let t = {
            let mut n = lock(&self.next);
            let now = Instant::now();
            if now.saturating_duration_since(*n) > Duration::from_secs(1) {
                *n = now;
            }
            let t = *n;
            *n += self.every;
            t
        };
        tokio::time::sleep_until(t.into()).await;
    }
}

/// Answers by status (0 = transport error) and the unexpected ones.
#[derive(Default)]
struct Tally {
    by_status: Mutex<BTreeMap<u16, u64>>,
    requests: AtomicU64,
    unexpected: Mutex<Errors>,
    actions: Mutex<BTreeMap<&'static str, u64>>,
}

impl Tally {
    fn statuses(&self) -> BTreeMap<u16, u64> {
        lock(&self.by_status).clone()
    }
    fn count(&self, f: impl Fn(u16) -> bool) -> u64 {
        lock(&self.by_status)
            .iter()
            .filter(|(s, _)| f(**s))
            .map(|(_, n)| n)
            .sum()
    }
    fn action(&self, name: &'static str) {
        *lock(&self.actions).entry(name).or_default() += 1;
    }
}

struct Ctx {
    c: reqwest::Client,
    base: String,
    pacer: Option<Pacer>,
    tally: Tally,
}

impl Ctx {
    /// One request (paced); returns (status, body) or None on a transport error. A status not
    /// in `expect` is recorded as unexpected under `label`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idem_key: Option<&str>,
        label: &str,
        expect: &[u16],
    ) -> Option<(u16, String)> {
        if let Some(p) = &self.pacer {
            p.wait().await;
        }
        let mut rq = self.c.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            rq = rq.json(b);
        }
        if let Some(k) = idem_key {
            rq = rq.header("Idempotency-Key", k);
        }
        self.tally.requests.fetch_add(1, Ordering::Relaxed);
        let out = match rq.send().await {
            Ok(r) => {
                let st = r.status().as_u16();
                match r.text().await {
                    Ok(t) => Ok((st, t)),
                    Err(e) => Err(format!("body: {e}")),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        match out {
            Ok((st, text)) => {
                *lock(&self.tally.by_status).entry(st).or_default() += 1;
                if !expect.contains(&st) {
                    lock(&self.tally.unexpected).add(
                        format!("{label}: {}", error_kind(st, &text)),
                        format!("{path}: {text}"),
                    );
                }
                Some((st, text))
            }
            Err(e) => {
                *lock(&self.tally.by_status).entry(0).or_default() += 1;
                lock(&self.tally.unexpected)
                    .add(format!("{label}: transport"), format!("{path}: {e}"));
                None
            }
        }
    }
}

/// xorshift64*: a tiny deterministic generator per worker.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

const ACTIONS: [&str; 5] = ["read", "paciente", "consulta", "book", "hold"];

/// Weights of the five actions, from `--mix read=35,paciente=15,...` (an action not named
/// gets 0); an empty `--mix` is the default mix.
fn parse_mix(s: &str) -> Res<[u64; 5]> {
    let mut w = if s.is_empty() {
        [35, 15, 15, 20, 15]
    } else {
        [0; 5]
    };
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("--mix: expected name=weight, got {part}"))?;
        let i = ACTIONS
            .iter()
            .position(|a| *a == k)
            .ok_or_else(|| format!("--mix: unknown action {k} (one of {ACTIONS:?})"))?;
        w[i] = v.parse().map_err(|e| format!("--mix {k}: {e}"))?;
    }
    if w.iter().sum::<u64>() == 0 {
        return Err("--mix: all weights are 0".into());
    }
    Ok(w)
}

/// Where each kind of write goes on the grid.
struct Plan {
    g: Grid,
    workers: u64,
    /// First cell and number of cells of the booking region.
    book0: u64,
    book_n: u64,
    /// First cell and number of cells of the hold region.
    hold0: u64,
    hold_n: u64,
    /// Distinct pacientes created by the paciente action (CPF numbers).
    next_cpf: AtomicU64,
}

fn past_slot(s: u64) -> (String, String) {
    // 2020-01-06 00:00 + s x 30 min; s < 50,000 keeps it before 2023.
    let base = jiff::civil::date(2020, 1, 6).at(0, 0, 0, 0);
    let f = |m: i64| {
        base.checked_add(jiff::Span::new().minutes(m))
            .map(|d| d.strftime("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let m = (s % 50_000) as i64 * 30;
    (f(m), f(m + 30))
}

async fn read(ctx: &Ctx, p: &Plan, rng: &mut Rng) {
    let g = &p.g;
    let m = &g.medicos[rng.below(g.medicos.len() as u64) as usize];
    let pac = &g.pacientes[rng.below(g.pacientes.len() as u64) as usize];
    let base = g.base;
    let plus = |d: i64| {
        base.checked_add(jiff::Span::new().days(d))
            .map(|x| x.to_string())
            .unwrap_or_default()
    };
    let path = match rng.below(15) {
        0 => format!("/consultas?limit=50&offset={}", rng.below(10_000)),
        1 => format!(
            "/pacientes?limit=20&offset={}",
            rng.below(g.pacientes.len() as u64)
        ),
        2 => format!(
            "/pacientes?q=Agenda%20{:05}&limit=10",
            rng.below(g.pacientes.len() as u64)
        ),
        3 => format!("/medicos/{m}"),
        4 => format!("/pacientes/{pac}"),
        5 => format!("/agenda/slots?days=7&medico_id={m}"),
        6 => "/agenda/slots?days=2".to_string(),
        7 => format!("/horarios/medico/{m}"),
        8 => format!("/consultas?medico_id={m}&de={}&ate={}", plus(0), plus(2)),
        9 => "/sistema/tasks?limit=20".to_string(),
        10 => "/sistema/logs?limit=50".to_string(),
        11 => "/sistema/saude".to_string(),
        12 => "/medicos?limit=20".to_string(),
        13 => "/horarios?limit=20".to_string(),
        _ => {
            // A replayed POST: one of 8 Idempotency-Keys used once at set-up (bounded).
            let k = rng.below(8);
            ctx.call(
                Method::POST,
                "/pacientes",
                Some(&idem_body(k)),
                Some(&format!("soak-idem-{k}")),
                "POST /pacientes (replay)",
                &[201],
            )
            .await;
            return;
        }
    };
    ctx.call(Method::GET, &path, None, None, "GET", &[200])
        .await;
}

fn idem_body(k: u64) -> Value {
    json!({"nome": format!("Paciente Replay {k}"), "cpf": cpf(900_000 + k), "data_nascimento": "1990-01-01"})
}

fn id_of(text: &str, ptr: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()?
        .pointer(ptr)?
        .as_str()
        .map(str::to_string)
}

/// Create a paciente, read it, update it, delete it.
async fn paciente(ctx: &Ctx, p: &Plan) {
    let n = p.next_cpf.fetch_add(1, Ordering::Relaxed);
    let body = json!({
        "nome": format!("Paciente Soak {n:07}"),
        "cpf": cpf(20_000_000 + n),
        "data_nascimento": "1988-11-23",
        "telefone": "(21) 97777-1234",
        "convenio": "Particular",
    });
    let Some((201, text)) = ctx
        .call(
            Method::POST,
            "/pacientes",
            Some(&body),
            None,
            "POST /pacientes",
            &[201],
        )
        .await
    else {
        return;
    };
    let Some(id) = id_of(&text, "/id") else {
        return;
    };
    let path = format!("/pacientes/{id}");
    ctx.call(
        Method::GET,
        &path,
        None,
        None,
        "GET /pacientes/{id}",
        &[200],
    )
    .await;
    ctx.call(
        Method::PUT,
        &path,
        Some(&json!({"telefone": "(21) 96666-4321", "convenio": null})),
        None,
        "PUT /pacientes/{id}",
        &[200],
    )
    .await;
    ctx.call(
        Method::DELETE,
        &path,
        None,
        None,
        "DELETE /pacientes/{id}",
        &[204],
    )
    .await;
}

/// Create a past consulta, confirm it, cancel it, delete it.
async fn consulta(ctx: &Ctx, p: &Plan, s: u64) {
    let g = &p.g;
    let (inicio, fim) = past_slot(s);
    let body = json!({
        "paciente_id": g.pacientes[(s % g.pacientes.len() as u64) as usize],
        "medico_id": g.medicos[(s % g.medicos.len() as u64) as usize],
        "inicio": inicio,
        "fim": fim,
        "observacoes": format!("soak {s}"),
    });
    let Some((201, text)) = ctx
        .call(
            Method::POST,
            "/consultas",
            Some(&body),
            None,
            "POST /consultas",
            &[201],
        )
        .await
    else {
        return;
    };
    let Some(id) = id_of(&text, "/id") else {
        return;
    };
    let path = format!("/consultas/{id}");
    for st in ["confirmada", "cancelada"] {
        ctx.call(
            Method::PUT,
            &path,
            Some(&json!({"status": st})),
            None,
            "PUT /consultas/{id}",
            &[200],
        )
        .await;
    }
    ctx.call(
        Method::DELETE,
        &path,
        None,
        None,
        "DELETE /consultas/{id}",
        &[204],
    )
    .await;
}

/// Book a future cell through the queue, wait for its task, cancel and delete the consulta.
async fn book(ctx: &Ctx, p: &Plan, cell: u64, stop: &AtomicBool) {
    let (m, inicio, fim, pac) = p.g.cell(cell);
    let body = json!({"paciente_id": pac, "medico_id": m, "inicio": inicio, "fim": fim});
    let Some((202, text)) = ctx
        .call(
            Method::POST,
            "/consultas/agendar",
            Some(&body),
            None,
            "POST /consultas/agendar",
            &[202, 409],
        )
        .await
    else {
        return;
    };
    let Some(task) = id_of(&text, "/task_id") else {
        return;
    };
    let path = format!("/sistema/tasks/{task}");
    let t0 = Instant::now();
    let mut consulta = None;
    // Poll the task (every 20 ms, at most 10 s; also bounded by the pacer).
    while t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let Some((200, text)) = ctx
            .call(
                Method::GET,
                &path,
                None,
                None,
                "GET /sistema/tasks/{id}",
                &[200],
            )
            .await
        else {
            break;
        };
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match v["status"].as_str() {
            Some("concluida") => {
                consulta = v
                    .pointer("/resultado/consulta/id")
                    .and_then(|x| x.as_str())
                    .map(str::to_string);
                break;
            }
            Some("falhou") => {
                lock(&ctx.tally.unexpected).add(
                    format!("booking task falhou: {}", v["erro"]["code"]),
                    format!("cell {cell}: {text}"),
                );
                return;
            }
            _ => {}
        }
        if stop.load(Ordering::Relaxed) && t0.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let Some(id) = consulta else {
        lock(&ctx.tally.unexpected).add(
            "booking task not concluida within 10 s".into(),
            format!("cell {cell} task {task}"),
        );
        return;
    };
    let cpath = format!("/consultas/{id}");
    ctx.call(
        Method::PUT,
        &cpath,
        Some(&json!({"status": "cancelada"})),
        None,
        "PUT /consultas/{id}",
        &[200],
    )
    .await;
    ctx.call(
        Method::DELETE,
        &cpath,
        None,
        None,
        "DELETE /consultas/{id}",
        &[204],
    )
    .await;
}

/// Hold a future cell, release it.
async fn hold(ctx: &Ctx, p: &Plan, cell: u64) {
    let (m, inicio, _, _) = p.g.cell(cell);
    let body = json!({"medico_id": m, "slot": inicio});
    let Some((200, _)) = ctx
        .call(
            Method::POST,
            "/agenda/reservar",
            Some(&body),
            None,
            "POST /agenda/reservar",
            &[200, 409],
        )
        .await
    else {
        return;
    };
    ctx.call(
        Method::POST,
        "/agenda/liberar",
        Some(&body),
        None,
        "POST /agenda/liberar",
        &[200],
    )
    .await;
}

async fn worker(
    w: u64,
    ctx: Arc<Ctx>,
    p: Arc<Plan>,
    mix: [u64; 5],
    deadline: Instant,
    stop: Arc<AtomicBool>,
) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1).wrapping_mul(0x1000_0000_01B3));
    let total: u64 = mix.iter().sum();
    let mut j = [0u64; 5];
    // Bounded by time and by count.
    for _ in 0..50_000_000u64 {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            break;
        }
        let mut r = rng.below(total);
        let mut a = 0;
        while r >= mix[a] {
            r -= mix[a];
            a += 1;
        }
        let k = w + p.workers * j[a];
        j[a] += 1;
        match a {
            0 => read(&ctx, &p, &mut rng).await,
            1 => paciente(&ctx, &p).await,
            2 => consulta(&ctx, &p, k).await,
            3 => book(&ctx, &p, p.book0 + k % p.book_n, &stop).await,
            _ => hold(&ctx, &p, p.hold0 + k % p.hold_n).await,
        }
        ctx.tally.action(ACTIONS[a]);
    }
}

/// A queued task (backup or report): POST, then poll it every 200 ms (at most 120 s).
async fn run_task(ctx: &Ctx, path: &str, body: &Value) -> (String, f64) {
    let t0 = Instant::now();
    let Some((202, text)) = ctx
        .call(Method::POST, path, Some(body), None, path, &[202])
        .await
    else {
        return ("refused".into(), 0.0);
    };
    let Some(id) = id_of(&text, "/task_id") else {
        return ("no task_id".into(), 0.0);
    };
    let tpath = format!("/sistema/tasks/{id}");
    while t0.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some((200, text)) = ctx
            .call(
                Method::GET,
                &tpath,
                None,
                None,
                "GET /sistema/tasks/{id}",
                &[200],
            )
            .await
        else {
            continue;
        };
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if let Some(s @ ("concluida" | "falhou")) = v["status"].as_str() {
            return (s.to_string(), t0.elapsed().as_secs_f64());
        }
    }
    ("timeout".into(), t0.elapsed().as_secs_f64())
}

#[derive(Default)]
struct Admin {
    backups: Vec<(String, f64)>,
    reports: Vec<(String, f64)>,
}

/// Backups every `backup_every` s and reports every `report_every` s (0 = none), the first ones
/// early enough to fall inside the warm-up.
async fn admin(
    ctx: Arc<Ctx>,
    p: Arc<Plan>,
    start: Instant,
    deadline: Instant,
    backup_every: f64,
    report_every: f64,
) -> Admin {
    let mut out = Admin::default();
    let far = deadline + Duration::from_secs(3600);
    let at = |s: f64| {
        if s > 0.0 {
            start + Duration::from_secs_f64(s)
        } else {
            far
        }
    };
    let mut next_backup = at(if backup_every > 0.0 { 20.0 } else { 0.0 });
    let mut next_report = at(if report_every > 0.0 { 40.0 } else { 0.0 });
    let de = p.g.base.to_string();
    let ate =
        p.g.base
            .checked_add(jiff::Span::new().days(1))
            .map(|d| d.to_string())
            .unwrap_or_else(|_| de.clone());
    for _ in 0..10_000 {
        let next = next_backup.min(next_report);
        if next >= deadline {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        if next == next_backup {
            out.backups
                .push(run_task(&ctx, "/backup/executar", &json!({})).await);
            next_backup = (next_backup + Duration::from_secs_f64(backup_every)).max(Instant::now());
        } else {
            out.reports.push(
                run_task(
                    &ctx,
                    "/relatorios/gerar",
                    &json!({"periodo_inicio": de, "periodo_fim": ate}),
                )
                .await,
            );
            next_report = (next_report + Duration::from_secs_f64(report_every)).max(Instant::now());
        }
    }
    out
}

#[derive(Default)]
struct SseTally {
    events: AtomicU64,
    reconnects: AtomicU64,
    errors: Mutex<Vec<String>>,
}

/// One subscriber reading `/sistema/agenda/stream` until `stop`, reconnecting with
/// `Last-Event-ID` (at most 50 times).
async fn subscriber(hp: String, t: Arc<SseTally>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut last = None;
    for attempt in 0..=50u32 {
        if *stop.borrow() {
            return;
        }
        if attempt > 0 {
            t.reconnects.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut conn = match SseConn::open(&hp, "/sistema/agenda/stream", last).await {
            Ok(c) => c,
            Err(e) => {
                lock(&t.errors).push(format!("open: {e}"));
                continue;
            }
        };
        loop {
            tokio::select! {
                ev = conn.next() => match ev {
                    Ok(Some(ev)) => {
                        if ev.id.is_some() {
                            last = ev.id;
                        }
                        t.events.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(None) => {
                        lock(&t.errors).push(format!("stream ended (last id {last:?})"));
                        break;
                    }
                    Err(e) => {
                        lock(&t.errors).push(format!("read: {e}"));
                        break;
                    }
                },
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

/// (pacientes, consultas, tasks) stored, from `x-total-count`.
async fn counts(c: &reqwest::Client, base: &str) -> String {
    let mut out = Vec::new();
    for path in [
        "/pacientes?limit=1",
        "/consultas?limit=1",
        "/sistema/tasks?limit=1",
    ] {
        let n = match get_text(c, &format!("{base}{path}")).await {
            Ok((200, Some(n), _)) => n.to_string(),
            _ => "?".into(),
        };
        out.push(n);
    }
    out.join("/")
}

/// Least-squares slope of (seconds, KiB) samples, in MiB per minute (NaN for < 2 samples).
fn slope_of(v: &[(f64, u64)]) -> f64 {
    let n = v.len() as f64;
    let (sx, sy) = v
        .iter()
        .fold((0.0, 0.0), |(x, y), s| (x + s.0, y + s.1 as f64));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = v.iter().fold((0.0, 0.0), |(a, b), s| {
        (
            a + (s.0 - mx) * (s.1 as f64 - my),
            b + (s.0 - mx) * (s.0 - mx),
        )
    });
    if v.len() >= 2 && den > 0.0 {
        num / den / 1024.0 * 60.0
    } else {
        f64::NAN
    }
}

fn mib(k: u64) -> f64 {
    k as f64 / 1024.0
}

/// `soak --base URL --state GRID --pid PID [--secs 600] [--warmup-secs max(60, secs/10)]
/// [--workers 8] [--rate 300] [--subscribers 3] [--sample-secs 5] [--backup-every 60]
/// [--report-every 120] [--prime 10000] [--mix read=35,paciente=15,consulta=15,book=20,hold=15]
/// [--samples-out FILE]`
///
/// Primes the task history (`prime` bookings of grid cells 0.., left stored), then runs the
/// mixed load for `secs` seconds while sampling the server's VmRSS every `sample-secs`.
pub async fn soak(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let hp = host_port(&base)?;
    let g = Grid::load(&a.s("state")?)?;
    let pid = a.n("pid")? as u32;
    let secs = a.f_or("secs", 600.0)?;
    let warm = a.f_or("warmup-secs", (secs / 10.0).max(60.0))?;
    let workers = a.n_or("workers", 8)?.max(1);
    let rate = a.f_or("rate", 300.0)?.max(1.0);
    let subs = a.n_or("subscribers", 3)?;
    let sample = a.f_or("sample-secs", 5.0)?.max(0.5);
    let backup_every = a.f_or("backup-every", 60.0)?;
    let report_every = a.f_or("report-every", 120.0)?;
    let prime = a.n_or("prime", 10_000)?;
    let mix = parse_mix(&a.s_or("mix", ""))?;
    let samples_out = a.s_or("samples-out", "");
    if proc_kib(pid, "VmRSS").is_none() {
        return Err(format!("no VmRSS for pid {pid}"));
    }

    let nd = g.medicos.len() as u64;
    let per_day = PER_DAY * nd;
    let book_day = prime.div_ceil(per_day) + 1;
    let plan = Arc::new(Plan {
        workers,
        book0: book_day * per_day,
        book_n: 8 * per_day,
        hold0: (book_day + 9) * per_day,
        hold_n: 7 * per_day,
        next_cpf: AtomicU64::new(0),
        g,
    });
    let plain = client(4)?;
    let rss_setup = proc_kib(pid, "VmRSS").unwrap_or(0);

    // Set-up: the 8 Idempotency-Keys replayed by the reads; then the primed bookings.
    let prime_ctx = Ctx {
        c: client(workers as usize)?,
        base: base.clone(),
        pacer: None,
        tally: Tally::default(),
    };
    for k in 0..8 {
        prime_ctx
            .call(
                Method::POST,
                "/pacientes",
                Some(&idem_body(k)),
                Some(&format!("soak-idem-{k}")),
                "POST /pacientes (idempotent)",
                &[201],
            )
            .await;
    }
    let t0 = Instant::now();
    let prime_ctx = Arc::new(prime_ctx);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (ctx, p, next) = (prime_ctx.clone(), plan.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while t0.elapsed() < Duration::from_secs(300) {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= prime {
                    break;
                }
                let body = p.g.body(c);
                ctx.call(
                    Method::POST,
                    "/consultas/agendar",
                    Some(&body),
                    None,
                    "prime POST /consultas/agendar",
                    &[202],
                )
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    // Wait (at most 120 s) until the queue is empty.
    let wait0 = Instant::now();
    loop {
        let mut left = 0;
        for st in ["pendente", "executando"] {
            if let Ok((_, Some(n), _)) =
                get_text(&plain, &format!("{base}/sistema/tasks?status={st}&limit=1")).await
            {
                left += n;
            }
        }
        if left == 0 || wait0.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let prime_secs = t0.elapsed().as_secs_f64();
    println!(
        "soak: primed {prime} bookings (grid cells 0..{prime}) in {prime_secs:.1} s: statuses {:?}; VmRSS {:.1} MiB before, {:.1} MiB after",
        prime_ctx.tally.statuses(),
        mib(rss_setup),
        mib(proc_kib(pid, "VmRSS").unwrap_or(0))
    );
    lock(&prime_ctx.tally.unexpected).report("soak_prime");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The soak.
    let ctx = Arc::new(Ctx {
        c: client(workers as usize + 2)?,
        base: base.clone(),
        pacer: Some(Pacer {
            next: Mutex::new(Instant::now()),
            every: Duration::from_secs_f64(1.0 / rate),
        }),
        tally: Tally::default(),
    });
    let counts_start = counts(&plain, &base).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sse = Arc::new(SseTally::default());
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut subs_h = Vec::new();
    for _ in 0..subs {
        subs_h.push(tokio::spawn(subscriber(
            hp.clone(),
            sse.clone(),
            stop_rx.clone(),
        )));
    }
    let mut work_h = Vec::new();
    for w in 0..workers {
        work_h.push(tokio::spawn(worker(
            w,
            ctx.clone(),
            plan.clone(),
            mix,
            deadline,
            stop.clone(),
        )));
    }
    let admin_h = tokio::spawn(admin(
        ctx.clone(),
        plan.clone(),
        start,
        deadline,
        backup_every,
        report_every,
    ));
    println!(
        "soak: {secs:.0} s of mixed load (warm-up {warm:.0} s): {workers} workers at <= {rate:.0} req/s in all, mix {:?}, {subs} SSE subscribers, backup every {backup_every:.0} s, report every {report_every:.0} s (0 = none); VmRSS every {sample:.0} s",
        ACTIONS.iter().zip(mix.iter()).collect::<Vec<_>>()
    );

    // Sampling: every `sample` s from 0 to `secs` inclusive; a progress line every minute.
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut counts_warm = String::new();
    let mut last_print = (0.0, 0u64);
    let n_samples = (secs / sample).floor() as u64;
    for i in 0..=n_samples {
        let at = start + Duration::from_secs_f64(i as f64 * sample);
        tokio::time::sleep_until(at.into()).await;
        let t = start.elapsed().as_secs_f64();
        let r = proc_kib(pid, "VmRSS").unwrap_or(0);
        samples.push((t, r));
        if counts_warm.is_empty() && t >= warm {
            counts_warm = counts(&plain, &base).await;
        }
        if t - last_print.0 >= 59.0 || i == n_samples {
            let reqs = ctx.tally.requests.load(Ordering::Relaxed);
            println!(
                "  t={t:>4.0} s  VmRSS {:>6.1} MiB  {reqs} requests ({:.0} req/s since last line)  SSE events {}  5xx {}",
                mib(r),
                (reqs - last_print.1) as f64 / (t - last_print.0).max(1e-9),
                sse.events.load(Ordering::Relaxed),
                ctx.tally.count(|s| s >= 500)
            );
            last_print = (t, reqs);
        }
    }
    let end_t = start.elapsed().as_secs_f64();
    let requests_at_end = ctx.tally.requests.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for h in work_h {
        let _ = h.await;
    }
    let adm = admin_h.await.unwrap_or_default();
    let counts_end = counts(&plain, &base).await;
    let _ = stop_tx.send(true);
    for h in subs_h {
        let _ = h.await;
    }
    let hwm = proc_kib(pid, "VmHWM").unwrap_or(0);

    // Figures.
    let first = samples.first().map(|s| s.1).unwrap_or(0);
    let end = samples.last().map(|s| s.1).unwrap_or(0);
    let max = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let after: Vec<(f64, u64)> = samples
        .iter()
        .copied()
        .filter(|s| s.0 >= warm - 0.5)
        .collect();
    let warm_rss = after.first().map(|s| s.1).unwrap_or(end);
    let slope = slope_of(&after);
    let half: Vec<(f64, u64)> = samples
        .iter()
        .copied()
        .filter(|s| s.0 >= end_t / 2.0 - 0.5)
        .collect();
    let half_rss = half.first().map(|s| s.1).unwrap_or(end);
    let slope_half = slope_of(&half);
    let limit = ((warm_rss as f64 * 1.10) as u64).min(warm_rss + 20 * 1024);
    let statuses = ctx.tally.statuses();
    let st_text = statuses
        .iter()
        .map(|(s, n)| {
            if *s == 0 {
                format!("transport:{n}")
            } else {
                format!("{s}:{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let rps = requests_at_end as f64 / end_t;
    let actions = lock(&ctx.tally.actions).clone();
    let ok_of = |v: &Vec<(String, f64)>| v.iter().filter(|x| x.0 == "concluida").count();
    let secs_of = |v: &Vec<(String, f64)>| {
        v.iter()
            .map(|x| format!("{:.1}", x.1))
            .collect::<Vec<_>>()
            .join(",")
    };
    println!(
        "soak: VmRSS start {:.1} MiB, after warm-up ({warm:.0} s) {:.1} MiB, end {:.1} MiB, max {:.1} MiB (VmHWM {:.1} MiB); slope after warm-up {slope:+.3} MiB/min over {} samples; limit for the end {:.1} MiB",
        mib(first),
        mib(warm_rss),
        mib(end),
        mib(max),
        mib(hwm),
        after.len(),
        mib(limit)
    );
    println!(
        "soak: second half: VmRSS {:.1} MiB at {:.0} s -> {:.1} MiB at the end ({:+.1} MiB), slope {slope_half:+.3} MiB/min",
        mib(half_rss),
        end_t / 2.0,
        mib(end),
        mib(end) - mib(half_rss)
    );
    println!(
        "soak: {requests_at_end} requests in {end_t:.1} s = {rps:.0} req/s; statuses {st_text}; actions {actions:?}"
    );
    println!(
        "soak: backups {}/{} concluida (s: {}), reports {}/{} concluida (s: {}); SSE {} events, {} reconnects{}",
        ok_of(&adm.backups),
        adm.backups.len(),
        secs_of(&adm.backups),
        ok_of(&adm.reports),
        adm.reports.len(),
        secs_of(&adm.reports),
        sse.events.load(Ordering::Relaxed),
        sse.reconnects.load(Ordering::Relaxed),
        lock(&sse.errors)
            .iter()
            .take(3)
            .map(|e| format!("; {e}"))
            .collect::<String>()
    );
    println!(
        "soak: stored pacientes/consultas/tasks at start {counts_start}, after warm-up {counts_warm}, at end {counts_end}"
    );
    let line: Vec<String> = samples
        .iter()
        .map(|(t, r)| format!("{t:.0}:{:.1}", mib(*r)))
        .collect();
    println!("soak: VmRSS samples (s:MiB): {}", line.join(" "));
    if !samples_out.is_empty() {
        let csv: String = samples
            .iter()
            .map(|(t, r)| format!("{t:.1},{r}\n"))
            .collect();
        std::fs::write(&samples_out, format!("secs,vmrss_kib\n{csv}"))
            .map_err(|e| format!("{samples_out}: {e}"))?;
    }
    result("soak_secs", format!("{end_t:.0}"));
    result("soak_warmup_secs", format!("{warm:.0}"));
    result("soak_workers", workers);
    result("soak_rate", format!("{rate:.0}"));
    result("soak_subscribers", subs);
    result("soak_prime", prime);
    result("soak_prime_secs", format!("{prime_secs:.1}"));
    result("soak_rss_setup_kib", rss_setup);
    result("soak_rss_start_kib", first);
    // A soak shorter than its warm-up has no after-warm-up figure (the table shows "?").
    let if_warm = |v: u64| {
        if after.is_empty() {
            String::new()
        } else {
            v.to_string()
        }
    };
    result("soak_rss_warm_kib", if_warm(warm_rss));
    result("soak_rss_end_kib", end);
    result("soak_rss_max_kib", max);
    result("soak_rss_limit_kib", if_warm(limit));
    result("soak_hwm_kib", hwm);
    result("soak_slope_mib_min", format!("{slope:.3}"));
    result("soak_rss_half_kib", half_rss);
    result("soak_slope_half_mib_min", format!("{slope_half:.3}"));
    result("soak_samples", samples.len());
    result("soak_requests", requests_at_end);
    result("soak_rps", format!("{rps:.0}"));
    result("soak_statuses", st_text);
    result("soak_5xx", ctx.tally.count(|s| s >= 500));
    result("soak_transport", ctx.tally.count(|s| s == 0));
    result("soak_409", ctx.tally.count(|s| s == 409));
    result("soak_sse_events", sse.events.load(Ordering::Relaxed));
    result(
        "soak_sse_reconnects",
        sse.reconnects.load(Ordering::Relaxed),
    );
    result(
        "soak_backups",
        format!("{}/{}", ok_of(&adm.backups), adm.backups.len()),
    );
    result(
        "soak_reports",
        format!("{}/{}", ok_of(&adm.reports), adm.reports.len()),
    );
    result("soak_counts_start", counts_start);
    result("soak_counts_warm", counts_warm);
    result("soak_counts_end", counts_end);
    lock(&ctx.tally.unexpected).report("soak");
    Ok(())
}
