//! Load generator for the Agendamento performance benchmark (driven by `bench/run.sh`).
//!
//! Subcommands (all flags are `--name value`):
//!
//! * `fsync-probe --dir D [--secs 2] [--bytes 200]`
//!   One thread appends `bytes` bytes to a file in `D` and calls `fdatasync`
//!   (`File::sync_data`) after each append, for `secs` seconds. Prints fsyncs/s.
//! * `setup --base URL --state F [--doctors 50] [--patients 2000] [--concurrency 32]`
//!   Creates the médicos and pacientes through the API and writes their ids to `F`.
//! * `fill --base URL --state F --from K0 --to K1 [--concurrency 32] [--max-secs 900]`
//!   Creates consultas number K0..K1 (see `consulta_body`) at the given concurrency.
//! * `post-seq --base URL --state F --from K0 --count N [--label L]`
//!   N sequential `POST /consultas` (one client); prints p50/p99 latency.
//! * `post-conc --base URL --state F --from K0 --count N [--concurrency 32] [--max-secs 10]`
//!   N `POST /consultas` at the given concurrency, bounded by count and time; prints req/s.
//! * `get-seq --url URL --count N [--warmup 20] [--label L]`
//!   N sequential GETs of URL; prints p50/p99 latency, body size and `x-total-count`.
//! * `show --state F --what medico0|counts`
//! * `login`, `login-storm`: identity figures (issue 11), in `bench/identidade.rs`.
//! * `sched-setup`, `sched-fill`, `book`, `slots`, `backup-load`, `report`: scheduling, backup
//!   and report figures, in `bench/sched.rs`; `sse-fanout`: 10,000 SSE subscribers, in
//!   `bench/sse.rs`; `soak`: the memory soak, in `bench/soak.rs` (flags documented above each
//!   function); `espera`: a freed slot to its `vaga_oferecida` event, in `bench/espera.rs`.
//! * `remarcar --base URL --state F --filled N [--count 300]`: `POST /consultas/{id}/remarcar`
//!   latency over a `sched-fill`ed grid, in `bench/remarcar.rs`.
//! * `multi-book`, `propagacao`, `failover`: several instances on one PostgreSQL (SPEC-2 §16),
//!   in `bench/instancias.rs`.
//!
//! Every figure is also printed as a machine-readable line `RESULT name=value`.
//!
//! Consulta number k: doctor `k % D`, time slot `t = k / D` (30-minute steps from
//! 2024-01-01T00:00 clinic-local), patient `(t * D + k % D) % P`. All consultas of one time slot
//! have distinct doctors and (when `P` is a multiple of `D`) distinct patients, and a doctor's or a
//! patient's consultas fall in distinct, non-overlapping slots, so no request should be refused
//! for an overlap.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod avisos;
mod espera;
mod identidade;
mod instancias;
mod remarcar;
mod sched;
mod soak;
mod sse;

type Res<T> = Result<T, String>;

