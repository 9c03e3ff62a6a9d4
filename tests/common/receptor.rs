//! A real webhook receiver for tests (SPEC-2 §13): an axum server on 127.0.0.1 that
//! verifies each delivery's signature with the independent `standardwebhooks` crate,
//! records it, and answers from a script (e.g. 500, 500, then 200).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use parking_lot::Mutex;
use serde_json::Value;

/// One request received.
#[derive(Debug, Clone)]
pub struct Recebida {
    /// `webhook-id`.
    pub id: String,
    /// The body's `type`.
    pub tipo: String,
    /// The body.
    pub corpo: Value,
    /// Whether `standardwebhooks` accepted its signature (false without a secret).
    pub valida: bool,
}

#[derive(Default)]
struct Estado {
    segredo: Option<String>,
    roteiro: VecDeque<u16>,
    padrao: u16,
    atraso: Duration,
    /// Answers wait until this many requests arrived (0: none wait).
    reter: usize,
    /// The body of every answer (empty by default).
    corpo: String,
    recebidas: Vec<Recebida>,
    /// The peer address of each connection a request came on.
    conexoes: std::collections::HashSet<std::net::SocketAddr>,
}

/// The receiver; stops when dropped.
pub struct Receptor {
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub base: String,
    estado: Arc<Mutex<Estado>>,
    tarefa: tokio::task::JoinHandle<()>,
}

/// The receiver's state and the signal of each arrival (for [`Receptor::reter`]).
#[derive(Clone)]
struct Compartilhado {
    estado: Arc<Mutex<Estado>>,
    chegou: Arc<tokio::sync::Notify>,
}

impl Drop for Receptor {
    fn drop(&mut self) {
        self.tarefa.abort();
    }
}

async fn receber(
    State(Compartilhado { estado, chegou }): State<Compartilhado>,
    ConnectInfo(par): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    corpo: Bytes,
) -> (StatusCode, String) {
    let (segredo, atraso) = {
        let e = estado.lock();
        (e.segredo.clone(), e.atraso)
    };
    let valida = segredo.is_some_and(|s| {
        standardwebhooks::Webhook::new(&s)
            .and_then(|w| w.verify(&corpo, &headers))
            .is_ok()
    });
    let json: Value = serde_json::from_slice(&corpo).unwrap_or(Value::Null);
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // Recorded on arrival, answered after the delay: a slow receiver shows what is in flight.
    let (code, resposta) = {
        let mut e = estado.lock();
        e.conexoes.insert(par);
        e.recebidas.push(Recebida {
            id,
            tipo: json["type"].as_str().unwrap_or_default().to_owned(),
            corpo: json,
            valida,
        });
        (e.roteiro.pop_front().unwrap_or(e.padrao), e.corpo.clone())
    };
    chegou.notify_waiters();
    loop {
        // Registered before the check, so an arrival in between is not missed.
        let proxima = chegou.notified();
        let todas = {
            let e = estado.lock();
            e.recebidas.len() >= e.reter
        };
        if todas {
            break;
        }
        proxima.await;
    }
    if !atraso.is_zero() {
        tokio::time::sleep(atraso).await;
    }
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        resposta,
    )
}

impl Receptor {
    /// Starts a receiver answering 200 to everything.
    pub async fn iniciar() -> Self {
        let estado = Arc::new(Mutex::new(Estado {
            padrao: 200,
            ..Estado::default()
        }));
        let app = axum::Router::new()
            .route("/gancho", axum::routing::post(receber))
            .with_state(Compartilhado {
                estado: estado.clone(),
                chegou: Arc::default(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        let tarefa = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            estado,
            tarefa,
        }
    }

    /// The URL to subscribe.
    pub fn url(&self) -> String {
        format!("{}/gancho", self.base)
    }

    /// The port it listens on.
    pub fn porta(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// The secret signatures are checked against.
    pub fn segredo(&self, s: &str) {
        self.estado.lock().segredo = Some(s.to_owned());
    }

    /// Answers `codes` in order, then `padrao` to everything after.
    pub fn roteiro(&self, codes: &[u16], padrao: u16) {
        let mut e = self.estado.lock();
        e.roteiro = codes.iter().copied().collect();
        e.padrao = padrao;
    }

    /// Holds every answer until `n` requests have arrived: then they all go out together.
    pub fn reter(&self, n: usize) {
        self.estado.lock().reter = n;
    }

    /// Answers every request with this body.
    pub fn corpo(&self, corpo: impl Into<String>) {
        self.estado.lock().corpo = corpo.into();
    }

    /// How many connections requests came on.
    pub fn conexoes(&self) -> usize {
        self.estado.lock().conexoes.len()
    }

    /// Waits this long before answering each request.
    pub fn atraso(&self, d: Duration) {
        self.estado.lock().atraso = d;
    }

    /// Everything received so far.
    pub fn recebidas(&self) -> Vec<Recebida> {
        self.estado.lock().recebidas.clone()
    }

    /// Polls until `ok` holds for what was received (panics after `limite`).
    pub async fn esperar(
        &self,
        limite: Duration,
        ok: impl Fn(&[Recebida]) -> bool,
    ) -> Vec<Recebida> {
        let fim = Instant::now() + limite;
        loop {
            let r = self.recebidas();
            if ok(&r) {
                return r;
            }
            assert!(
                Instant::now() < fim,
                "receiver: condition not met in {limite:?}; got {r:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
