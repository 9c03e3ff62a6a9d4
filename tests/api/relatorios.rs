//! Reports (SPEC §7): queued PDF reports filtered by doctor and period, read back with lopdf:
//! accents as written, only the matching rows in time order, totals by status and doctor,
//! page numbers on a 10,000-row report, progress and `relatorio_pronto` on the event stream,
//! bad filters refused, listing order.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jiff::ToSpan;
use serde_json::{Value, json};

use crate::backups::{baixar, listar, reports_dir};
use crate::helpers::*;
use crate::sched_helpers::*;

/// How long an event may take to show up on the stream.
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// POST a report request on `rota` asserting 202 `processando`; returns the task id.
async fn pedir(srv: &TestServer, rota: &str, body: &Value) -> String {
    let r = srv.post(rota, body).await;
    r.expect_status(202);
    assert_eq!(r.body["status"], "processando", "{rota}: {}", r.text);
    str_field(&r.body, "task_id")
}

/// Waits for a report task to end `concluida`; returns its file name.
async fn arquivo_do(srv: &TestServer, task_id: &str, timeout: Duration) -> String {
    let t = wait_task(srv, task_id, timeout).await;
    assert_eq!(t["status"], "concluida", "report task: {t}");
    assert_eq!(t["tipo"], "gerar_relatorio", "{t}");
    assert_eq!(t["progresso"], 100, "{t}");
    let arquivo = str_field(&t["resultado"], "arquivo");
    assert!(
        crate::backups::nome_no_padrao(&arquivo, "relatorio", "pdf"),
        "report name {arquivo:?}"
    );
    arquivo
}

/// Downloads a report (asserting 200, application/pdf, the file on disk); returns the
/// text of each page as lopdf extracts it.
async fn paginas(srv: &TestServer, arquivo: &str) -> Vec<String> {
    let d = baixar(srv, &format!("/relatorios/download/{arquivo}")).await;
    assert_eq!(d.status, 200, "download {arquivo}");
    assert!(
        d.content_type.starts_with("application/pdf"),
        "content-type {:?}",
        d.content_type
    );
    assert!(d.bytes.starts_with(b"%PDF-"), "a PDF starts with %PDF-");
    assert_eq!(
        d.bytes,
        std::fs::read(reports_dir(srv).join(arquivo)).expect("read report"),
        "the download is the file in reports/"
    );
    let bytes = d.bytes;
    tokio::task::spawn_blocking(move || {
        let doc = lopdf::Document::load_mem(&bytes).expect("lopdf parses the report");
        let n = doc.get_pages().len() as u32;
        (1..=n)
            .map(|p| {
                doc.extract_text(&[p])
                    .unwrap_or_else(|e| panic!("text of page {p}: {e}"))
            })
            .collect()
    })
    .await
    .expect("PDF parsing thread")
}

/// The non-empty lines of a text, trimmed.
fn linhas(texto: &str) -> Vec<&str> {
    texto
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

fn e_data(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[2] == b'/'
        && b[5] == b'/'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit())
}

fn e_hora(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
}

/// The table rows of the report: (data, hora, médico, paciente, status), in order.
fn linhas_da_tabela(paginas: &[String]) -> Vec<[String; 5]> {
    let mut out = Vec::new();
    for p in paginas {
        let ls = linhas(p);
        let mut i = 0;
        while i + 4 < ls.len() {
            if e_data(ls[i]) && e_hora(ls[i + 1]) {
                out.push([
                    ls[i].to_string(),
                    ls[i + 1].to_string(),
                    ls[i + 2].to_string(),
                    ls[i + 3].to_string(),
                    ls[i + 4].to_string(),
                ]);
                i += 5;
            } else {
                i += 1;
            }
        }
    }
    out
}

/// The count printed after `rotulo` in the totals table headed `secao`.
fn total_secao(texto: &str, secao: &str, rotulo: &str) -> Option<u64> {
    let ls = linhas(texto);
    let inicio = ls.iter().position(|l| *l == secao)?;
    let i = ls[inicio..].iter().position(|l| *l == rotulo)? + inicio;
    ls.get(i + 1)?.parse().ok()
}

