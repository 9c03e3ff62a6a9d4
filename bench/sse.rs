//! A minimal Server-Sent Events client over a raw tokio `TcpStream` (HTTP/1.1, plain, chunked
//! or identity body), light enough to keep 10,000 streams open from one process; and the
//! `sse-fanout` subcommand.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Args, Res, Stats, client, post_json, result};

/// One SSE event: its `id:` (when numeric) and its `data:` lines joined by `\n`.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub data: String,
}

enum Body {
    /// Identity body (read to EOF).
    Plain,
    /// Chunked: bytes left in the current chunk, or `None` when a size line is expected.
    Chunked { left: Option<usize>, crlf: bool },
}

/// One open event stream.
pub struct SseConn {
    stream: TcpStream,
    raw: Vec<u8>,
    body: Vec<u8>,
    mode: Body,
    eof: bool,
}

/// `http://127.0.0.1:PORT` -> `127.0.0.1:PORT`.
pub fn host_port(base: &str) -> Res<String> {
    let hp = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("base URL must be http://HOST:PORT, got {base}"))?
        .trim_end_matches('/');
    if !hp.starts_with("127.0.0.1:") {
        return Err(format!("only 127.0.0.1 is allowed, got {hp}"));
    }
    Ok(hp.to_string())
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

impl SseConn {
    /// Connects, sends `GET path` with `Accept: text/event-stream` (and `Last-Event-ID`) and
    /// reads the response head; fails unless it is 200 with a `text/event-stream` body.
    pub async fn open(hp: &str, path: &str, last_id: Option<u64>) -> Res<SseConn> {
        let mut stream = TcpStream::connect(hp)
            .await
            .map_err(|e| format!("connect {hp}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {hp}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"
        );
        if let Some(id) = last_id {
            req.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        req.push_str("\r\n");
        stream
            .write_all(req.as_bytes())
            .await
            .map_err(|e| format!("write request: {e}"))?;
        let mut raw = Vec::with_capacity(1024);
        let head_end = loop {
            if let Some(p) = find(&raw, b"\r\n\r\n") {
                break p;
            }
            if raw.len() > 16 * 1024 {
                return Err("response head over 16 KiB".into());
            }
            let mut tmp = [0u8; 1024];
            let n = stream
                .read(&mut tmp)
                .await
                .map_err(|e| format!("read head: {e}"))?;
            if n == 0 {
                return Err("connection closed before the response head".into());
            }
            raw.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
        let status_line = head.lines().next().unwrap_or("");
        if !status_line.starts_with("http/1.1 200") {
            return Err(format!("answer {status_line:?}"));
        }
        if !head.contains("content-type: text/event-stream") {
            return Err(format!("not an event stream: {head:?}"));
        }
        let mode = if head.contains("transfer-encoding: chunked") {
            Body::Chunked {
                left: None,
                crlf: false,
            }
        } else {
            Body::Plain
        };
        let rest = raw.split_off(head_end + 4);
        Ok(SseConn {
            stream,
            raw: rest,
            body: Vec::with_capacity(512),
            mode,
            eof: false,
        })
    }

    /// Moves decoded body bytes from `raw` to `body`; returns false at the end of the body.
    fn decode(&mut self) -> Res<bool> {
        match &mut self.mode {
            Body::Plain => {
                self.body.append(&mut self.raw);
                Ok(true)
            }
            Body::Chunked { left, crlf } => loop {
                if *crlf {
                    if self.raw.len() < 2 {
                        return Ok(true);
                    }
                    if &self.raw[..2] != b"\r\n" {
                        return Err("bad chunk terminator".into());
                    }
                    self.raw.drain(..2);
                    *crlf = false;
                }
                match *left {
                    None => {
                        let Some(p) = find(&self.raw, b"\r\n") else {
                            return Ok(true);
                        };
                        let line = String::from_utf8_lossy(&self.raw[..p]).to_string();
                        let size =
                            usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                                .map_err(|_| format!("bad chunk size line {line:?}"))?;
                        self.raw.drain(..p + 2);
                        if size == 0 {
                            return Ok(false);
                        }
                        *left = Some(size);
                    }
                    Some(n) => {
                        if self.raw.is_empty() {
                            return Ok(true);
                        }
                        let take = n.min(self.raw.len());
                        self.body.extend(self.raw.drain(..take));
                        if take == n {
                            *left = None;
                            *crlf = true;
                        } else {
                            *left = Some(n - take);
                        }
                    }
                }
            },
        }
    }

    /// Takes one complete event out of `body`, skipping comment-only blocks (keep-alives).
    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let p = find(&self.body, b"\n\n")?;
            let block: Vec<u8> = self.body.drain(..p + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let mut id = None;
            let mut data: Option<String> = None;
            for line in text.split('\n') {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if line.is_empty() || line.starts_with(':') {
                    continue;
                }
                let (field, value) = match line.find(':') {
                    Some(i) => (
                        &line[..i],
                        line[i + 1..].strip_prefix(' ').unwrap_or(&line[i + 1..]),
                    ),
                    None => (line, ""),
                };
                match field {
                    "id" => id = value.parse().ok(),
                    "data" => match &mut data {
                        Some(d) => {
                            d.push('\n');
                            d.push_str(value);
                        }
                        None => data = Some(value.to_string()),
                    },
                    _ => {}
                }
            }
            if let Some(data) = data {
                return Some(SseEvent { id, data });
            }
        }
    }

    /// The next event; `Ok(None)` when the server ended the stream.
    pub async fn next(&mut self) -> Res<Option<SseEvent>> {
        loop {
            if let Some(e) = self.take_event() {
                return Ok(Some(e));
            }
            if self.eof {
                return Ok(None);
            }
            if !self.decode()? {
                self.eof = true;
                continue;
            }
            if let Some(e) = self.take_event() {
                return Ok(Some(e));
            }
            let mut tmp = [0u8; 4096];
            let n = self
                .stream
                .read(&mut tmp)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                self.eof = true;
                continue;
            }
            self.raw.extend_from_slice(&tmp[..n]);
        }
    }
}

/// VmRSS / VmHWM etc. of a process, in KiB.
pub fn proc_kib(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Raises this process's open-file soft limit to its hard limit.
pub fn raise_nofile() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// `sse-fanout --base URL --pid PID --medico ID --slot YYYY-MM-DDTHH:MM:SS [--subscribers 10000]
/// [--connect-conc 256] [--connect-secs 120] [--wait-secs 30]`
///
/// Opens N subscribers to `/sistema/agenda/stream`, measures the server's VmRSS before and after,
/// then holds `slot` of `medico` (`POST /agenda/reservar`) and measures, for each subscriber,
/// the delay from the request to receiving that `horario_reservado` event; then releases the
/// hold and closes every stream.
pub async fn fanout(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let hp = host_port(&base)?;
    let pid: u32 = a.n("pid")? as u32;
    let medico = a.s("medico")?;
    let slot = a.s("slot")?;
    let n = a.n_or("subscribers", 10_000)? as usize;
    let connect_conc = a.n_or("connect-conc", 256)? as usize;
    let connect_secs = a.f_or("connect-secs", 120.0)?;
    let wait_secs = a.f_or("wait-secs", 30.0)?;
    let limit = raise_nofile();
    println!("fanout: open-file limit of the load generator: {limit}");
    if (limit as usize) < n + 100 {
        println!("fanout: WARNING: open-file limit {limit} is below {n} subscribers + margin");
    }

    // Settle, then the server's memory before.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = proc_kib(pid, "VmRSS").unwrap_or(0);

    let sem = Arc::new(tokio::sync::Semaphore::new(connect_conc.max(1)));
    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The trigger's time, set just before the POST is sent.
    let (t0_tx, t0_rx) = tokio::sync::watch::channel::<Option<Instant>>(None);
    let marker = Arc::new(format!("\"slot\":\"{slot}\""));
    let medico_m = Arc::new(format!("\"medico_id\":\"{medico}\""));
    let first_err: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let got_n = Arc::new(AtomicUsize::new(0));
    let ended_n = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let connect_deadline = start + Duration::from_secs_f64(connect_secs);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (sem, ready, failed, hp) = (sem.clone(), ready.clone(), failed.clone(), hp.clone());
        let (mut stop_rx, t0_rx) = (stop_rx.clone(), t0_rx.clone());
        let (marker, medico_m, first_err) = (marker.clone(), medico_m.clone(), first_err.clone());
        let (got_n, ended_n) = (got_n.clone(), ended_n.clone());
        tasks.push(tokio::spawn(async move {
            let permit = tokio::select! {
                p = sem.acquire_owned() => p.ok(),
                _ = tokio::time::sleep_until(connect_deadline.into()) => None,
            };
            let Some(permit) = permit else {
                failed.fetch_add(1, Ordering::Relaxed);
                return None;
            };
            let opened = tokio::time::timeout_at(
                connect_deadline.into(),
                SseConn::open(&hp, "/sistema/agenda/stream", None),
            )
            .await;
            drop(permit);
            let mut conn = match opened {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    let mut fe = first_err.lock().unwrap_or_else(|p| p.into_inner());
                    if fe.len() < 5 {
                        fe.push(e);
                    }
                    return None;
                }
                Err(_) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            };
            ready.fetch_add(1, Ordering::Relaxed);
            let mut got: Option<Duration> = None;
            loop {
                tokio::select! {
                    ev = conn.next() => match ev {
                        Ok(Some(ev)) => {
                            if got.is_none() && ev.data.contains(marker.as_str()) && ev.data.contains(medico_m.as_str())
                                && ev.data.contains("\"horario_reservado\"")
                            {
                                let now = Instant::now();
                                let t0 = *t0_rx.borrow();
                                got = t0.map(|t0| now.saturating_duration_since(t0));
                                got_n.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        _ => {
                            if got.is_none() {
                                ended_n.fetch_add(1, Ordering::Relaxed);
                            }
                            return got.map(Ok).or(Some(Err(())));
                        }
                    },
                    _ = stop_rx.wait_for(|s| *s) => return got.map(Ok),
                }
            }
        }));
    }
    // Wait until every subscriber is connected (or failed), bounded.
    loop {
        let r = ready.load(Ordering::Relaxed);
        let f = failed.load(Ordering::Relaxed);
        if r + f >= n || Instant::now() >= connect_deadline + Duration::from_secs(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_time = start.elapsed().as_secs_f64();
    let connected = ready.load(Ordering::Relaxed);
    println!(
        "fanout: {connected}/{n} subscribers connected (response head received) in {connect_time:.2} s, {} failed",
        failed.load(Ordering::Relaxed)
    );
    for e in first_err.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        println!("    e.g. {e}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss1 = proc_kib(pid, "VmRSS").unwrap_or(0);
    let delta = rss1.saturating_sub(rss0);
    let per = if connected > 0 {
        delta as f64 / connected as f64
    } else {
        f64::NAN
    };
    println!(
        "fanout: server VmRSS {rss0} KiB before, {rss1} KiB with {connected} idle subscribers: +{:.1} MiB, {per:.1} KiB per subscriber",
        delta as f64 / 1024.0
    );

    // The trigger.
    let c = client(2)?;
    let body = json!({"medico_id": medico, "slot": slot});
    let t0 = Instant::now();
    let _ = t0_tx.send(Some(t0));
    let (st, text, post_lat) = post_json(&c, &format!("{base}/agenda/reservar"), &body).await?;
    if st != 200 {
        println!("fanout: POST /agenda/reservar answered {st}: {text}");
    }
    println!(
        "fanout: POST /agenda/reservar {slot} answered {st} in {:.2} ms",
        post_lat.as_secs_f64() * 1000.0
    );
    // Wait until every connected subscriber got it or its stream ended (bounded), then stop
    // them all.
    let wait_deadline = Instant::now() + Duration::from_secs_f64(wait_secs);
    while Instant::now() < wait_deadline {
        let g = got_n.load(Ordering::Relaxed);
        let e = ended_n.load(Ordering::Relaxed);
        if g + e >= connected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waited = t0.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let close_start = Instant::now();
    let mut lat = Vec::with_capacity(n);
    let mut dropped = 0usize;
    for h in tasks {
        match h.await {
            Ok(Some(Ok(d))) => lat.push(d),
            Ok(Some(Err(()))) => dropped += 1,
            _ => {}
        }
    }
    let received = lat.len();
    let s = Stats::of(&mut lat);
    println!(
        "fanout: {received}/{connected} subscribers received the event within {waited:.2} s: delay p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {dropped} streams ended before it",
        s.p50, s.p99, s.max
    );
    // Release the hold.
    let (st, text, _) = post_json(&c, &format!("{base}/agenda/liberar"), &body).await?;
    if st != 200 {
        println!("fanout: POST /agenda/liberar answered {st}: {text}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss2 = proc_kib(pid, "VmRSS").unwrap_or(0);
    println!(
        "fanout: streams closed in {:.2} s; server VmRSS {rss2} KiB after closing",
        close_start.elapsed().as_secs_f64()
    );
    result("fanout_n", n);
    result("fanout_connected", connected);
    result("fanout_connect_s", format!("{connect_time:.2}"));
    result("fanout_rss0_kib", rss0);
    result("fanout_rss1_kib", rss1);
    result("fanout_rss2_kib", rss2);
    result("fanout_per_sub_kib", format!("{per:.1}"));
    result("fanout_received", received);
    result("fanout_p50_ms", format!("{:.1}", s.p50));
    result("fanout_p99_ms", format!("{:.1}", s.p99));
    result("fanout_max_ms", format!("{:.1}", s.max));
    result("fanout_trigger_status", st);
    Ok(())
}
