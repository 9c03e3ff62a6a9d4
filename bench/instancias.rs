//! Several instances on one PostgreSQL (SPEC-2 §16; phase `instancias` of `bench/run.sh`):
//! subcommands `multi-book`, `propagacao` and `failover`. They use the scheduling grid of
//! `sched-setup` (`bench/sched.rs`), so every booking and hold is on a free cell.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::sched::{BookOutcome, Grid, Watch, book_run_shared, connected, get_text, listen, lock};
use crate::sse::{SseConn, host_port};
use crate::{Args, Errors, Res, Stats, client, error_kind, post_json, result};

/// A comma-separated list of base URLs.
fn bases(a: &Args, k: &str) -> Res<Vec<String>> {
    let v: Vec<String> = a
        .s(k)?
        .split(',')
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if v.is_empty() {
        return Err(format!("--{k}: no URL"));
    }
    for b in &v {
        host_port(b)?;
    }
    Ok(v)
}

/// A comma-separated list of process ids (may be empty).
fn pids(a: &Args, k: &str) -> Res<Vec<u32>> {
    a.s_or(k, "")
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().map_err(|e| format!("--{k}: {e}")))
        .collect()
}

/// utime + stime of a process, in clock ticks (`/proc/PID/stat` fields 14 and 15).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: fields are counted after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The parent pid of a process (`/proc/PID/stat` field 4).
fn ppid(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// CPU ticks of a PostgreSQL postmaster and all its children (the backends, the WAL writer,
/// the checkpointer...), summed: the database server's CPU time so far.
fn tree_ticks(root: u32) -> u64 {
    let mut sum = cpu_ticks(root).unwrap_or(0);
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if ppid(pid) == Some(root) {
                sum += cpu_ticks(pid).unwrap_or(0);
            }
        }
    }
    sum
}

/// The clock ticks per second of `/proc/PID/stat` (USER_HZ; 100 on Linux).
const TICKS: f64 = 100.0;

