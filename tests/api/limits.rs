//! Limits against abuse (issue 8): request timeouts answer problem+json, holds stay inside
//! the horizon, idempotency answers and queued bulk tasks are bounded, bookings never wait
//! behind bulk work, and idle or half-sent connections cannot lock new clients out.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

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
}

#[allow(dead_code)]
fn _unused(_: Value) -> Value {
    json!({})
}
