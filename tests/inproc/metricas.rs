//! `GET /metrics` (SPEC-2 §15): the exposition parses as Prometheus text, counters grow by
//! exactly the requests made, labels carry route templates and never an id (bounded under
//! 10,000 distinct ids), histograms have buckets, the worker and the journal record, and
//! `--metrics-token` guards it. The recorder is global to the process: every assertion on
//! a counter compares two scrapes of the same process, and nextest gives each test its own.

use std::collections::BTreeMap;

use crate::harness::TestApp;
use crate::helpers::*;

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Amostra {
    nome: String,
    labels: BTreeMap<String, String>,
    valor: f64,
}

fn valid_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `{a="x",b="y"}` at the start of `s`; returns the labels and the rest after `}`.
fn parse_labels(s: &str, n: usize) -> (BTreeMap<String, String>, &str) {
    let b = s.as_bytes();
    assert_eq!(b[0], b'{');
    let mut i = 1;
    let mut labels = BTreeMap::new();
    loop {
        if b[i] == b'}' {
            return (labels, &s[i + 1..]);
        }
        let eq = i + s[i..]
            .find('=')
            .unwrap_or_else(|| panic!("line {n}: label without ="));
        let nome = &s[i..eq];
        assert!(valid_name(nome), "line {n}: bad label name {nome:?}");
        assert_eq!(b[eq + 1], b'"', "line {n}: unquoted label value");
        let mut valor = String::new();
        let mut j = eq + 2;
        loop {
            let c = s[j..]
                .chars()
                .next()
                .unwrap_or_else(|| panic!("line {n}: open quote"));
            match c {
                '\\' => {
                    match b[j + 1] {
                        b'\\' => valor.push('\\'),
                        b'"' => valor.push('"'),
                        b'n' => valor.push('\n'),
                        other => panic!("line {n}: bad escape {other}"),
                    }
                    j += 2;
                }
                '"' => {
                    j += 1;
                    break;
                }
                c => {
                    valor.push(c);
                    j += c.len_utf8();
                }
            }
        }
        assert!(
            labels.insert(nome.to_owned(), valor).is_none(),
            "line {n}: repeated label"
        );
        match b[j] {
            b',' => i = j + 1,
            b'}' => i = j,
            other => panic!(
                "line {n}: expected , or }} after a label, got {}",
                other as char
            ),
        }
    }
}

/// A small parser of the Prometheus text format 0.0.4: `# HELP` / `# TYPE` lines and samples
/// `name{label="value",…} value`. Panics on anything else, so a malformed exposition fails.
/// Returns the samples and each metric family's type.
fn parse(texto: &str) -> (Vec<Amostra>, BTreeMap<String, String>) {
    let mut amostras = Vec::new();
    let mut tipos = BTreeMap::new();
    for (n, linha) in texto.lines().enumerate() {
        if linha.trim().is_empty() {
            continue;
        }
        if let Some(resto) = linha.strip_prefix("# ") {
            let mut partes = resto.splitn(3, ' ');
            let kw = partes.next().unwrap_or_default();
            let nome = partes.next().unwrap_or_default();
            assert!(valid_name(nome), "line {n}: bad name in {linha:?}");
            match kw {
                "TYPE" => {
                    let t = partes.next().unwrap_or_default();
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                        "line {n}: bad type in {linha:?}"
                    );
                    assert!(
                        tipos.insert(nome.to_owned(), t.to_owned()).is_none(),
                        "line {n}: TYPE twice"
                    );
                }
                "HELP" => {}
                _ => panic!("line {n}: unknown comment {linha:?}"),
            }
            continue;
        }
        let fim = linha
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("line {n}: no value: {linha:?}"));
        let nome = &linha[..fim];
        assert!(valid_name(nome), "line {n}: bad metric name {nome:?}");
        let (labels, resto) = if linha[fim..].starts_with('{') {
            parse_labels(&linha[fim..], n)
        } else {
            (BTreeMap::new(), &linha[fim..])
        };
        let mut campos = resto.split_whitespace();
        let v = campos
            .next()
            .unwrap_or_else(|| panic!("line {n}: no value: {linha:?}"));
        if let Some(ts) = campos.next() {
            ts.parse::<i64>()
                .unwrap_or_else(|_| panic!("line {n}: bad timestamp"));
        }
        assert!(
            campos.next().is_none(),
            "line {n}: trailing text: {linha:?}"
        );
        let valor = match v {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("line {n}: bad value {v:?}")),
        };
        amostras.push(Amostra {
            nome: nome.to_owned(),
            labels,
            valor,
        });
    }
    (amostras, tipos)
}

async fn scrape(app: &TestApp) -> Vec<Amostra> {
    let r = app.get("/metrics").await;
    r.expect_status(200);
    assert!(
        r.header("content-type").starts_with("text/plain"),
        "{:?}",
        r.header("content-type")
    );
    parse(&r.text).0
}