/// The journal position an instance has applied (`x-posicao` of `GET /sistema/saude`).
async fn posicao(c: &reqwest::Client, base: &str) -> Option<u64> {
    let r = c.get(format!("{base}/sistema/saude")).send().await.ok()?;
    r.headers()
        .get("x-posicao")
        .and_then(|h| h.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Sums of `NAME_sum` and `NAME_count` over every label set of a Prometheus histogram in the
/// text of `GET /metrics`.
fn hist(text: &str, name: &str) -> (f64, f64) {
    let (mut sum, mut count) = (0.0, 0.0);
    for l in text.lines() {
        let Some(rest) = l.strip_prefix(name) else {
            continue;
        };
        let (kind, value) = match rest.split_once(' ') {
            Some((k, v)) => (k, v),
            None => continue,
        };
        let kind = kind.split('{').next().unwrap_or("");
        let v: f64 = value.trim().parse().unwrap_or(0.0);
        match kind {
            "_sum" => sum += v,
            "_count" => count += v,
            _ => {}
        }
    }
    (sum, count)
}

/// The histograms `multi-book` reads from each instance's `GET /metrics`: journal appends
/// (one per batch: the PostgreSQL transaction), entries per append, finished tasks.
async fn metricas(c: &reqwest::Client, base: &str) -> [(f64, f64); 3] {
    let text = match get_text(c, &format!("{base}/metrics")).await {
        Ok((200, _, t)) => t,
        _ => String::new(),
    };
    [
        hist(&text, "agendamento_journal_fsync_duration_seconds"),
        hist(&text, "agendamento_journal_batch_entries"),
        hist(&text, "agendamento_task_duration_seconds"),
    ]
}

// ---------------------------------------------------------------------------------------------
// multi-book

/// `multi-book --bases URL[,URL...] --state F --from C0 [--count 1000] [--concurrency 32]
/// [--max-secs 120] [--label L] [--pids P[,P...]] [--pg-pid PMPID]`
///
/// Bookings end to end on several instances at once: for each instance one SSE subscriber on
/// its `/sistema/agenda/stream` and `concurrency` workers sending `POST /consultas/agendar` to
/// it; a worker's booking ends when its `horario_ocupado` is read from that same instance's
/// stream (so it went: request -> task journaled -> the leader's worker books -> the event
/// journaled -> followed by this instance). All workers take grid cells from one counter
/// (`count` in all, after 10 sequential warm-up bookings per instance). Throughput = bookings
/// seen / wall time. With `--pids` (the instances) and `--pg-pid` (the postmaster) the CPU
/// each used during the run is printed, and the journal entries appended per second (from
/// `x-posicao`).
pub async fn multi_book(a: &Args) -> Res<()> {
    let bases = bases(a, "bases")?;
    let g = Arc::new(Grid::load(&a.s("state")?)?);
    let from = a.n("from")?;
    let count = a.n_or("count", 1000)?;
    let conc = a.n_or("concurrency", 32)? as usize;
    let max_secs = a.f_or("max-secs", 120.0)?;
    let label = a.s_or("label", "mbook");
    let pids = pids(a, "pids")?;
    let pg_pid: Option<u32> = match a.s_or("pg-pid", "").as_str() {
        "" => None,
        s => Some(s.parse().map_err(|e| format!("--pg-pid: {e}"))?),
    };

    let mut watches = Vec::new();
    let mut listeners = Vec::new();
    for b in &bases {
        let w = Arc::new(Watch::default());
        listeners.push(tokio::spawn(listen(host_port(b)?, w.clone())));
        watches.push(w);
    }
    let t = Instant::now();
    for w in &watches {
        connected(w, t).await?;
    }
    // Warm-up: 10 sequential bookings on each instance (not counted).
    let next = Arc::new(AtomicU64::new(from));
    let mut warm_errors = Errors::default();
    for (b, w) in bases.iter().zip(&watches) {
        let to = next.load(Ordering::Relaxed) + 10;
        let o = book_run_shared(b, g.clone(), w.clone(), next.clone(), to, 1, 30.0).await?;
        warm_errors.merge(o.errors);
    }
    warm_errors.report(&format!("{label}_warmup"));

    let c = client(2)?;
    let pos0 = posicao(&c, &bases[0]).await;
    let mut met0 = Vec::new();
    for b in &bases {
        met0.push(metricas(&c, b).await);
    }
    let cpu0: Vec<Option<u64>> = pids.iter().map(|p| cpu_ticks(*p)).collect();
    let pg0 = pg_pid.map(tree_ticks);
    let from_c = next.load(Ordering::Relaxed);
    let to = from_c + count;
    let start = Instant::now();
    let mut runs = Vec::new();
    for (b, w) in bases.iter().zip(&watches) {
        let (b, g, w, next) = (b.clone(), g.clone(), w.clone(), next.clone());
        runs.push(tokio::spawn(async move {
            book_run_shared(&b, g, w, next, to, conc, max_secs).await
        }));
    }
    let mut outs: Vec<BookOutcome> = Vec::new();
    for r in runs {
        outs.push(r.await.map_err(|e| e.to_string())??);
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu1: Vec<Option<u64>> = pids.iter().map(|p| cpu_ticks(*p)).collect();
    let pg1 = pg_pid.map(tree_ticks);
    let pos1 = posicao(&c, &bases[0]).await;
    let mut met1 = Vec::new();
    for b in &bases {
        met1.push(metricas(&c, b).await);
    }

    let mut all_e2e = Vec::new();
    let mut all_http = Vec::new();
    let (mut sent, mut n409, mut timeouts) = (0, 0, 0);
    let mut errors = Errors::default();
    let mut per = Vec::new();
    for (i, o) in outs.into_iter().enumerate() {
        per.push(format!("#{} {} seen", i + 1, o.e2e.len()));
        all_e2e.extend(o.e2e);
        all_http.extend(o.http);
        sent += o.sent;
        n409 += o.n409;
        timeouts += o.timeouts;
        errors.merge(o.errors);
    }
    let ok = all_e2e.len() as u64;
    let rps = ok as f64 / wall;
    let s = Stats::of(&mut all_e2e);
    let h = Stats::of(&mut all_http);
    println!(
        "{label}: {} instance(s) x concurrency {conc}: {sent} POST /consultas/agendar in {wall:.2} s, {ok} seen as horario_ocupado on the instance's own stream ({}) -> {rps:.0} bookings/s; request -> event p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (202 answer p50 {:.2} ms, p99 {:.2} ms); {n409} x 409, {timeouts} not seen within 30 s",
        bases.len(),
        per.join(", "),
        s.p50,
        s.p99,
        s.max,
        h.p50,
        h.p99
    );
    errors.report(&label);
    let mut cpu_line = Vec::new();
    for (i, (a0, a1)) in cpu0.iter().zip(&cpu1).enumerate() {
        if let (Some(a0), Some(a1)) = (a0, a1) {
            let pct = (a1 - a0) as f64 / TICKS / wall * 100.0;
            cpu_line.push(format!("#{} {pct:.0}%", i + 1));
            result(&format!("{label}_cpu{}_pct", i + 1), format!("{pct:.0}"));
        }
    }
    if let (Some(a0), Some(a1)) = (pg0, pg1) {
        let pct = (a1 - a0) as f64 / TICKS / wall * 100.0;
        cpu_line.push(format!("PostgreSQL {pct:.0}%"));
        result(&format!("{label}_cpu_pg_pct"), format!("{pct:.0}"));
    }
    if let (Some(p0), Some(p1)) = (pos0, pos1) {
        let per_s = (p1 - p0) as f64 / wall;
        println!(
            "{label}: journal position {p0} -> {p1}: {} entries, {per_s:.0}/s ({:.1} per booking)",
            p1 - p0,
            (p1 - p0) as f64 / ok.max(1) as f64
        );
        result(&format!("{label}_journal_per_s"), format!("{per_s:.0}"));
    }
    // Where the time goes: each instance's journal appends (a PostgreSQL transaction each,
    // the advisory lock already held) and the tasks its worker finished.
    for (i, (m0, m1)) in met0.iter().zip(&met1).enumerate() {
        let d = |k: usize| (m1[k].0 - m0[k].0, m1[k].1 - m0[k].1);
        let (fs, fc) = d(0);
        let (bs, _) = d(1);
        let (ts, tc) = d(2);
        if fc > 0.0 {
            println!(
                "{label}: #{}: {fc:.0} journal appends ({:.0}/s), mean {:.2} ms each, {:.1} entries each; {tc:.0} tasks finished here{}",
                i + 1,
                fc / wall,
                fs / fc * 1000.0,
                bs / fc,
                if tc > 0.0 {
                    format!(
                        ", mean {:.2} ms each on the worker (start -> final)",
                        ts / tc * 1000.0
                    )
                } else {
                    String::new()
                }
            );
            result(
                &format!("{label}_append{}_ms", i + 1),
                format!("{:.2}", fs / fc * 1000.0),
            );
            result(
                &format!("{label}_appends{}_per_s", i + 1),
                format!("{:.0}", fc / wall),
            );
        }
    }
    if !cpu_line.is_empty() {
        println!(
            "{label}: CPU during the run (100% = one core): {}",
            cpu_line.join(", ")
        );
    }

    // Tasks: every agendar_consulta must have ended concluida (asked of the first instance).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut counts = BTreeMap::new();
    for st in ["pendente", "executando", "concluida", "falhou"] {
        let (code, tc, body) = get_text(
            &c,
            &format!(
                "{}/sistema/tasks?tipo=agendar_consulta&status={st}&limit=3",
                bases[0]
            ),
        )
        .await?;
        if code != 200 {
            println!("  GET /sistema/tasks?status={st}: HTTP {code}: {body}");
        }
        counts.insert(st, tc.unwrap_or(u64::MAX));
    }
    let mut sse = Vec::new();
    for (i, w) in watches.iter().enumerate() {
        sse.push(format!(
            "#{}: {} events, {} unmatched horario_ocupado, {} reconnects",
            i + 1,
            w.events.load(Ordering::Relaxed),
            w.unmatched.load(Ordering::Relaxed),
            w.reconnects.load(Ordering::Relaxed)
        ));
        for e in lock(&w.errors).iter().take(3) {
            println!("  SSE #{}: {e}", i + 1);
        }
        w.stop.store(true, Ordering::Relaxed);
    }
    for l in listeners {
        l.abort();
    }
    println!(
        "{label}: tasks agendar_consulta by status: {counts:?}; SSE {}",
        sse.join("; ")
    );

    result(&format!("{label}_instances"), bases.len());
    result(&format!("{label}_sent"), sent);
    result(&format!("{label}_ok"), ok);
    result(&format!("{label}_secs"), format!("{wall:.2}"));
    result(&format!("{label}_rps"), format!("{rps:.0}"));
    result(&format!("{label}_p50_ms"), format!("{:.2}", s.p50));
    result(&format!("{label}_p99_ms"), format!("{:.2}", s.p99));
    result(&format!("{label}_409"), n409);
    result(&format!("{label}_timeouts"), timeouts);
    result(
        &format!("{label}_falhou"),
        counts.get("falhou").copied().unwrap_or(u64::MAX),
    );
    result(
        &format!("{label}_unfinished"),
        counts.get("pendente").copied().unwrap_or(0)
            + counts.get("executando").copied().unwrap_or(0),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// propagacao

/// Wakes whoever waits for one event: when it was read and its id.
type SeenTx = tokio::sync::oneshot::Sender<(Instant, Option<u64>)>;

/// Who waits for which event ("tipo|medico_id|slot") on one instance's stream.
#[derive(Default)]
struct Seen {
    waiters: Mutex<HashMap<String, SeenTx>>,
    connected: AtomicBool,
    stop: AtomicBool,
    errors: Mutex<Vec<String>>,
}

/// Reads one instance's agenda stream and wakes whoever waits for each event.
async fn watch(hp: String, s: Arc<Seen>) {
    let mut conn = match SseConn::open(&hp, "/sistema/agenda/stream", None).await {
        Ok(c) => c,
        Err(e) => {
            lock(&s.errors).push(format!("SSE open {hp}: {e}"));
            return;
        }
    };
    s.connected.store(true, Ordering::Relaxed);
    while !s.stop.load(Ordering::Relaxed) {
        match conn.next().await {
            Ok(Some(ev)) => {
                let now = Instant::now();
                let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                    continue;
                };
                let d = &v["dados"];
                let key = format!(
                    "{}|{}|{}",
                    v["tipo"].as_str().unwrap_or(""),
                    d["medico_id"].as_str().unwrap_or(""),
                    d["slot"].as_str().unwrap_or("")
                );
                let waiter = lock(&s.waiters).remove(&key);
                if let Some(tx) = waiter {
                    let _ = tx.send((now, ev.id));
                }
            }
            Ok(None) => {
                lock(&s.errors).push(format!("SSE {hp}: stream ended"));
                return;
            }
            Err(e) => {
                lock(&s.errors).push(format!("SSE {hp}: {e}"));
                return;
            }
        }
    }
}

/// `propagacao --write URL_A --read URL_B --state F --from C0 [--count 300] [--pace-ms 20]
/// [--label L]`
///
/// Propagation from the writing instance to another: `count` times, one after the other (a
/// pause of `pace-ms` between), `POST /agenda/reservar` of a free grid cell on A, then the time
/// from A's 2xx answer (fully read) to the `horario_reservado` event of that slot on B's
/// `/sistema/agenda/stream`; A's own event is timed from the request too, and B's events
/// must carry a numeric id (the journal position). The hold is released
/// (`POST /agenda/liberar` on A) before the next one.
pub async fn propagacao(a: &Args) -> Res<()> {
    let wa = bases(a, "write")?.remove(0);
    let rb = bases(a, "read")?.remove(0);
    let g = Grid::load(&a.s("state")?)?;
    let from = a.n("from")?;
    let count = a.n_or("count", 300)?;
    let pace = Duration::from_millis(a.n_or("pace-ms", 20)?);
    let label = a.s_or("label", "prop");

    let sa = Arc::new(Seen::default());
    let sb = Arc::new(Seen::default());
    let la = tokio::spawn(watch(host_port(&wa)?, sa.clone()));
    let lb = tokio::spawn(watch(host_port(&rb)?, sb.clone()));
    let t = Instant::now();
    while !(sa.connected.load(Ordering::Relaxed) && sb.connected.load(Ordering::Relaxed)) {
        if t.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "SSE not connected: {:?} {:?}",
                lock(&sa.errors),
                lock(&sb.errors)
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let c = client(1)?;
    let mut prop = Vec::new();
    let mut own = Vec::new();
    let mut http = Vec::new();
    let (mut before_answer, mut missed, mut no_id) = (0u64, 0u64, 0u64);
    let mut errors = Errors::default();
    for i in 0..count {
        let (m, slot, _, _) = g.cell(from + i);
        let key = format!("horario_reservado|{m}|{slot}");
        let (txa, rxa) = tokio::sync::oneshot::channel();
        let (txb, rxb) = tokio::sync::oneshot::channel();
        lock(&sa.waiters).insert(key.clone(), txa);
        lock(&sb.waiters).insert(key.clone(), txb);
        let body = json!({"medico_id": m, "slot": slot});
        let t0 = Instant::now();
        let r = c
            .post(format!("{wa}/agenda/reservar"))
            .json(&body)
            .send()
            .await;
        let (st, text) = match r {
            Ok(r) => {
                let st = r.status().as_u16();
                (st, r.text().await.unwrap_or_default())
            }
            Err(e) => {
                errors.add("transport".into(), e.to_string());
                lock(&sa.waiters).remove(&key);
                lock(&sb.waiters).remove(&key);
                continue;
            }
        };
        let t_ok = Instant::now();
        if st != 200 {
            errors.add(error_kind(st, &text), format!("cell {}: {text}", from + i));
            lock(&sa.waiters).remove(&key);
            lock(&sb.waiters).remove(&key);
            continue;
        }
        http.push(t_ok - t0);
        match tokio::time::timeout(Duration::from_secs(5), rxb).await {
            Ok(Ok((seen, id))) => {
                if seen < t_ok {
                    before_answer += 1;
                }
                prop.push(seen.saturating_duration_since(t_ok));
                // Every instance publishes with the journal position as the SSE id.
                if id.is_none() {
                    no_id += 1;
                }
            }
            _ => {
                lock(&sb.waiters).remove(&key);
                missed += 1;
            }
        }
        match tokio::time::timeout(Duration::from_secs(5), rxa).await {
            Ok(Ok((seen, _))) => own.push(seen.saturating_duration_since(t0)),
            _ => {
                lock(&sa.waiters).remove(&key);
            }
        }
        let (st, text, _) = post_json(&c, &format!("{wa}/agenda/liberar"), &body).await?;
        if st != 200 {
            errors.add(error_kind(st, &text), format!("liberar: {text}"));
        }
        tokio::time::sleep(pace).await;
    }
    sa.stop.store(true, Ordering::Relaxed);
    sb.stop.store(true, Ordering::Relaxed);
    la.abort();
    lb.abort();
    for e in lock(&sa.errors)
        .iter()
        .chain(lock(&sb.errors).iter())
        .take(4)
    {
        println!("  {e}");
    }
    let n = prop.len();
    let sp = Stats::of(&mut prop);
    let so = Stats::of(&mut own);
    let sh = Stats::of(&mut http);
    println!(
        "{label}: {count} holds on A, one at a time every {} ms: A's 2xx -> horario_reservado on B: {n} seen, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({before_answer} arrived before A's answer was read, counted as 0; {missed} not within 5 s; {no_id} without a numeric SSE id); A's own stream, request -> event p50 {:.2} ms, p99 {:.2} ms; A's answer p50 {:.2} ms, p99 {:.2} ms",
        pace.as_millis(),
        sp.p50,
        sp.p99,
        sp.max,
        so.p50,
        so.p99,
        sh.p50,
        sh.p99
    );
    errors.report(&label);
    result(&format!("{label}_n"), n);
    result(&format!("{label}_missed"), missed);
    result(&format!("{label}_p50_ms"), format!("{:.2}", sp.p50));
    result(&format!("{label}_p99_ms"), format!("{:.2}", sp.p99));
    result(&format!("{label}_max_ms"), format!("{:.2}", sp.max));
    result(&format!("{label}_own_p50_ms"), format!("{:.2}", so.p50));
    result(&format!("{label}_http_p50_ms"), format!("{:.2}", sh.p50));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// failover

/// `failover --leader URL_A --other URL_B --kill-pid PID --state F --cell C [--signal KILL]
/// [--max-secs 30] [--label L]`
///
/// The worker instance killed: sends `SIGKILL` (or `--signal`) to PID (instance A, the
/// leader, started by `run.sh`), then at once `POST /consultas/agendar` of grid cell C on
/// instance B and polls `GET /sistema/tasks/{id}` on B every 20 ms until the task is
/// `concluida` or `falhou` (at most `max-secs`). Prints the seconds from the signal to the
/// finished task, and when B first answered that it leads (no route says so: the time is
/// inferred from the task leaving `pendente`).
pub async fn failover(a: &Args) -> Res<()> {
    let la = bases(a, "leader")?.remove(0);
    let ob = bases(a, "other")?.remove(0);
    let pid: u32 = a.n("kill-pid")? as u32;
    let g = Grid::load(&a.s("state")?)?;
    let cell = a.n("cell")?;
    let signal = a.s_or("signal", "KILL");
    let max_secs = a.f_or("max-secs", 30.0)?;
    let label = a.s_or("label", "failover");
    if !matches!(signal.as_str(), "KILL" | "TERM") {
        return Err(format!("--signal: KILL or TERM, got {signal}"));
    }
    let c = client(2)?;
    // The leader answers before it dies (the pid is the one we were given).
    let (st, _, _) = get_text(&c, &format!("{la}/sistema/saude")).await?;
    if st != 200 {
        return Err(format!("leader {la}: GET /sistema/saude answered {st}"));
    }
    let t0 = Instant::now();
    let k = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .map_err(|e| format!("kill: {e}"))?;
    if !k.success() {
        return Err(format!("kill -{signal} {pid} failed"));
    }
    let body = g.body(cell);
    let (st, text, _) = post_json(&c, &format!("{ob}/consultas/agendar"), &body).await?;
    let answered = t0.elapsed().as_secs_f64();
    if st != 202 {
        return Err(format!(
            "POST /consultas/agendar on B answered {st}: {text}"
        ));
    }
    let id = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["task_id"].as_str().map(str::to_string))
        .ok_or_else(|| format!("no task_id in {text}"))?;
    let mut started: Option<f64> = None;
    let mut status = String::from("pendente");
    while t0.elapsed().as_secs_f64() < max_secs {
        let (st, _, text) = get_text(&c, &format!("{ob}/sistema/tasks/{id}")).await?;
        if st == 200 {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            status = v["status"].as_str().unwrap_or("?").to_string();
            if status != "pendente" && started.is_none() {
                started = Some(t0.elapsed().as_secs_f64());
            }
            if status == "concluida" || status == "falhou" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{label}: kill -{signal} of the leader (pid {pid}); booking on B answered 202 after {:.1} ms; its task {status} after {secs:.2} s (left pendente after {})",
        answered * 1000.0,
        started.map_or("-".into(), |s| format!("{s:.2} s"))
    );
    result(&format!("{label}_status"), &status);
    result(&format!("{label}_secs"), format!("{secs:.2}"));
    Ok(())
}