fn linha(d: &str, h: &str, m: &str, p: &str, s: &str) -> [String; 5] {
    [d, h, m, p, s].map(str::to_string)
}

/// Every `tarefa_atualizada` of `task_id` seen so far, as (status, progresso).
fn progresso_visto(sse: &SseStream, task_id: &str) -> Vec<(String, u64)> {
    sse.seen
        .iter()
        .filter(|e| e.tipo() == "tarefa_atualizada" && e.dados()["task_id"] == json!(task_id))
        .map(|e| {
            let d = e.dados();
            (
                d["status"].as_str().unwrap_or("").to_string(),
                d["progresso"].as_u64().expect("progresso is a number"),
            )
        })
        .collect()
}

/// Asserts the progress a task announced went from `pendente` 0 up to `concluida` 100
/// without ever going down, with at least `passos` steps in between.
#[track_caller]
fn assert_progresso_crescente(visto: &[(String, u64)], passos: usize) {
    assert!(
        visto
            .first()
            .is_some_and(|(s, p)| s == "pendente" && *p == 0),
        "first update should be pendente/0: {visto:?}"
    );
    assert!(
        visto
            .last()
            .is_some_and(|(s, p)| s == "concluida" && *p == 100),
        "last update should be concluida/100: {visto:?}"
    );
    assert!(
        visto.windows(2).all(|w| w[0].1 <= w[1].1),
        "progresso went down: {visto:?}"
    );
    let meio: BTreeSet<u64> = visto
        .iter()
        .filter(|(s, p)| s == "executando" && *p > 0 && *p < 100)
        .map(|(_, p)| *p)
        .collect();
    assert!(
        meio.len() >= passos,
        "expected at least {passos} intermediate progress values: {visto:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Content
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_filtered_report_holds_only_the_matching_rows_with_accents_as_written_and_true_totals() {
    let srv = TestServer::start();
    let conceicao = str_field(
        &criar_medico(&srv, "Dra. Conceição Araújo", 601, "Cardiologia").await,
        "id",
    );
    let antonio = str_field(
        &criar_medico(&srv, "Dr. Antônio Brandão", 602, "Pediatria").await,
        "id",
    );
    let mut p = Vec::new();
    for (nome, seed) in [
        ("João Gonçalves", 21),
        ("Luíza Pereira", 22),
        ("Ângela Sá Müller", 23),
        ("Paciente Fora do Período", 24),
        ("Paciente Só do Outro Médico", 25),
    ] {
        p.push(str_field(&criar_paciente(&srv, nome, seed).await, "id"));
    }
    // (paciente, médico, início, status)
    let specs: [(usize, &str, &str, &str); 10] = [
        (0, &conceicao, "2025-03-10T08:00", "agendada"),
        (1, &conceicao, "2025-03-10T09:00", "confirmada"),
        (2, &conceicao, "2025-03-11T10:00", "concluida"),
        (0, &conceicao, "2025-03-12T14:30", "faltou"),
        (1, &conceicao, "2025-03-14T16:00", "cancelada"),
        (2, &conceicao, "2025-03-14T17:00", "agendada"),
        (3, &conceicao, "2025-03-09T11:00", "agendada"),
        (3, &conceicao, "2025-03-15T08:00", "agendada"),
        (4, &antonio, "2025-03-12T08:00", "agendada"),
        (0, &antonio, "2025-03-13T09:00", "concluida"),
    ];
    for (pi, m, ini, status) in specs {
        let ini: jiff::civil::DateTime = ini.parse().expect("datetime");
        let fim = ini.checked_add(30.minutes()).expect("date in range");
        let c = criar_consulta(&srv, &p[pi], m, &ini.to_string(), &fim.to_string()).await;
        if status != "agendada" {
            srv.put(
                &format!("/consultas/{}", str_field(&c, "id")),
                &json!({ "status": status }),
            )
            .await
            .expect_status(200);
        }
    }

    // One doctor, one period.
    let mut sse = SseStream::open(&srv, "/sistema/agenda/stream", None).await;
    let task_id = pedir(
        &srv,
        "/relatorios/gerar",
        &json!({
            "medico_id": conceicao,
            "periodo_inicio": "2025-03-10",
            "periodo_fim": "2025-03-14"
        }),
    )
    .await;
    let arquivo = arquivo_do(&srv, &task_id, TASK_TIMEOUT).await;
    let ev = sse
        .wait_for("relatorio_pronto", EVENT_TIMEOUT, |e| {
            e.tipo() == "relatorio_pronto"
        })
        .await;
    assert_eq!(ev.dados(), json!({"arquivo": arquivo, "task_id": task_id}));
    assert_progresso_crescente(&progresso_visto(&sse, &task_id), 1);
    assert_eq!(
        listar(&srv, "/relatorios/").await,
        std::slice::from_ref(&arquivo)
    );
    assert_eq!(
        listar(&srv, "/relatorios").await,
        std::slice::from_ref(&arquivo)
    );

    let pags = paginas(&srv, &arquivo).await;
    assert_eq!(pags.len(), 1, "{pags:?}");
    let texto = &pags[0];
    for esperado in [
        "Relatório de consultas",
        "Médico: Dra. Conceição Araújo",
        "Período: 10/03/2025 a 14/03/2025",
        "Gerado em: ",
        "Página 1 de 1",
        "Total de consultas: 6",
    ] {
        assert!(
            texto.contains(esperado),
            "{esperado:?} missing from:\n{texto}"
        );
    }
    const C: &str = "Dra. Conceição Araújo";
    assert_eq!(
        linhas_da_tabela(&pags),
        [
            linha("10/03/2025", "08:00", C, "João Gonçalves", "Agendada"),
            linha("10/03/2025", "09:00", C, "Luíza Pereira", "Confirmada"),
            linha("11/03/2025", "10:00", C, "Ângela Sá Müller", "Concluída"),
            linha("12/03/2025", "14:30", C, "João Gonçalves", "Faltou"),
            linha("14/03/2025", "16:00", C, "Luíza Pereira", "Cancelada"),
            linha("14/03/2025", "17:00", C, "Ângela Sá Müller", "Agendada"),
        ],
        "rows of:\n{texto}"
    );
    for ausente in [
        "Paciente Fora do Período",
        "Paciente Só do Outro Médico",
        "Dr. Antônio Brandão",
        "09/03/2025",
        "13/03/2025",
        "15/03/2025",
    ] {
        assert!(
            !texto.contains(ausente),
            "{ausente:?} should not be in:\n{texto}"
        );
    }
    for (rotulo, n) in [
        ("Agendada", 2),
        ("Confirmada", 1),
        ("Concluída", 1),
        ("Faltou", 1),
        ("Cancelada", 1),
    ] {
        assert_eq!(
            total_secao(texto, "Por status", rotulo),
            Some(n),
            "total of {rotulo} in:\n{texto}"
        );
    }
    assert_eq!(total_secao(texto, "Por médico", C), Some(6), "{texto}");

    // The period only (through the alias): both doctors, totals by doctor.
    let task2 = pedir(
        &srv,
        "/sistema/tasks/relatorio",
        &json!({"periodo_inicio": "2025-03-10", "periodo_fim": "2025-03-14"}),
    )
    .await;
    let arquivo2 = arquivo_do(&srv, &task2, TASK_TIMEOUT).await;
    let texto2 = paginas(&srv, &arquivo2).await.join("\n");
    assert!(
        texto2.contains("Período: 10/03/2025 a 14/03/2025"),
        "{texto2}"
    );
    assert!(!texto2.contains("Médico: "), "no doctor filter: {texto2}");
    assert!(texto2.contains("Total de consultas: 8"), "{texto2}");
    let linhas2 = linhas_da_tabela(std::slice::from_ref(&texto2));
    assert_eq!(linhas2.len(), 8, "{linhas2:?}");
    assert!(
        linhas2.contains(&linha(
            "12/03/2025",
            "08:00",
            "Dr. Antônio Brandão",
            "Paciente Só do Outro Médico",
            "Agendada"
        )),
        "{linhas2:?}"
    );
    assert!(
        linhas2.windows(2).all(|w| {
            let k = |r: &[String; 5]| {
                (
                    r[0][6..].to_string(),
                    r[0][3..5].to_string(),
                    r[0][..2].to_string(),
                    r[1].clone(),
                )
            };
            k(&w[0]) <= k(&w[1])
        }),
        "rows in time order: {linhas2:?}"
    );
    assert_eq!(total_secao(&texto2, "Por médico", C), Some(6), "{texto2}");
    assert_eq!(
        total_secao(&texto2, "Por médico", "Dr. Antônio Brandão"),
        Some(2),
        "{texto2}"
    );
    assert_eq!(total_secao(&texto2, "Por status", "Concluída"), Some(2));

    // No filter at all: every appointment.
    let task3 = pedir(&srv, "/relatorios/gerar", &json!({})).await;
    let arquivo3 = arquivo_do(&srv, &task3, TASK_TIMEOUT).await;
    let texto3 = paginas(&srv, &arquivo3).await.join("\n");
    assert!(texto3.contains("Filtros: nenhum"), "{texto3}");
    assert!(texto3.contains("Total de consultas: 10"), "{texto3}");
    assert_eq!(total_secao(&texto3, "Por médico", C), Some(8), "{texto3}");

    assert_eq!(
        listar(&srv, "/relatorios/").await,
        [arquivo3, arquivo2, arquivo]
    );
}

#[tokio::test]
async fn report_requests_with_bad_filters_are_422_and_queue_nothing() {
    let srv = TestServer::start();
    let m = str_field(
        &criar_medico(&srv, "Dra. Filtro", 610, "Clínica").await,
        "id",
    );
    let casos: Vec<(Value, &[&str], &str)> = vec![
        (
            json!({"medico_id": unknown_id()}),
            &["medico_id"],
            "unknown doctor",
        ),
        (
            json!({"medico_id": m, "periodo_inicio": "2025-03-15", "periodo_fim": "2025-03-10"}),
            &["periodo_inicio", "periodo_fim"],
            "reversed period",
        ),
        (
            json!({"periodo_inicio": "2025-02-30"}),
            &["periodo_inicio"],
            "no such day",
        ),
        (
            json!({"periodo_fim": "31/12/2025"}),
            &["periodo_fim"],
            "Brazilian format",
        ),
        (
            json!({"periodo_inicio": "amanhã"}),
            &["periodo_inicio"],
            "a word",
        ),
        (
            json!({"periodo_inicio": "2025-1-5"}),
            &["periodo_inicio"],
            "unpadded",
        ),
    ];
    for rota in ["/relatorios/gerar", "/sistema/tasks/relatorio"] {
        for (body, campos_esperados, why) in &casos {
            let r = srv.post(rota, body).await;
            assert_validation(&r, campos_esperados, &format!("{rota} {why}"));
        }
        let r = srv.post(rota, &json!({"periodo_inicio": 20250101})).await;
        assert_eq!(r.status, 422, "a number as a date: {}", r.text);
    }
    let tarefas = srv.get("/sistema/tasks?tipo=gerar_relatorio").await;
    tarefas.expect_status(200);
    assert_eq!(tarefas.total_count(), 0, "nothing queued: {}", tarefas.text);

    // Empty values mean absent; a period with nothing in it is an empty report.
    let t = pedir(
        &srv,
        "/relatorios/gerar",
        &json!({"medico_id": "", "periodo_inicio": "2025-01-01", "periodo_fim": null}),
    )
    .await;
    let arquivo = arquivo_do(&srv, &t, TASK_TIMEOUT).await;
    let texto = paginas(&srv, &arquivo).await.join("\n");
    for esperado in [
        "Período: a partir de 01/01/2025",
        "Nenhuma consulta encontrada.",
        "Total de consultas: 0",
        "Página 1 de 1",
    ] {
        assert!(
            texto.contains(esperado),
            "{esperado:?} missing from:\n{texto}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_ten_thousand_appointment_report_has_every_row_and_a_page_number_on_every_page() {
    const N: usize = 10_000;
    const MEDICOS: usize = 8;
    const PACIENTES: usize = 40;
    let t0 = Instant::now();
    let srv = TestServer::start();
    let mut medicos = Vec::new();
    for i in 0..MEDICOS {
        let m = criar_medico(
            &srv,
            &format!("Dra. Médica {i} Conceição"),
            700 + i as u32,
            "Clínica",
        )
        .await;
        medicos.push(str_field(&m, "id"));
    }
    let pacientes = criar_pacientes(&srv, PACIENTES as u64, 3000).await;

    // One appointment every 30 minutes from 2024-01-01 00:00: nothing can overlap.
    let base = jiff::civil::date(2024, 1, 1).at(0, 0, 0, 0);
    let inicio = |i: usize| {
        base.checked_add((30 * i as i64).minutes())
            .expect("date in range")
    };
    let statuses: Vec<u16> = futures_util::stream::iter(0..N)
        .map(|i| {
            let ini = inicio(i);
            let fim = ini.checked_add(30.minutes()).expect("date in range");
            let body = consulta_body(
                &pacientes[i % PACIENTES],
                &medicos[i % MEDICOS],
                &ini.to_string(),
                &fim.to_string(),
            );
            let client = srv.client.clone();
            let url = srv.url("/consultas");
            async move {
                let r = client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .expect("POST /consultas");
                r.status().as_u16()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let ruins: Vec<&u16> = statuses.iter().filter(|s| **s != 201).collect();
    assert!(
        ruins.is_empty(),
        "{} creates failed: {:?}",
        ruins.len(),
        &ruins[..ruins.len().min(10)]
    );
    let total = srv.get("/consultas?limit=1").await;
    total.expect_status(200);
    assert_eq!(total.total_count(), N as u64);
    let preload = t0.elapsed();

    let mut sse = SseStream::open(&srv, "/sistema/agenda/stream", None).await;
    let t1 = Instant::now();
    let task_id = pedir(&srv, "/relatorios/gerar", &json!({})).await;
    let arquivo = arquivo_do(&srv, &task_id, Duration::from_secs(60)).await;
    let gerar = t1.elapsed();
    sse.wait_for("relatorio_pronto", EVENT_TIMEOUT, |e| {
        e.tipo() == "relatorio_pronto" && e.dados()["task_id"] == json!(task_id)
    })
    .await;
    assert_progresso_crescente(&progresso_visto(&sse, &task_id), 5);

    let t2 = Instant::now();
    let pags = paginas(&srv, &arquivo).await;
    let ler = t2.elapsed();
    let n = pags.len();
    assert!(n > 1, "a 10,000-row report spans pages");
    for (i, p) in pags.iter().enumerate() {
        let rodape = format!("Página {} de {n}", i + 1);
        assert!(p.contains(&rodape), "page {} lacks {rodape:?}", i + 1);
    }
    let linhas = linhas_da_tabela(&pags);
    assert_eq!(linhas.len(), N, "rows in the PDF");
    let esperado: Vec<(String, String)> = (0..N)
        .map(|i| {
            let d = inicio(i);
            (
                d.strftime("%d/%m/%Y").to_string(),
                d.strftime("%H:%M").to_string(),
            )
        })
        .collect();
    let vistos: Vec<(String, String)> = linhas
        .iter()
        .map(|l| (l[0].clone(), l[1].clone()))
        .collect();
    assert_eq!(vistos, esperado, "every row once, in time order");
    for (i, l) in linhas.iter().enumerate() {
        assert_eq!(
            l[2],
            format!("Dra. Médica {} Conceição", i % MEDICOS),
            "doctor of row {i}"
        );
        assert_eq!(
            l[3],
            format!("Paciente Fila {}", 3000 + i % PACIENTES),
            "patient of row {i}"
        );
        assert_eq!(l[4], "Agendada", "status of row {i}");
    }
    let tudo = pags.join("\n");
    assert!(tudo.contains(&format!("Total de consultas: {N}")));
    assert_eq!(total_secao(&tudo, "Por status", "Agendada"), Some(N as u64));
    for i in 0..MEDICOS {
        assert_eq!(
            total_secao(&tudo, "Por médico", &format!("Dra. Médica {i} Conceição")),
            Some((N / MEDICOS) as u64)
        );
    }
    eprintln!(
        "10k report: preload {preload:?}, generate {gerar:?}, parse {ler:?}, {n} pages, total {:?}",
        t0.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Listing order
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_report_listing_is_newest_first_and_shows_only_report_names() {
    let srv = TestServer::start();
    let mut feitos = Vec::new();
    for _ in 0..3 {
        let t = pedir(&srv, "/relatorios/gerar", &json!({})).await;
        feitos.push(arquivo_do(&srv, &t, TASK_TIMEOUT).await);
    }
    let dir = reports_dir(&srv);
    for nome in [
        "relatorio_20200101_000000.pdf",
        "relatorio_20200101_000000_2.pdf",
        "relatorio_20200101_000000_10.pdf",
        "relatorio_29991231_235959.pdf",
        "nota.txt",
        ".relatorio-x.tmp",
        "backup_20260101_000000.zip",
    ] {
        std::fs::write(dir.join(nome), b"x").expect("plant");
    }
    let mut esperado = vec!["relatorio_29991231_235959.pdf".to_string()];
    esperado.extend(feitos.iter().rev().cloned());
    esperado.extend([
        "relatorio_20200101_000000_10.pdf".to_string(),
        "relatorio_20200101_000000_2.pdf".to_string(),
        "relatorio_20200101_000000.pdf".to_string(),
    ]);
    assert_eq!(listar(&srv, "/relatorios/").await, esperado);
}

// ---------------------------------------------------------------------------------------------
// Issue 9 and 12: the dashboard's request, the clinic's name, retention, exactly once
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_dashboards_date_times_and_a_request_without_body_are_accepted() {
    let srv = TestServer::start();
    for rota in ["/relatorios/gerar", "/sistema/tasks/relatorio"] {
        // What the dashboard sends.
        let t = pedir(
            &srv,
            rota,
            &json!({"periodo_inicio": "2026-01-01T00:00:00", "periodo_fim": "2026-12-31T23:59:59"}),
        )
        .await;
        let arquivo = arquivo_do(&srv, &t, TASK_TIMEOUT).await;
        let texto = paginas(&srv, &arquivo).await.join("\n");
        assert!(
            texto.contains("Período: 01/01/2026 a 31/12/2026"),
            "{rota}: the dates of the date-times count:\n{texto}"
        );
        // No body at all: every field is optional.
        let r = read(
            srv.client
                .post(srv.url(rota))
                .send()
                .await
                .expect("POST without a body"),
        )
        .await;
        r.expect_status(202);
        let arquivo = arquivo_do(&srv, &str_field(&r.body, "task_id"), TASK_TIMEOUT).await;
        let texto = paginas(&srv, &arquivo).await.join("\n");
        assert!(texto.contains("Filtros: nenhum"), "{rota}:\n{texto}");
    }
    // A body that is not JSON is still 415.
    let r = read(
        srv.client
            .post(srv.url("/relatorios/gerar"))
            .header("content-type", "text/plain")
            .body("periodo_inicio=2026-01-01")
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_problem(&r, 415, "unsupported_media_type");
}

#[tokio::test]
async fn the_report_title_carries_the_clinics_name() {
    let srv = TestServer::start_with(&["--clinica-nome", "Clínica São Lucas"]);
    let t = pedir(&srv, "/relatorios/gerar", &json!({})).await;
    let arquivo = arquivo_do(&srv, &t, TASK_TIMEOUT).await;
    let texto = paginas(&srv, &arquivo).await.join("\n");
    assert!(
        texto.contains("Relatório de consultas — Clínica São Lucas"),
        "{texto}"
    );
}

/// Two doctors of one name are told apart by their CRM, in the rows and in the totals by
/// doctor (names are not unique; the CRM is). A download is an export of patients' names:
/// audited as `exportar`.
#[tokio::test]
async fn doctors_of_one_name_are_told_apart_by_crm_and_a_download_is_audited() {
    let srv = TestServer::start();
    let a = criar_medico(&srv, "Dr. José Silva", 611, "Cardiologia").await;
    let b = criar_medico(&srv, "Dr. José Silva", 612, "Pediatria").await;
    let p = str_field(&criar_paciente(&srv, "Maria Homônimos", 31).await, "id");
    for (m, ini) in [
        (&a, "2025-03-10T08:00:00"),
        (&b, "2025-03-10T09:00:00"),
        (&b, "2025-03-11T09:00:00"),
    ] {
        let ini: jiff::civil::DateTime = ini.parse().expect("datetime");
        let fim = ini.checked_add(30.minutes()).expect("date in range");
        criar_consulta(
            &srv,
            &p,
            &str_field(m, "id"),
            &ini.to_string(),
            &fim.to_string(),
        )
        .await;
    }
    let t = pedir(&srv, "/relatorios/gerar", &json!({})).await;
    let arquivo = arquivo_do(&srv, &t, TASK_TIMEOUT).await;
    let texto = paginas(&srv, &arquivo).await.join("\n");
    for m in [&a, &b] {
        let rotulo = format!("Dr. José Silva (CRM {})", str_field(m, "crm"));
        assert!(texto.contains(&rotulo), "{rotulo} in {texto}");
    }
    assert!(
        !texto.lines().any(|l| l.trim() == "Dr. José Silva"),
        "{texto}"
    );
    let trilha = srv
        .get(&format!(
            "/sistema/auditoria?acao=exportar&recurso=relatorios&recurso_id={arquivo}"
        ))
        .await;
    trilha.expect_status(200);
    assert_eq!(
        trilha.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        trilha.text
    );
}

#[tokio::test]
async fn only_the_newest_reports_are_kept() {
    let srv = TestServer::start_with(&["--relatorios-manter", "2"]);
    let dir = reports_dir(&srv);
    std::fs::write(dir.join("relatorio_20200101_000000.pdf"), b"old").expect("plant");
    let mut feitos = Vec::new();
    for _ in 0..3 {
        let t = pedir(&srv, "/relatorios/gerar", &json!({})).await;
        feitos.push(arquivo_do(&srv, &t, TASK_TIMEOUT).await);
    }
    let esperado: Vec<String> = feitos.iter().rev().take(2).cloned().collect();
    assert_eq!(listar(&srv, "/relatorios/").await, esperado);
}

#[tokio::test]
async fn a_report_task_rerun_after_a_crash_adopts_its_pdf_instead_of_writing_a_second() {
    let mut srv = TestServer::start();
    let t = pedir(&srv, "/relatorios/gerar", &json!({})).await;
    let primeiro = arquivo_do(&srv, &t, TASK_TIMEOUT).await;
    let pdf = std::fs::read(reports_dir(&srv).join(&primeiro)).expect("read report");

    // A report task accepted, then a crash after its PDF was published but before the task
    // was marked done.
    srv.kill9();
    srv.restart_with(&["--worker-paused"]);
    let r = srv.post("/relatorios/gerar", &json!({})).await;
    r.expect_status(202);
    let task_id = str_field(&r.body, "task_id");
    let t = srv.get(&format!("/sistema/tasks/{task_id}")).await;
    let criado_em = str_field(&t.body, "criado_em");
    srv.kill9();
    let stamp: String = criado_em[..19]
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let base = format!("relatorio_{}_{}", &stamp[..8], &stamp[8..14]);
    let dir = reports_dir(&srv);
    let plantado = (1..100)
        .map(|n| {
            if n == 1 {
                format!("{base}.pdf")
            } else {
                format!("{base}_{n}.pdf")
            }
        })
        .find(|n| !dir.join(n).exists())
        .expect("a free name");
    // The PDF that task wrote carries its id in its metadata.
    let mut escrito = pdf.clone();
    escrito.extend(format!("\n% {task_id}\n").as_bytes());
    std::fs::write(dir.join(&plantado), escrito).expect("plant the crashed task's PDF");

    srv.restart_with(&[]);
    let t = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(t["status"], "concluida", "{t}");
    assert_eq!(
        t["resultado"]["arquivo"],
        json!(plantado),
        "the re-run finds the PDF it had written: {t}"
    );
    let mut lista = listar(&srv, "/relatorios/").await;
    lista.sort();
    let mut esperado = vec![primeiro, plantado];
    esperado.sort();
    assert_eq!(lista, esperado, "no second PDF for the same task");
}
