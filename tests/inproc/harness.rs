//! In-process harness: the production router (`build_router`, with the same path
//! normalization `serve` puts in front of it) over a real store in a temporary folder,
//! called with `tower::ServiceExt::oneshot`: no socket, no process, no sleep.
//!
//! The task worker is not started: queued tasks wait in their lane until the test runs them
//! with [`TestApp::run_tasks`], one step at a time on a blocking thread, exactly as the
//! worker thread would.

use std::sync::Arc;

use agendamento::Config;
use agendamento::infra::logs::{HubLayer, LogHub};
use agendamento::services::AppState;
use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt as _;

pub use crate::common::Resp;

/// SPEC-2 §16: with this variable set to a PostgreSQL server's URL, every [`TestApp`] opens
/// a fresh database on that server (`--database-url`) instead of a data folder: the same
/// tests against the other backend (`.ci/run` runs the part-1 modules that way).
pub const PG_ENV: &str = "AGENDAMENTO_TESTE_PG";

/// Creates an empty database on the server at `servidor`; returns its URL.
async fn banco_novo(servidor: &str) -> String {
    let (client, conn) = tokio_postgres::connect(servidor, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV}: cannot connect: {e}"));
    tokio::spawn(conn);
    let nome = format!("t_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {nome}"))
        .await
        .expect("CREATE DATABASE");
    let mut url = url::Url::parse(servidor).expect("a postgres:// URL");
    url.set_path(&nome);
    url.to_string()
}

/// The production router with the path normalization `serve` puts in front of it.
type Service = tower::util::MapRequest<axum::Router, fn(Request<Body>) -> Request<Body>>;

/// One application instance: state, router and the folder it lives in.
pub struct TestApp {
    /// The shared state the handlers receive (store, queue, clock…).
    pub state: AppState,
    service: Service,
    /// Keeps the data, backup, report and log folders alive for the test's life.
    pub dir: TempDir,
}

impl TestApp {
    /// A fresh application with the test settings (no demo data, paused worker).
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// A fresh application whose settings `tweak` adjusts first.
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::build(tweak, false).await
    }

    /// A fresh application whose log hub receives this process's `tracing` events at
    /// `info`, as `main` wires it, so `GET /sistema/logs` shows what the handlers log.
    /// Once per test process (nextest runs each test in its own).
    pub async fn with_logs() -> Self {
        Self::build(|_| {}, true).await
    }

    async fn build(tweak: impl FnOnce(&mut Config), logs: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_tests(dir.path());
        tweak(&mut config);
        if let Ok(servidor) = std::env::var(PG_ENV)
            && config.database_url.is_none()
        {
            config.database_url = Some(banco_novo(&servidor).await);
        }
        let hub = Arc::new(LogHub::new(jiff::tz::TimeZone::UTC));
        if logs {
            use tracing_subscriber::layer::SubscriberExt as _;
            let subscriber = tracing_subscriber::registry()
                .with(tracing_subscriber::EnvFilter::new("info"))
                .with(HubLayer::new(hub.clone(), &config.logs_dir));
            tracing::subscriber::set_global_default(subscriber)
                .expect("one log subscriber per test process");
        }
        let state = tokio::task::spawn_blocking(move || agendamento::open_state(config, hub))
            .await
            .expect("open_state did not panic")
            .expect("state opens");
        if state.store.shared() {
            // One instance: it leads (runs the tasks the test steps through).
            state
                .lider
                .store(true, std::sync::atomic::Ordering::Release);
        }
        let normalize: fn(Request<Body>) -> Request<Body> = agendamento::router::normalize_path;
        let service = agendamento::build_router(state.clone()).map_request(normalize);
        Self {
            state,
            service,
            dir,
        }
    }

    /// A fresh application started with these command-line flags (parsed by clap as the
    /// binary parses them; the folders stay in the temporary folder).
    pub async fn with_args(args: &[&str]) -> Self {
        let mut argv = vec!["agendamento".to_owned(), "--no-demo-data".to_owned()];
        // The part-1 contract: single-user mode unless the test asks for `--auth on`.
        if !args.contains(&"--auth") {
            argv.extend(["--auth".to_owned(), "off".to_owned()]);
        }
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        Self::with(move |c| {
            let mut parsed = <Config as clap::Parser>::parse_from(argv);
            parsed.data_dir = c.data_dir.clone();
            parsed.backup_dir = c.backup_dir.clone();
            parsed.reports_dir = c.reports_dir.clone();
            parsed.logs_dir = c.logs_dir.clone();
            *c = parsed;
        })
        .await
    }

    /// Sends one request with optional extra headers and a raw body.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.request(req.body(body.into()).expect("valid request"))
            .await
    }

    /// Sends a request built by the test (e.g. with header bytes that are not text).
    pub async fn request(&self, req: Request<Body>) -> Resp {
        let resp = self
            .service
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .expect("body reads")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    /// Sends a request and returns its status and its body unread (for endless bodies such
    /// as SSE streams, read frame by frame).
    pub async fn stream(&self, uri: &str, headers: &[(&str, &str)]) -> (u16, Body) {
        let mut req = Request::builder().method(Method::GET).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .service
            .clone()
            .oneshot(req.body(Body::empty()).expect("valid request"))
            .await
            .expect("the router is infallible");
        (resp.status().as_u16(), resp.into_body())
    }

    /// Sends a request and returns only the status and headers, dropping the body unread
    /// (for endless bodies such as SSE streams).
    pub async fn status_of(&self, method: Method, uri: &str, headers: &[(&str, &str)]) -> u16 {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::empty()).expect("valid request");
        let resp = self
            .service
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        resp.status().as_u16()
    }

    /// Sends `body` as JSON.
    pub async fn json(&self, method: Method, uri: &str, body: &Value) -> Resp {
        self.send(
            method,
            uri,
            &[(header::CONTENT_TYPE.as_str(), "application/json")],
            body.to_string(),
        )
        .await
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str) -> Resp {
        self.send(Method::GET, uri, &[], Body::empty()).await
    }

    /// `POST uri` with a JSON body.
    pub async fn post(&self, uri: &str, body: &Value) -> Resp {
        self.json(Method::POST, uri, body).await
    }

    /// `PUT uri` with a JSON body.
    pub async fn put(&self, uri: &str, body: &Value) -> Resp {
        self.json(Method::PUT, uri, body).await
    }

    /// `DELETE uri`.
    pub async fn delete(&self, uri: &str) -> Resp {
        self.send(Method::DELETE, uri, &[], Body::empty()).await
    }
}

impl TestApp {
    /// The state of one slot in `GET /agenda/slots`.
    pub async fn slot_state(&self, medico_id: &str, slot: &str) -> String {
        let r = self
            .get(&format!(
                "/agenda/slots?medico_id={medico_id}&de={}&days=1",
                &slot[..10]
            ))
            .await;
        r.expect_status(200);
        r.body[medico_id][slot]
            .as_str()
            .unwrap_or_else(|| panic!("slot {slot} not in {}", r.text))
            .to_owned()
    }

    /// Runs every queued task to its end, step by step on a blocking thread as the worker
    /// thread would (the worker is never started in these tests); returns the steps run.
    pub async fn run_tasks(&self) -> usize {
        let state = self.state.clone();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let worker = agendamento::worker::Worker {
                app: state.0.clone(),
                rt,
            };
            state.queue.run_pending(&worker)
        })
        .await
        .expect("the worker step did not panic")
    }
}
