//! The HTTP/1 accept loop with connection limits (issue 8): a header-read timeout, an idle
//! keep-alive timeout and a cap on open connections, so idle or half-sent connections can
//! never use up the file descriptors and lock new clients out.
//!
//! Each connection is watched: it is *busy* while one of its requests is being handled or
//! its response body is still being sent (an SSE stream stays busy for its whole life, so
//! it keeps its own keep-alive); otherwise it is idle or reading a new request head. A
//! sweeper closes connections whose head takes longer than the header timeout (counted from
//! the accept for the first request, from its first byte for a later one) and those idle
//! for longer than the idle timeout. At the cap, a new connection closes the
//! longest-waiting non-busy one; when every connection is busy the new one is answered
//! 503 problem+json with `Retry-After` and closed. Shutdown: stop accepting, ask every
//! connection to finish (idle ones close at once, in-flight requests are answered), wait.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tower::ServiceExt as _;

/// The connection limits (`--max-conexoes`, `--timeout-cabecalhos-secs`,
/// `--timeout-ocioso-secs`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most connections open at once.
    pub max: usize,
    /// Longest time from a request's first byte to its complete head.
    pub header_timeout: Duration,
    /// Longest time a connection may stay open with no request.
    pub idle_timeout: Duration,
    /// Longest a stop waits for the requests in flight before it closes their connections.
    pub drain_timeout: Duration,
    /// The clinic's reverse proxies (`--proxy-confiavel`): see [`cliente`].
    pub proxies: Arc<[IpAddr]>,
}

/// The client's address: the peer's, or, when the peer is among `proxies` (the clinic's
/// own reverse proxies), the nearest address in `X-Forwarded-For` that is not one of them:
/// read from the right (the entries the proxies added), so what a client wrote itself on
/// the left is never taken while a proxy's entry follows it. An entry that does not parse
/// stops the walk at the last proxy passed. IPv4 addresses seen as IPv6 (`::ffff:a.b.c.d`,
/// on a dual-stack listener) compare as IPv4.
pub fn cliente(peer: SocketAddr, headers: &http::HeaderMap, proxies: &[IpAddr]) -> SocketAddr {
    let confiavel = |ip: IpAddr| {
        proxies
            .iter()
            .any(|p| p.to_canonical() == ip.to_canonical())
    };
    if !confiavel(peer.ip()) {
        return peer;
    }
    let mut quem = None;
    let entradas = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|l| l.rsplit(','));
    for entrada in entradas {
        let Ok(ip) = entrada.trim().parse::<IpAddr>() else {
            break;
        };
        quem = Some(ip.to_canonical());
        if !confiavel(ip) {
            break;
        }
    }
    quem.map_or(peer, |ip| SocketAddr::new(ip, 0))
}