const SLOT_MINUTES: i64 = 30;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = argv.first().cloned() else {
        eprintln!(
            "usage: loadgen <fsync-probe|setup|fill|post-seq|post-conc|get-seq|show|sse-fanout|sched-setup|sched-fill|book|slots|backup-load|report|soak|login|login-storm|espera|remarcar|receptor|avisos-webhook|avisos-drenar|multi-book|propagacao|failover> --flag value ..."
        );
        std::process::exit(2);
    };
    let args = match Args::parse(&argv[1..]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let r = rt.block_on(async move {
        match cmd.as_str() {
            "fsync-probe" => fsync_probe(&args),
            "setup" => setup(&args).await,
            "fill" => fill(&args).await,
            "post-seq" => post_seq(&args).await,
            "post-conc" => post_conc(&args).await,
            "get-seq" => get_seq(&args).await,
            "show" => show(&args),
            "sse-fanout" => sse::fanout(&args).await,
            "sched-setup" => sched::setup(&args).await,
            "sched-fill" => sched::fill(&args).await,
            "book" => sched::book(&args).await,
            "slots" => sched::slots(&args).await,
            "sched-blocks" => sched::blocks(&args).await,
            "backup-load" => sched::backup_load(&args).await,
            "report" => sched::report(&args).await,
            "soak" => soak::soak(&args).await,
            "login" => identidade::login(&args).await,
            "login-storm" => identidade::login_storm(&args).await,
            "espera" => espera::espera(&args).await,
            "remarcar" => remarcar::remarcar(&args).await,
            "receptor" => avisos::receptor(&args).await,
            "avisos-webhook" => avisos::webhook(&args).await,
            "avisos-drenar" => avisos::drenar(&args).await,
            "multi-book" => instancias::multi_book(&args).await,
            "propagacao" => instancias::propagacao(&args).await,
            "failover" => instancias::failover(&args).await,
            other => Err(format!("unknown subcommand {other}")),
        }
    });
    if let Err(e) = r {
        eprintln!("loadgen {}: error: {e}", argv[0]);
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// arguments

struct Args(BTreeMap<String, String>);

impl Args {
    fn parse(v: &[String]) -> Res<Args> {
        let mut m = BTreeMap::new();
        let mut i = 0;
        while i < v.len() {
            let k = v[i]
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --flag, got {}", v[i]))?;
            let val = v.get(i + 1).ok_or_else(|| format!("--{k} needs a value"))?;
            m.insert(k.to_string(), val.clone());
            i += 2;
        }
        Ok(Args(m))
    }
    fn s(&self, k: &str) -> Res<String> {
        self.0
            .get(k)
            .cloned()
            .ok_or_else(|| format!("missing --{k}"))
    }
    fn s_or(&self, k: &str, d: &str) -> String {
        self.0.get(k).cloned().unwrap_or_else(|| d.to_string())
    }
    fn n(&self, k: &str) -> Res<u64> {
        self.s(k)?.parse().map_err(|e| format!("--{k}: {e}"))
    }
    fn n_or(&self, k: &str, d: u64) -> Res<u64> {
        match self.0.get(k) {
            Some(v) => v.parse().map_err(|e| format!("--{k}: {e}")),
            None => Ok(d),
        }
    }
    fn f_or(&self, k: &str, d: f64) -> Res<f64> {
        match self.0.get(k) {
            Some(v) => v.parse().map_err(|e| format!("--{k}: {e}")),
            None => Ok(d),
        }
    }
}

fn result(name: &str, value: impl std::fmt::Display) {
    println!("RESULT {name}={value}");
}

// ---------------------------------------------------------------------------------------------
// fsync probe

fn fsync_probe(a: &Args) -> Res<()> {
    let dir = a.s("dir")?;
    let secs = a.f_or("secs", 2.0)?;
    let bytes = a.n_or("bytes", 200)? as usize;
    let path = std::path::Path::new(&dir).join("fsync-probe.dat");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut line = vec![b'x'; bytes.max(1)];
    if let Some(last) = line.last_mut() {
        *last = b'\n';
    }
    let mut lat = Vec::new();
    let start = Instant::now();
    let limit = Duration::from_secs_f64(secs);
    let mut n: u64 = 0;
    while start.elapsed() < limit && n < 10_000_000 {
        let t = Instant::now();
        f.write_all(&line).map_err(|e| e.to_string())?;
        f.sync_data().map_err(|e| e.to_string())?;
        lat.push(t.elapsed());
        n += 1;
    }
    let el = start.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    let rate = n as f64 / el;
    let s = Stats::of(&mut lat);
    println!(
        "fsync probe: {n} appends of {bytes} B + fdatasync in {el:.2} s on {} -> {rate:.0} fsyncs/s (p50 {:.3} ms, p99 {:.3} ms)",
        path.display(),
        s.p50,
        s.p99
    );
    result("fsync_per_s", format!("{rate:.0}"));
    result("fsync_p50_ms", format!("{:.3}", s.p50));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// statistics

struct Stats {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Stats {
    /// Latencies in ms (nearest-rank percentiles).
    fn of(v: &mut [Duration]) -> Stats {
        v.sort_unstable();
        let n = v.len();
        if n == 0 {
            return Stats {
                n,
                p50: f64::NAN,
                p99: f64::NAN,
                max: f64::NAN,
                mean: f64::NAN,
            };
        }
        let pick = |q: f64| {
            let r = ((q * n as f64).ceil() as usize).clamp(1, n);
            v[r - 1].as_secs_f64() * 1000.0
        };
        let sum: f64 = v.iter().map(|d| d.as_secs_f64()).sum();
        Stats {
            n,
            p50: pick(0.50),
            p99: pick(0.99),
            max: v[n - 1].as_secs_f64() * 1000.0,
            mean: sum / n as f64 * 1000.0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

/// A client for the bench server; with `LOADGEN_BEARER` set (a server with `--auth on`)
/// every request carries `Authorization: Bearer <it>`.
fn client(conns: usize) -> Res<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(t) = std::env::var("LOADGEN_BEARER")
        && !t.is_empty()
    {
        let v = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}"))
            .map_err(|e| format!("LOADGEN_BEARER: {e}"))?;
        headers.insert(reqwest::header::AUTHORIZATION, v);
    }
    let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's rustls (SPEC-2 §13 webhooks) needs one
    reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(conns.max(1))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

/// Non-2xx answers and transport errors seen during one phase: counted by key, with the first
/// few bodies kept for the report.
#[derive(Default)]
struct Errors {
    by_kind: BTreeMap<String, u64>,
    samples: Vec<String>,
}

impl Errors {
    fn add(&mut self, kind: String, sample: String) {
        *self.by_kind.entry(kind.clone()).or_default() += 1;
        if self.samples.len() < 5 {
            let mut s = sample;
            s.truncate(400);
            self.samples.push(format!("{kind}: {s}"));
        }
    }
    fn merge(&mut self, o: Errors) {
        for (k, v) in o.by_kind {
            *self.by_kind.entry(k).or_default() += v;
        }
        for s in o.samples {
            if self.samples.len() < 5 {
                self.samples.push(s);
            }
        }
    }
    fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }
    fn report(&self, phase: &str) {
        let total = self.total();
        result(&format!("{phase}_errors"), total);
        if total > 0 {
            println!("  {phase}: {total} failed requests: {:?}", self.by_kind);
            for s in &self.samples {
                println!("    e.g. {s}");
            }
        }
    }
}

/// POSTs JSON; returns (status, body, elapsed).
async fn post_json(
    c: &reqwest::Client,
    url: &str,
    body: &Value,
) -> Result<(u16, String, Duration), String> {
    let t = Instant::now();
    let r = c
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let st = r.status().as_u16();
    let text = r
        .text()
        .await
        .map_err(|e| format!("transport (body): {e}"))?;
    Ok((st, text, t.elapsed()))
}

fn error_kind(status: u16, body: &str) -> String {
    let code = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_default();
    if code.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {code}")
    }
}

// ---------------------------------------------------------------------------------------------
// state (ids of the records created by `setup`)

struct State {
    medicos: Vec<String>,
    pacientes: Vec<String>,
}

impl State {
    fn load(path: &str) -> Res<State> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let list = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let s = State {
            medicos: list("medicos"),
            pacientes: list("pacientes"),
        };
        if s.medicos.is_empty() || s.pacientes.is_empty() {
            return Err(format!("{path}: no médicos or pacientes"));
        }
        Ok(s)
    }
}

/// A valid CPF (11 digits) from a number; never all digits equal.
fn cpf(i: u64) -> String {
    let base = 100_000_000 + i * 7 + 3; // 9 digits
    let d: Vec<u32> = format!("{base:09}")
        .chars()
        .map(|c| c.to_digit(10).unwrap_or(0))
        .collect();
    let dv = |digits: &[u32]| {
        let len = digits.len() as u32 + 1;
        let s: u32 = digits
            .iter()
            .enumerate()
            .map(|(j, x)| x * (len - j as u32))
            .sum();
        let r = (s * 10) % 11;
        if r == 10 { 0 } else { r }
    };
    let mut all = d.clone();
    all.push(dv(&d));
    let d2 = dv(&all);
    all.push(d2);
    all.iter()
        .map(|x| char::from_digit(*x, 10).unwrap_or('0'))
        .collect()
}

async fn setup(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let state = a.s("state")?;
    let nd = a.n_or("doctors", 50)? as usize;
    let np = a.n_or("patients", 2000)? as usize;
    let conc = a.n_or("concurrency", 32)? as usize;
    let c = client(conc)?;
    let t0 = Instant::now();
    let medicos = create_many(&c, &format!("{base}/medicos"), nd, conc, |i| {
        json!({
            "nome": format!("Dra. Bench {i:03}"),
            "crm": format!("CRM/SP {}", 100_000 + i),
            "especialidade": if i % 2 == 0 { "Cardiologia" } else { "Clínica Geral" },
            "email": format!("medico{i}@bench.example"),
        })
    })
    .await?;
    let pacientes = create_many(&c, &format!("{base}/pacientes"), np, conc, |i| {
        json!({
            "nome": format!("Paciente Bench {i:05}"),
            "cpf": cpf(i as u64),
            "data_nascimento": "1980-05-17",
            "telefone": "(11) 99999-0000",
            "convenio": "Particular",
        })
    })
    .await?;
    println!(
        "setup: {} médicos and {} pacientes created in {:.1} s",
        medicos.len(),
        pacientes.len(),
        t0.elapsed().as_secs_f64()
    );
    let v = json!({ "medicos": medicos, "pacientes": pacientes });
    std::fs::write(
        &state,
        serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{state}: {e}"))?;
    Ok(())
}

async fn create_many(
    c: &reqwest::Client,
    url: &str,
    n: usize,
    conc: usize,
    body: impl Fn(usize) -> Value + Send + Sync + 'static,
) -> Res<Vec<String>> {
    let body = Arc::new(body);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conc.max(1) {
        let (c, url, body, next) = (c.clone(), url.to_string(), body.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (st, text, _) = post_json(&c, &url, &body(i)).await?;
                if st != 201 {
                    return Err(format!("POST {url} #{i}: HTTP {st}: {text}"));
                }
                let v: Value =
                    serde_json::from_str(&text).map_err(|e| format!("POST {url}: {e}: {text}"))?;
                let id = v
                    .get("id")
                    .and_then(|x| x.as_str())
                    .ok_or_else(|| format!("POST {url}: no id in {text}"))?;
                out.push((i, id.to_string()));
            }
            Ok::<_, String>(out)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    all.sort();
    Ok(all.into_iter().map(|(_, id)| id).collect())
}

// ---------------------------------------------------------------------------------------------
// consultas

fn slot_text(t: u64, plus_minutes: i64) -> String {
    // `LOADGEN_BASE_DATE=YYYY-MM-DD` moves slot 0 (the `calendario` phase wants appointments
    // inside a feed's window: the last 90 days and the future).
    let base = std::env::var("LOADGEN_BASE_DATE")
        .ok()
        .and_then(|d| d.parse::<jiff::civil::Date>().ok())
        .unwrap_or(jiff::civil::date(2024, 1, 1))
        .at(0, 0, 0, 0);
    let m = t as i64 * SLOT_MINUTES + plus_minutes;
    let dt = base
        .checked_add(jiff::Span::new().minutes(m))
        .expect("slot within range");
    dt.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

fn consulta_body(s: &State, k: u64) -> Value {
    let nd = s.medicos.len() as u64;
    let np = s.pacientes.len() as u64;
    let d = k % nd;
    let t = k / nd;
    let p = (t * nd + d) % np;
    let mut v = json!({
        "paciente_id": s.pacientes[p as usize],
        "medico_id": s.medicos[d as usize],
        "inicio": slot_text(t, 0),
        "fim": slot_text(t, SLOT_MINUTES),
    });
    if k.is_multiple_of(4) {
        v["observacoes"] = json!(format!("Consulta de rotina número {k}"));
    }
    v
}

struct ConcOutcome {
    ok: u64,
    lat: Vec<Duration>,
    errors: Errors,
    elapsed: f64,
    stopped_by_time: bool,
}

/// POST /consultas for k in from..to at `conc` concurrency, stopping at `max_secs`.
async fn post_consultas_conc(
    base: &str,
    s: Arc<State>,
    from: u64,
    to: u64,
    conc: usize,
    max_secs: f64,
    progress: bool,
) -> Res<ConcOutcome> {
    let body: BodyFn = Arc::new(move |k| consulta_body(&s, k));
    post_bodies_conc(base, body, from, to, conc, max_secs, progress).await
}

/// Builds the body of request number k.
type BodyFn = Arc<dyn Fn(u64) -> Value + Send + Sync>;

/// POST /consultas with `body(k)` for k in from..to at `conc` concurrency, stopping at `max_secs`.
async fn post_bodies_conc(
    base: &str,
    s: BodyFn,
    from: u64,
    to: u64,
    conc: usize,
    max_secs: f64,
    progress: bool,
) -> Res<ConcOutcome> {
    let c = client(conc)?;
    let url = format!("{base}/consultas");
    let next = Arc::new(AtomicU64::new(from));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(max_secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc.max(1) {
        let (c, url, s, next, done) = (
            c.clone(),
            url.clone(),
            s.clone(),
            next.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = Errors::default();
            let mut ok = 0u64;
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= to {
                    break;
                }
                let body = s(k);
                match post_json(&c, &url, &body).await {
                    Ok((201, _, d)) => {
                        ok += 1;
                        lat.push(d);
                    }
                    Ok((st, text, d)) => {
                        lat.push(d);
                        errors.add(error_kind(st, &text), format!("k={k}: {text}"));
                    }
                    Err(e) => errors.add("transport".into(), format!("k={k}: {e}")),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            (ok, lat, errors)
        }));
    }
    let reporter = if progress {
        let done = done.clone();
        let total = to.saturating_sub(from);
        Some(tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let d = done.load(Ordering::Relaxed);
                println!(
                    "  ... {d}/{total} consultas posted ({:.0} req/s over the last 10 s, {:.0} s elapsed)",
                    (d - last) as f64 / 10.0,
                    start.elapsed().as_secs_f64()
                );
                let _ = std::io::stdout().flush();
                last = d;
            }
        }))
    } else {
        None
    };
    let mut out = ConcOutcome {
        ok: 0,
        lat: Vec::new(),
        errors: Errors::default(),
        elapsed: 0.0,
        stopped_by_time: false,
    };
    for t in tasks {
        let (ok, lat, errors) = t.await.map_err(|e| e.to_string())?;
        out.ok += ok;
        out.lat.extend(lat);
        out.errors.merge(errors);
    }
    out.elapsed = start.elapsed().as_secs_f64();
    out.stopped_by_time = next.load(Ordering::Relaxed) < to;
    if let Some(r) = reporter {
        r.abort();
    }
    Ok(out)
}

async fn fill(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let s = Arc::new(State::load(&a.s("state")?)?);
    let from = a.n("from")?;
    let to = a.n("to")?;
    let conc = a.n_or("concurrency", 32)? as usize;
    let max_secs = a.f_or("max-secs", 900.0)?;
    let label = a.s_or("label", "fill");
    let mut o = post_consultas_conc(&base, s, from, to, conc, max_secs, true).await?;
    let st = Stats::of(&mut o.lat);
    println!(
        "{label}: consultas {from}..{to}: {} created in {:.1} s ({:.0} req/s, c={conc}, p50 {:.2} ms, p99 {:.2} ms){}",
        o.ok,
        o.elapsed,
        (o.ok + o.errors.total()) as f64 / o.elapsed,
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
        format!("{:.0}", (o.ok + o.errors.total()) as f64 / o.elapsed),
    );
    o.errors.report(&label);
    Ok(())
}

async fn post_conc(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let s = Arc::new(State::load(&a.s("state")?)?);
    let from = a.n("from")?;
    let count = a.n("count")?;
    let conc = a.n_or("concurrency", 32)? as usize;
    let max_secs = a.f_or("max-secs", 10.0)?;
    let label = a.s_or("label", "post_conc");
    let mut o = post_consultas_conc(&base, s, from, from + count, conc, max_secs, false).await?;
    let n = o.ok + o.errors.total();
    let st = Stats::of(&mut o.lat);
    let rps = n as f64 / o.elapsed;
    println!(
        "{label}: {n} POST /consultas at concurrency {conc} in {:.2} s -> {rps:.0} req/s ({} x 201; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms){}",
        o.elapsed,
        o.ok,
        st.p50,
        st.p99,
        st.max,
        if o.stopped_by_time {
            " (stopped by the time limit)"
        } else {
            ""
        }
    );
    result(&format!("{label}_n"), n);
    result(&format!("{label}_ok"), o.ok);
    result(&format!("{label}_secs"), format!("{:.2}", o.elapsed));
    result(&format!("{label}_rps"), format!("{rps:.0}"));
    result(
        &format!("{label}_ok_rps"),
        format!("{:.0}", o.ok as f64 / o.elapsed),
    );
    result(&format!("{label}_p50_ms"), format!("{:.3}", st.p50));
    result(&format!("{label}_p99_ms"), format!("{:.3}", st.p99));
    o.errors.report(&label);
    Ok(())
}

async fn post_seq(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let s = State::load(&a.s("state")?)?;
    let from = a.n("from")?;
    let count = a.n("count")?;
    let label = a.s_or("label", "post_seq");
    let max_secs = a.f_or("max-secs", 60.0)?;
    let c = client(1)?;
    let url = format!("{base}/consultas");
    let mut lat = Vec::new();
    let mut errors = Errors::default();
    let start = Instant::now();
    for k in from..from + count {
        if start.elapsed().as_secs_f64() > max_secs {
            break;
        }
        match post_json(&c, &url, &consulta_body(&s, k)).await {
            Ok((201, _, d)) => lat.push(d),
            Ok((st, text, d)) => {
                lat.push(d);
                errors.add(error_kind(st, &text), format!("k={k}: {text}"));
            }
            Err(e) => errors.add("transport".into(), format!("k={k}: {e}")),
        }
    }
    let st = Stats::of(&mut lat);
    println!(
        "{label}: {} sequential POST /consultas in {:.2} s: p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms, max {:.3} ms",
        st.n,
        start.elapsed().as_secs_f64(),
        st.p50,
        st.p99,
        st.mean,
        st.max
    );
    result(&format!("{label}_n"), st.n);
    result(&format!("{label}_p50_ms"), format!("{:.3}", st.p50));
    result(&format!("{label}_p99_ms"), format!("{:.3}", st.p99));
    errors.report(&label);
    Ok(())
}

async fn get_seq(a: &Args) -> Res<()> {
    let url = a.s("url")?;
    let count = a.n("count")?;
    let warmup = a.n_or("warmup", 20)?;
    let label = a.s_or("label", "get_seq");
    let max_secs = a.f_or("max-secs", 60.0)?;
    let c = client(1)?;
    let mut lat = Vec::new();
    let mut errors = Errors::default();
    let mut bytes = 0usize;
    let mut items: Option<usize> = None;
    let mut total_count = String::new();
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
        let tc = r
            .headers()
            .get("x-total-count")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string();
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
        } else if items.is_none() {
            bytes = body.len();
            total_count = tc;
            items = serde_json::from_slice::<Value>(&body)
                .ok()
                .map(|v| v.as_array().map(|a| a.len()).unwrap_or(1));
        }
    }
    let st = Stats::of(&mut lat);
    println!(
        "{label}: {} sequential GET {url} (after {warmup} warm-up): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; body {bytes} B, {} items, x-total-count {}",
        st.n,
        st.p50,
        st.p99,
        st.max,
        items.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
        if total_count.is_empty() {
            "(absent)"
        } else {
            &total_count
        }
    );
    result(&format!("{label}_n"), st.n);
    result(&format!("{label}_p50_ms"), format!("{:.3}", st.p50));
    result(&format!("{label}_p99_ms"), format!("{:.3}", st.p99));
    result(
        &format!("{label}_items"),
        items.map(|n| n.to_string()).unwrap_or_else(|| "0".into()),
    );
    result(
        &format!("{label}_total_count"),
        if total_count.is_empty() {
            "absent".to_string()
        } else {
            total_count
        },
    );
    errors.report(&label);
    Ok(())
}

fn show(a: &Args) -> Res<()> {
    let s = State::load(&a.s("state")?)?;
    match a.s("what")?.as_str() {
        "medico0" => println!("{}", s.medicos[0]),
        "counts" => println!("{} {}", s.medicos.len(), s.pacientes.len()),
        w => return Err(format!("unknown --what {w}")),
    }
    Ok(())
}