/// The value of the sample `nome` whose labels include every `(k, v)` of `com` (0 if none).
fn valor(amostras: &[Amostra], nome: &str, com: &[(&str, &str)]) -> f64 {
    amostras
        .iter()
        .filter(|a| {
            a.nome == nome
                && com
                    .iter()
                    .all(|(k, v)| a.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|a| a.valor)
        .sum()
}

const REQS: &str = "agendamento_http_requests_total";

#[tokio::test]
async fn metrics_exposition_parses_with_types_and_bucketed_histograms() {
    let app = TestApp::new().await;
    app.get("/medicos").await.expect_status(200);

    let r = app.get("/metrics").await;

    r.expect_status(200);
    let (amostras, tipos) = parse(&r.text);
    assert_eq!(tipos.get(REQS).map(String::as_str), Some("counter"));
    let hist = "agendamento_http_request_duration_seconds";
    assert_eq!(
        tipos.get(hist).map(String::as_str),
        Some("histogram"),
        "buckets, not a summary"
    );
    let medicos = [("route", "/medicos"), ("method", "GET")];
    let buckets: Vec<&Amostra> = amostras
        .iter()
        .filter(|a| {
            a.nome == format!("{hist}_bucket")
                && a.labels.get("route").map(String::as_str) == Some("/medicos")
        })
        .collect();
    assert!(buckets.len() >= 10, "explicit buckets: {buckets:?}");
    assert!(
        buckets
            .iter()
            .any(|b| b.labels["le"] == "+Inf" && b.valor == 1.0)
    );
    assert_eq!(valor(&amostras, &format!("{hist}_count"), &medicos), 1.0);
    for (nome, tipo) in [
        ("agendamento_tasks", "gauge"),
        ("agendamento_queue_depth", "gauge"),
        ("agendamento_sse_subscribers", "gauge"),
        ("agendamento_holds_live", "gauge"),
        ("agendamento_process_resident_memory_bytes", "gauge"),
    ] {
        assert_eq!(
            tipos.get(nome).map(String::as_str),
            Some(tipo),
            "{nome} in {}",
            r.text
        );
    }
    assert!(valor(&amostras, "agendamento_process_resident_memory_bytes", &[]) > 1_000_000.0);
}

#[tokio::test]
async fn metrics_counters_grow_by_exactly_the_requests_made() {
    let app = TestApp::new().await;
    let m = str_field(
        &criar_medico(&app, "Dra. Ana", 1, "Cardiologia").await,
        "id",
    );
    let antes = scrape(&app).await;

    for _ in 0..7 {
        app.get(&format!("/medicos/{m}")).await.expect_status(200);
    }
    for _ in 0..3 {
        app.get(&format!("/medicos/{}", unknown_id()))
            .await
            .expect_status(404);
    }
    app.get("/rota/que/nao/existe").await.expect_status(404);
    let depois = scrape(&app).await;

    let delta = |com: &[(&str, &str)]| valor(&depois, REQS, com) - valor(&antes, REQS, com);
    assert_eq!(
        delta(&[
            ("route", "/medicos/{id}"),
            ("method", "GET"),
            ("status", "200")
        ]),
        7.0
    );
    assert_eq!(delta(&[("route", "/medicos/{id}"), ("status", "404")]), 3.0);
    assert_eq!(
        delta(&[("route", "-"), ("status", "404")]),
        1.0,
        "no route matched"
    );
    // The first scrape itself was counted by the time of the second.
    assert_eq!(delta(&[("route", "/metrics")]), 1.0);
    let h = "agendamento_http_request_duration_seconds_count";
    let dh = valor(&depois, h, &[("route", "/medicos/{id}")])
        - valor(&antes, h, &[("route", "/medicos/{id}")]);
    assert_eq!(dh, 10.0, "one latency sample per request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_labels_never_carry_an_id_under_ten_thousand_distinct_ones() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let (pid, mid) = paciente_e_medico(&app).await;
    let mut ids = vec![pid.clone(), mid.clone()];
    for lote in 0..10 {
        let mut tasks = Vec::new();
        for k in 0..1000 {
            let id = format!("{lote:02}{k:03}-{}", uuid::Uuid::new_v4());
            let app = app.clone();
            let path = match k % 4 {
                0 => format!("/medicos/{id}"),
                1 => format!("/pacientes/{id}"),
                2 => format!("/consultas/{id}"),
                _ => format!("/horarios/medico/{id}"),
            };
            ids.push(id);
            tasks.push(tokio::spawn(async move { app.get(&path).await.status }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("request"), 404);
        }
    }
    app.get(&format!("/medicos/{mid}?x={pid}"))
        .await
        .expect_status(200);

    let r = app.get("/metrics").await;

    r.expect_status(200);
    for id in &ids {
        assert!(
            !r.text.contains(id.as_str()),
            "id {id} leaked into the exposition"
        );
    }
    let (amostras, _) = parse(&r.text);
    let rotas: std::collections::BTreeSet<&str> = amostras
        .iter()
        .filter_map(|a| a.labels.get("route").map(String::as_str))
        .collect();
    assert!(
        rotas.iter().all(|r| *r == "-" || r.starts_with('/')),
        "{rotas:?}"
    );
    assert!(rotas.len() <= 10, "bounded routes: {rotas:?}");
    assert!(
        amostras.len() < 500,
        "{} samples after 10,000 ids",
        amostras.len()
    );
    assert_eq!(
        valor(
            &amostras,
            REQS,
            &[("route", "/medicos/{id}"), ("status", "404")]
        ),
        2500.0
    );
    assert_eq!(
        valor(
            &amostras,
            REQS,
            &[("route", "/horarios/medico/{medico_id}"), ("status", "404")]
        ),
        2500.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_record_bookings_tasks_holds_and_the_journal() {
    let app = TestApp::new().await;
    let pid = app.paciente(1).await;
    let mid = app.medico(1, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let antes = scrape(&app).await;

    app.post(
        "/consultas/agendar",
        &consulta_body(&pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")),
    )
    .await
    .expect_status(202);
    reservar(&app, &mid, &at(seg, "10:00"))
        .await
        .expect_status(200);
    let pendente = scrape(&app).await;
    assert_eq!(app.run_tasks().await, 1);
    let depois = scrape(&app).await;

    assert_eq!(
        valor(
            &pendente,
            "agendamento_tasks",
            &[("tipo", "agendar_consulta"), ("status", "pendente")]
        ),
        1.0
    );
    assert_eq!(
        valor(
            &depois,
            "agendamento_tasks",
            &[("tipo", "agendar_consulta"), ("status", "pendente")]
        ),
        0.0
    );
    assert_eq!(
        valor(&pendente, "agendamento_holds_live", &[]),
        2.0,
        "the booking's hold and the explicit one"
    );
    assert_eq!(valor(&depois, "agendamento_holds_live", &[]), 1.0);
    let b = "agendamento_bookings_total";
    assert_eq!(
        valor(&depois, b, &[("outcome", "agendada")])
            - valor(&antes, b, &[("outcome", "agendada")]),
        1.0
    );
    // A series is a booking task too: one count for the whole series.
    app.post(
        "/consultas/agendar-serie",
        &serde_json::json!({"paciente_id": pid, "medico_id": mid, "inicio": at(seg, "11:00"),
            "fim": at(seg, "11:30"), "repeticao": {"a_cada_semanas": 1, "ocorrencias": 3}}),
    )
    .await
    .expect_status(202);
    assert_eq!(app.run_tasks().await, 1);
    let serie = scrape(&app).await;
    assert_eq!(
        valor(&serie, b, &[("outcome", "agendada")])
            - valor(&depois, b, &[("outcome", "agendada")]),
        1.0
    );
    let t = "agendamento_task_duration_seconds_count";
    let com = [("tipo", "agendar_consulta"), ("status", "concluida")];
    assert_eq!(valor(&depois, t, &com) - valor(&antes, t, &com), 1.0);
    let f = "agendamento_journal_fsync_duration_seconds_count";
    assert!(
        valor(&depois, f, &[]) > valor(&antes, f, &[]),
        "appends were timed"
    );
    let lote = "agendamento_journal_batch_entries_sum";
    assert!(
        valor(&depois, lote, &[]) - valor(&antes, lote, &[]) >= 3.0,
        "the booking's writes"
    );
}

#[tokio::test]
async fn metrics_require_the_configured_bearer_token() {
    let app = TestApp::with_args(&["--metrics-token", "segredo-de-teste"]).await;

    let sem = app.get("/metrics").await;
    let errado = app
        .send(
            axum::http::Method::GET,
            "/metrics",
            &[("authorization", "Bearer outro")],
            "",
        )
        .await;
    let certo = app
        .send(
            axum::http::Method::GET,
            "/metrics",
            &[("authorization", "Bearer segredo-de-teste")],
            "",
        )
        .await;

    assert_problem(&sem, 401, "nao_autenticado");
    assert_eq!(sem.header("www-authenticate"), "Bearer");
    assert_problem(&errado, 401, "nao_autenticado");
    certo.expect_status(200);
    assert!(certo.text.contains(REQS));
}

#[tokio::test]
async fn metrics_off_answers_404() {
    let app = TestApp::with_args(&["--no-metrics"]).await;

    let r = app.get("/metrics").await;

    assert_problem(&r, 404, "not_found");
}