/// The default cap on connections: the open-file limit minus a reserve for the data,
/// backup, report and log files (a quarter, between 32 and 256), and at most 50,000 (an
/// idle stream costs about 20 KiB: 1 GiB at the cap). Above the 10,000 live subscribers
/// the agenda stream is built for, with room for the requests they make.
pub fn default_max_conexoes() -> usize {
    let soft = rlimit::Resource::NOFILE
        .get()
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let reserve = (soft / 4).clamp(32, 256);
    usize::try_from(soft.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .clamp(1, 50_000)
}

/// One open connection's state, shared by its task, its I/O, its requests and the sweeper.
struct Conn {
    /// Requests in service, counting a response body until it is sent (or dropped).
    busy: AtomicUsize,
    /// Bytes of a new request head arrived while not busy.
    reading_head: AtomicBool,
    /// When it last became idle or started reading a head (ms since the server's start).
    since: AtomicU64,
    /// Tells the connection's task to drop the connection.
    close: Notify,
}

/// The open connections.
struct Registry {
    start: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            // A new connection owes its first request head: the header timeout applies
            // from the accept on (an empty connection is not an idle keep-alive one).
            reading_head: AtomicBool::new(true),
            since: AtomicU64::new(self.now_ms()),
            close: Notify::new(),
        });
        self.conns.lock().insert(id, conn.clone());
        (id, conn)
    }

    /// Makes room for one more connection under `max`: closes the non-busy connection that
    /// has waited longest if needed. False when every connection is busy.
    fn make_room(&self, max: usize) -> bool {
        let mut conns = self.conns.lock();
        if conns.len() < max {
            return true;
        }
        let victim = conns
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.since.load(Ordering::Acquire))
            .map(|(id, _)| *id);
        match victim.and_then(|id| conns.remove(&id)) {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Closes the connections past their header or idle timeout.
    fn sweep(&self, limits: &Limits) {
        let now = self.now_ms();
        let header = u64::try_from(limits.header_timeout.as_millis()).unwrap_or(u64::MAX);
        let idle = u64::try_from(limits.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        self.conns.lock().retain(|_, c| {
            if c.busy.load(Ordering::Acquire) > 0 {
                return true;
            }
            let limit = if c.reading_head.load(Ordering::Acquire) {
                header
            } else {
                idle
            };
            let keep = now.saturating_sub(c.since.load(Ordering::Acquire)) <= limit;
            if !keep {
                c.close.notify_one();
            }
            keep
        });
    }
}

/// Marks a connection busy for as long as it lives (a request and its response body).
struct Busy {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Busy {
    fn new(conn: Arc<Conn>, registry: Arc<Registry>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        conn.reading_head.store(false, Ordering::Release);
        Self { conn, registry }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.conn
            .since
            .store(self.registry.now_ms(), Ordering::Release);
        self.conn.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that notes when a new request head starts arriving on a non-busy connection.
struct Watched {
    tcp: TcpStream,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let out = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before
            && self.conn.busy.load(Ordering::Acquire) == 0
            && !self.conn.reading_head.swap(true, Ordering::AcqRel)
        {
            self.conn
                .since
                .store(self.registry.now_ms(), Ordering::Release);
        }
        out
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Resolves once the flag turns true (or its sender is gone).
async fn until_true(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|d| *d).await;
}

/// The answer to a connection over the cap when every open one is busy.
fn shed(tcp: &TcpStream) {
    let body = serde_json::json!({
        "type": "urn:agendamento:problema:too_many_connections",
        "title": "Serviço indisponível",
        "status": 503,
        "detail": "O servidor está com o número máximo de conexões abertas; tente novamente em instantes.",
        "code": "too_many_connections",
    })
    .to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // Best effort and never waiting: a fresh socket's send buffer takes this at once.
    let _ = tcp.try_write(format!("{head}{body}").as_bytes());
}

/// Serves `service` on `listener` with `limits` until `stop` resolves, then stops accepting,
/// asks every connection to finish and waits for them.
pub async fn run<S>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    stop: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let registry = Arc::new(Registry {
        start: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
    });
    let (draining, _) = watch::channel(false);
    // Each connection task holds a sender; `recv` ends once all of them are gone.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let sweeper = {
        let (registry, limits) = (registry.clone(), limits.clone());
        let every = (limits.header_timeout.min(limits.idle_timeout) / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                registry.sweep(&limits);
            }
        })
    };
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = stop.as_mut() => break,
        };
        let (tcp, peer) = match accepted {
            Ok((tcp, peer)) => (tcp, peer),
            Err(e) => {
                // Out of descriptors (or a connection reset before accept): wait a little
                // instead of spinning; the cap normally keeps this from happening.
                tracing::warn!(target: "agendamento::http", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Without TCP_NODELAY, back-to-back SSE events wait for the client's delayed ACK.
        let _ = tcp.set_nodelay(true);
        if !registry.make_room(limits.max) {
            shed(&tcp);
            continue;
        }
        let (id, conn) = registry.add();
        let io = TokioIo::new(Watched {
            tcp,
            conn: conn.clone(),
            registry: registry.clone(),
        });
        let svc = {
            let (conn, registry, service) = (conn.clone(), registry.clone(), service.clone());
            let proxies = limits.proxies.clone();
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let busy = Busy::new(conn.clone(), registry.clone());
                let mut req = req.map(Body::new);
                // The client's address, for the per-address limits (SPEC-2 §10) and the
                // audit trail.
                let quem = cliente(peer, req.headers(), &proxies);
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(quem));
                let call = service.clone().oneshot(req);
                async move {
                    let res = call.await?;
                    // The connection stays busy until the body is sent: streams are not idle.
                    Ok::<_, Infallible>(res.map(|b| {
                        Body::new(b.map_frame(move |f| {
                            let _ = &busy;
                            f
                        }))
                    }))
                }
            })
        };
        let drain = draining.subscribe();
        let alive = alive_tx.clone();
        let registry = registry.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let http = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .header_read_timeout(None)
                .serve_connection(io, svc);
            let mut http = std::pin::pin!(http);
            tokio::select! {
                _ = http.as_mut() => {}
                () = conn.close.notified() => {}
                () = until_true(drain) => {
                    http.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = http.as_mut() => {}
                        () = conn.close.notified() => {}
                    }
                }
            }
            registry.conns.lock().remove(&id);
        });
    }
    drop(listener);
    draining.send_replace(true);
    drop(alive_tx);
    if tokio::time::timeout(limits.drain_timeout, alive_rx.recv())
        .await
        .is_err()
    {
        // A stalled upload or a client that stopped reading would hold the stop forever
        // (until the supervisor's SIGKILL skips the final snapshots): close them.
        let left = {
            let conns = registry.conns.lock();
            for c in conns.values() {
                c.close.notify_one();
            }
            conns.len()
        };
        tracing::warn!(target: "agendamento::http", connections = left,
            "requests still in flight when the stop's wait ended: their connections are closed");
        let _ = alive_rx.recv().await;
    }
    sweeper.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(valores: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in valores {
            h.append(
                "x-forwarded-for",
                http::HeaderValue::from_str(v).expect("header"),
            );
        }
        h
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client_and_only_by_its_last_hop() {
        let proxy: SocketAddr = "10.0.0.5:4000".parse().expect("addr");
        let outro: SocketAddr = "192.0.2.9:4000".parse().expect("addr");
        let confiaveis: [IpAddr; 1] = ["10.0.0.5".parse().expect("ip")];
        let ip = |peer, h: &http::HeaderMap| cliente(peer, h, &confiaveis).ip().to_string();
        let h = xff(&["198.51.100.1, 203.0.113.7"]);
        assert_eq!(ip(proxy, &h), "203.0.113.7");
        assert_eq!(
            ip(outro, &h),
            "192.0.2.9",
            "an untrusted peer's header is ignored"
        );
        // Several header lines: the last line's last address.
        let h = xff(&["198.51.100.1", "2001:db8::7"]);
        assert_eq!(ip(proxy, &h), "2001:db8::7");
        // Missing or unreadable: the peer's.
        assert_eq!(ip(proxy, &http::HeaderMap::new()), "10.0.0.5");
        assert_eq!(ip(proxy, &xff(&["203.0.113.7, nada"])), "10.0.0.5");
        // A chain of the clinic's proxies (CDN, then this one): the nearest other address.
        let dois: [IpAddr; 2] = [
            "10.0.0.5".parse().expect("ip"),
            "198.51.100.9".parse().expect("ip"),
        ];
        let h = xff(&["192.0.2.66, 203.0.113.7, 198.51.100.9"]);
        assert_eq!(cliente(proxy, &h, &dois).ip().to_string(), "203.0.113.7");
        // An IPv4 proxy seen on a dual-stack listener.
        let mapeado: SocketAddr = "[::ffff:10.0.0.5]:4000".parse().expect("addr");
        assert_eq!(ip(mapeado, &xff(&["203.0.113.7"])), "203.0.113.7");
    }
}
