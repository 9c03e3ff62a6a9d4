//! Limits against abuse (issue 8): request timeouts answer problem+json, holds stay inside
//! the horizon, idempotency answers and queued bulk tasks are bounded, bookings never wait
//! behind bulk work, and idle or half-sent connections cannot lock new clients out.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::sched_helpers::*;

/// `127.0.0.1:PORT` of a server.
fn host(srv: &TestServer) -> String {
    srv.base.trim_start_matches("http://").to_owned()
}

/// Reads one HTTP response (head and a `content-length` body) or until EOF, within `limit`.
async fn read_response(stream: &mut TcpStream, limit: Duration) -> String {
    let mut buf = Vec::new();
    let deadline = Instant::now() + limit;
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return text;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&buf).into_owned(),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => panic!(
                "no complete response within {limit:?}; got: {}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
}

/// The JSON body of a raw response.
fn raw_body(resp: &str) -> Value {
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_request_past_the_timeout_answers_503_problem_json_with_retry_after() {
    let srv = TestServer::start_with(&["--request-timeout-secs", "1"]);
    // The body is announced but never sent: the handler waits for it until the timeout.
    let mut s = TcpStream::connect(host(&srv)).await.expect("connect");
    s.write_all(
        b"POST /pacientes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"nome\"",
    )
    .await
    .expect("write");
    let started = Instant::now();
    let resp = read_response(&mut s, Duration::from_secs(10)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let head = resp.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 503"), "{resp}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{resp}"
    );
    assert!(head.contains("retry-after: "), "{resp}");
    let body = raw_body(&resp);
    assert_eq!(body["code"], "request_timeout", "{resp}");
    assert_eq!(body["status"], 503, "{resp}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("tempo limite")),
        "{resp}"
    );
    assert_eq!(srv.count("/pacientes").await, 0, "nothing was created");

    // The timeout's log line names the route, never the path (a path can carry a public
    // link's token).
    let mut s = TcpStream::connect(host(&srv)).await.expect("connect");
    s.write_all(
        b"PUT /pacientes/segredo-no-caminho HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .expect("write");
    let resp = read_response(&mut s, Duration::from_secs(10)).await;
    assert!(
        resp.to_ascii_lowercase().starts_with("http/1.1 503"),
        "{resp}"
    );
    // The line may reach the log a moment after the answer.
    let fim = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = srv.stderr();
        if log.contains("route=/pacientes/{id}") || Instant::now() > fim {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        log.lines()
            .any(|l| l.contains("request timed out") && l.contains("route=/pacientes/{id}")),
        "{log}"
    );
    assert!(!log.contains("segredo-no-caminho"), "{log}");
}

/// The first Monday of `year`.
fn first_monday(year: i16) -> jiff::civil::Date {
    let mut d = jiff::civil::date(year, 1, 1);
    while d.weekday() != jiff::civil::Weekday::Monday {
        d = d.tomorrow().expect("date in range");
    }
    d
}

#[tokio::test]
async fn holds_and_bookings_beyond_the_horizon_answer_422_fora_do_horizonte() {
    // Default horizon: 366 days.
    let srv = TestServer::start();
    let mid = medico_com_horarios(&srv, 81, &[("segunda", "08:00", "12:00")]).await;
    let pid = str_field(
        &criar_paciente(&srv, "Paciente Horizonte", 8101).await,
        "id",
    );
    let inside = monday(3);
    let beyond = monday(60); // at least 422 days ahead
    let far = first_monday(9999);

    reservar(&srv, &mid, &at(inside, "08:00"))
        .await
        .expect_status(200);
    for day in [beyond, far] {
        let r = reservar(&srv, &mid, &at(day, "08:00")).await;
        r.expect_status(422);
        assert_eq!(r.body["code"], "fora_do_horizonte", "{}", r.text);
        assert!(
            str_field(&r.body, "detail").contains("horizonte de agendamento"),
            "{}",
            r.text
        );
        let r = agendar(&srv, &pid, &mid, &at(day, "08:30"), &at(day, "09:00")).await;
        r.expect_status(422);
        assert_eq!(r.body["code"], "fora_do_horizonte", "{}", r.text);
    }
    // Nothing was held or queued beyond the horizon.
    assert_eq!(
        slot_state(&srv, &mid, &at(beyond, "08:00")).await,
        "disponivel"
    );
    assert!(all_tasks(&srv, "").await.is_empty());
}

#[tokio::test]
async fn the_horizon_follows_the_horizonte_dias_flag() {
    let srv = TestServer::start_with(&["--horizonte-dias", "30"]);
    let mid = medico_com_horarios(&srv, 82, &[("segunda", "08:00", "12:00")]).await;
    reservar(&srv, &mid, &at(monday(2), "08:00"))
        .await
        .expect_status(200);
    let r = reservar(&srv, &mid, &at(monday(5), "08:00")).await;
    r.expect_status(422);
    assert_eq!(r.body["code"], "fora_do_horizonte", "{}", r.text);
    assert!(
        str_field(&r.body, "detail").contains("30 dias"),
        "{}",
        r.text
    );
}

/// POST with an `Idempotency-Key`.
async fn post_with_key(srv: &TestServer, path: &str, key: &str, body: &Value) -> Resp {
    read(
        srv.client
            .post(srv.url(path))
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("POST"),
    )
    .await
}

/// Size of the server's journal file.
fn journal_len(srv: &TestServer) -> u64 {
    std::fs::metadata(srv.data_dir().join("journal.jsonl"))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn keyed_requests_that_change_nothing_add_no_journal_entry() {
    let srv = TestServer::start();
    let mid = medico_com_horarios(&srv, 83, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(monday(2), "08:00");
    let before = journal_len(&srv);
    for i in 0..40 {
        let r = post_with_key(
            &srv,
            "/agenda/liberar",
            &format!("nada-{i}"),
            &json!({"medico_id": mid, "slot": slot}),
        )
        .await;
        r.expect_status(200);
        assert_eq!(r.body["status"], "disponivel", "{}", r.text);
    }
    assert_eq!(
        journal_len(&srv),
        before,
        "releasing a free slot journals nothing"
    );
}

#[tokio::test]
async fn keyed_requests_past_the_answer_cap_answer_429_and_change_nothing() {
    let srv = TestServer::start_with(&["--idempotencia-max", "3"]);
    for i in 0..3 {
        post_with_key(
            &srv,
            "/pacientes",
            &format!("cap-{i}"),
            &paciente_body("Paciente Limite", 8300 + i),
        )
        .await
        .expect_status(201);
    }
    let r = post_with_key(
        &srv,
        "/pacientes",
        "cap-3",
        &paciente_body("Paciente Limite", 8303),
    )
    .await;
    r.expect_status(429);
    assert_eq!(r.body["code"], "idempotency_limit", "{}", r.text);
    assert!(
        r.header("content-type")
            .starts_with("application/problem+json")
    );
    let wait: u64 = r
        .header("retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=86_400).contains(&wait), "{wait}");
    assert_eq!(
        srv.count("/pacientes").await,
        3,
        "the refused request created nothing"
    );
    // Stored answers still replay, and requests without a key are not limited.
    let replay = post_with_key(
        &srv,
        "/pacientes",
        "cap-0",
        &paciente_body("Paciente Limite", 8300),
    )
    .await;
    replay.expect_status(201);
    assert_eq!(replay.header("idempotent-replayed"), "true");
    srv.post("/pacientes", &paciente_body("Paciente Sem Chave", 8304))
        .await
        .expect_status(201);
}

#[tokio::test]
async fn a_key_older_than_24_h_runs_again_as_a_new_request() {
    let mut srv = TestServer::start();
    let first = post_with_key(
        &srv,
        "/pacientes",
        "antiga",
        &paciente_body("Primeira Vez", 8401),
    )
    .await;
    first.expect_status(201);
    assert!(srv.stop().success());
    // Age the stored answer by 25 hours in the snapshot the clean stop wrote.
    let path = srv.data_dir().join("idempotencia.json");
    let mut snap: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read snapshot"))
            .expect("snapshot JSON");
    let registros = snap["registros"].as_array_mut().expect("registros");
    assert_eq!(registros.len(), 1, "{registros:?}");
    let created = registros[0]["created"].as_i64().expect("created");
    registros[0]["created"] = json!(created - 25 * 3600);
    std::fs::write(&path, serde_json::to_vec_pretty(&snap).expect("JSON")).expect("write snapshot");
    srv.restart();

    // Another body under the old key: a new request, neither 409 nor 422.
    let again = post_with_key(
        &srv,
        "/pacientes",
        "antiga",
        &paciente_body("Segunda Vez", 8402),
    )
    .await;
    again.expect_status(201);
    assert_ne!(again.header("idempotent-replayed"), "true");
    assert_ne!(str_field(&again.body, "id"), str_field(&first.body, "id"));
    // And that answer is now the one replayed.
    let replay = post_with_key(
        &srv,
        "/pacientes",
        "antiga",
        &paciente_body("Segunda Vez", 8402),
    )
    .await;
    replay.expect_status(201);
    assert_eq!(replay.header("idempotent-replayed"), "true");
    assert_eq!(str_field(&replay.body, "id"), str_field(&again.body, "id"));
    assert_eq!(srv.count("/pacientes").await, 2);
}

/// Queues a backup (`POST /backup/executar` without a body).
async fn pedir_backup(srv: &TestServer) -> Resp {
    crate::backups::post_vazio(srv, "/backup/executar").await
}

#[tokio::test]
async fn bulk_tasks_past_the_queue_cap_answer_429_and_bookings_are_not_limited() {
    let srv = TestServer::start_with(&["--worker-paused", "--tarefas-fila-max", "3"]);
    for _ in 0..2 {
        pedir_backup(&srv).await.expect_status(202);
    }
    srv.post("/relatorios/gerar", &json!({}))
        .await
        .expect_status(202);
    for r in [
        pedir_backup(&srv).await,
        srv.post("/relatorios/gerar", &json!({})).await,
    ] {
        r.expect_status(429);
        assert_eq!(r.body["code"], "queue_full", "{}", r.text);
        assert!(
            r.header("content-type")
                .starts_with("application/problem+json")
        );
        let wait: u64 = r
            .header("retry-after")
            .parse()
            .expect("Retry-After in seconds");
        assert!(wait >= 1);
    }
    assert_eq!(
        all_tasks(&srv, "").await.len(),
        3,
        "nothing more was queued"
    );
    // Bookings have their own lane: the full bulk queue does not refuse them.
    let mid = medico_com_horarios(&srv, 84, &[("segunda", "08:00", "12:00")]).await;
    let pid = str_field(&criar_paciente(&srv, "Paciente Fila", 8501).await, "id");
    let day = monday(2);
    agendar_ok(&srv, &pid, &mid, &at(day, "08:00"), &at(day, "08:30")).await;
}

/// Reports asked for in bulk (a doctor may ask for them) never keep the clinic's backups
/// out: a backup finds room past the cap while no other backup is unfinished.
#[tokio::test]
async fn a_queue_full_of_reports_still_takes_one_backup() {
    let srv = TestServer::start_with(&["--worker-paused", "--tarefas-fila-max", "2"]);
    for _ in 0..2 {
        srv.post("/relatorios/gerar", &json!({}))
            .await
            .expect_status(202);
    }
    let r = srv.post("/relatorios/gerar", &json!({})).await;
    r.expect_status(429);
    assert_eq!(r.body["code"], "queue_full", "{}", r.text);
    pedir_backup(&srv).await.expect_status(202);
    // One backup past the cap, not two.
    let r = pedir_backup(&srv).await;
    r.expect_status(429);
    assert_eq!(r.body["code"], "queue_full", "{}", r.text);
    assert_eq!(all_tasks(&srv, "").await.len(), 3);
}

#[tokio::test]
async fn a_booking_does_not_wait_behind_a_running_report() {
    use futures_util::StreamExt as _;
    let srv = TestServer::start();
    let mid = medico_com_horarios(&srv, 85, &[("segunda", "08:00", "12:00")]).await;
    let pid = str_field(&criar_paciente(&srv, "Paciente Pressa", 8601).await, "id");
    // Enough appointments that the report takes a while to write.
    let base = jiff::civil::date(2024, 1, 1).at(0, 0, 0, 0);
    let statuses: Vec<u16> = futures_util::stream::iter(0..400i64)
        .map(|i| {
            let ini = base
                .checked_add(jiff::Span::new().minutes(30 * i))
                .expect("date in range");
            let fim = ini
                .checked_add(jiff::Span::new().minutes(30))
                .expect("date in range");
            let body = consulta_body(&pid, &mid, &ini.to_string(), &fim.to_string());
            let (client, url) = (srv.client.clone(), srv.url("/consultas"));
            async move {
                let r = client.post(url).json(&body).send().await.expect("POST");
                r.status().as_u16()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");

    let mut sse = SseStream::open(&srv, "/sistema/agenda/stream", None).await;
    let r = srv.post("/relatorios/gerar", &json!({})).await;
    r.expect_status(202);
    let mut bulk = vec![str_field(&r.body, "task_id")];
    let day = monday(2);
    let booking = agendar_ok(&srv, &pid, &mid, &at(day, "08:00"), &at(day, "08:30")).await;
    for _ in 0..5 {
        let r = pedir_backup(&srv).await;
        r.expect_status(202);
        bulk.push(str_field(&r.body, "task_id"));
    }

    // Every task's final `tarefa_atualizada`, in the order the server published them.
    let mut finished: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while finished.len() < bulk.len() + 1 {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = sse
            .next(left)
            .await
            .unwrap_or_else(|| panic!("stream ended or timed out; finished so far: {finished:?}"));
        if ev.tipo() != "tarefa_atualizada" {
            continue;
        }
        let d = ev.dados();
        if d["status"].as_str().is_some_and(is_final) {
            finished.push(str_field(&d, "task_id"));
        }
    }
    assert_eq!(
        finished.first(),
        Some(&booking),
        "the booking waited behind bulk work: {finished:?} (booking {booking})"
    );
    let t = wait_task(&srv, &booking, TASK_TIMEOUT).await;
    assert_eq!(t["status"], "concluida", "{t}");
}

#[tokio::test]
async fn unfinished_tasks_of_both_lanes_run_after_a_crash() {
    let mut srv = TestServer::start_with(&["--worker-paused"]);
    let mid = medico_com_horarios(&srv, 86, &[("segunda", "08:00", "12:00")]).await;
    let pid = str_field(&criar_paciente(&srv, "Paciente Retorno", 8701).await, "id");
    let day = monday(2);
    let booking = agendar_ok(&srv, &pid, &mid, &at(day, "08:00"), &at(day, "08:30")).await;
    let r = pedir_backup(&srv).await;
    r.expect_status(202);
    let backup = str_field(&r.body, "task_id");
    srv.kill9();
    srv.restart_with(&[]);
    for id in [&booking, &backup] {
        let t = wait_task(&srv, id, TASK_TIMEOUT).await;
        assert_eq!(t["status"], "concluida", "{t}");
    }
    assert_eq!(srv.count("/consultas").await, 1, "booked once");
}

/// A server started through `sh` with a low open-file limit and settings from the
/// environment (an older binary that lacks a setting ignores its variable).
struct LimitedServer {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl LimitedServer {
    fn start(nofile: u32, env: &[(&str, &str)]) -> Self {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(binary())
            .args(["--addr", "127.0.0.1:0", "--no-demo-data"])
            .arg("--data-dir")
            .arg(d.join("banco"))
            .arg("--backup-dir")
            .arg(d.join("backups"))
            .arg("--reports-dir")
            .arg(d.join("reports"))
            .arg("--logs-dir")
            .arg(d.join("logs"))
            .env("AGENDAMENTO_AUTH", "off")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn sh");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("server printed `listening on`");
            if let Some(a) = line.trim().strip_prefix("listening on http://") {
                break a.to_owned();
            }
        };
        Self {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for LimitedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` on a fresh connection; the raw response (bounded by `limit`).
async fn raw_get(addr: &str, path: &str, limit: Duration) -> String {
    let mut s = tokio::time::timeout(limit, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    read_response(&mut s, limit).await
}

/// Whether the server closed `s` within `limit` (EOF or reset), false if it stayed open.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn idle_and_half_sent_connections_cannot_lock_new_clients_out() {
    // 128 descriptors in all: without a cap, 300 idle connections use them up.
    let srv = LimitedServer::start(128, &[]);
    let mut held = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(&srv.addr).await.expect("connect");
        if i % 3 == 0 {
            s.write_all(b"GET /sistema/saude HTTP/1.1\r\nHost: x\r\nX-Meio: ")
                .await
                .expect("write");
        }
        held.push(s);
    }
    let resp = raw_get(&srv.addr, "/sistema/saude", Duration::from_secs(10)).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    drop(held);
}

#[tokio::test]
async fn half_sent_and_idle_connections_close_after_their_timeouts_and_streams_stay_open() {
    let srv = LimitedServer::start(
        4096,
        &[
            ("AGENDAMENTO_TIMEOUT_CABECALHOS_SECS", "1"),
            ("AGENDAMENTO_TIMEOUT_OCIOSO_SECS", "3"),
        ],
    );
    // A stream: busy for its whole life, so neither timeout applies to it.
    let mut stream = TcpStream::connect(&srv.addr).await.expect("connect");
    stream
        .write_all(
            b"GET /sistema/agenda/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
        )
        .await
        .expect("write");
    // An idle keep-alive connection: one request answered, then silence.
    let mut idle = TcpStream::connect(&srv.addr).await.expect("connect");
    idle.write_all(b"GET /sistema/saude HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let first = read_response(&mut idle, Duration::from_secs(5)).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // A half-sent request head, and a connection that never sends a byte.
    let started = Instant::now();
    let mut half = TcpStream::connect(&srv.addr).await.expect("connect");
    half.write_all(b"GET /sistema/saude HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut silent = TcpStream::connect(&srv.addr).await.expect("connect");

    assert!(
        closed_within(&mut half, Duration::from_secs(10)).await,
        "half-sent connection still open"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(10)).await,
        "silent connection still open"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
    assert!(
        !closed_within(&mut idle, Duration::from_millis(100)).await,
        "the idle connection closed with the header timeout"
    );
    assert!(
        closed_within(&mut idle, Duration::from_secs(10)).await,
        "idle connection still open"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !closed_within(&mut stream, Duration::from_millis(200)).await,
        "the event stream was closed as idle"
    );
}

#[tokio::test]
async fn at_the_cap_with_every_connection_busy_a_new_one_gets_503_problem_json() {
    let srv = LimitedServer::start(4096, &[("AGENDAMENTO_MAX_CONEXOES", "2")]);
    let mut streams = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(&srv.addr).await.expect("connect");
        s.write_all(b"GET /sistema/agenda/stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        // Wait for the stream's head: the connection is busy from here on.
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("stream head in time")
            .expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        streams.push(s);
    }
    let resp = raw_get(&srv.addr, "/sistema/saude", Duration::from_secs(5)).await;
    assert!(resp.starts_with("HTTP/1.1 503"), "{resp}");
    let head = resp.to_ascii_lowercase();
    assert!(
        head.contains("content-type: application/problem+json"),
        "{resp}"
    );
    assert!(head.contains("retry-after: "), "{resp}");
    assert_eq!(raw_body(&resp)["code"], "too_many_connections", "{resp}");
    assert_eq!(raw_body(&resp)["title"], "Serviço indisponível", "{resp}");
    // Once a stream ends, new clients are served again.
    drop(streams.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let resp = raw_get(&srv.addr, "/sistema/saude", Duration::from_secs(5)).await;
        if resp.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "never served again: {resp}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A stop does not wait forever for a request that never finishes (an upload whose client
/// went to sleep halfway): after `--timeout-encerramento-secs` its connection is closed and
/// the server still exits cleanly (final snapshots written, exit 0).
#[tokio::test]
async fn a_stalled_upload_does_not_hold_a_stop_past_its_timeout() {
    let mut srv = TestServer::start_with(&["--timeout-encerramento-secs", "2"]);
    let mut s = TcpStream::connect(host(&srv)).await.expect("connect");
    s.write_all(
        b"POST /backup/enviar HTTP/1.1\r\nHost: x\r\nContent-Type: application/zip\r\nContent-Length: 1000000\r\n\r\nPK\x03\x04 half an archive",
    )
    .await
    .expect("send half a request");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let t = Instant::now();
    let status = srv.stop();

    assert!(status.success(), "clean exit: {status:?}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "stopped {:?} after SIGTERM",
        t.elapsed()
    );
    assert!(
        srv.stderr().contains("requests still in flight"),
        "{}",
        srv.stderr()
    );
}
