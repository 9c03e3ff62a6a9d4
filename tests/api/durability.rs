//! Durability with real processes (SPEC §1 "Durability", §9): graceful restart, kill -9 under
//! concurrent writes, the data-folder lock, corrupt snapshots, torn journal lines.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::helpers::*;

/// Every collection as the API returns it.
async fn dump(srv: &TestServer) -> Value {
    let mut out = serde_json::Map::new();
    for col in ["pacientes", "medicos", "horarios", "consultas"] {
        let r = srv.get(&format!("/{col}")).await;
        r.expect_status(200);
        out.insert(col.to_string(), r.body);
    }
    Value::Object(out)
}

/// Creates a mix of records with updates and deletes; returns nothing (read back with `dump`).
async fn write_a_mix(srv: &TestServer) {
    let ana = criar_paciente(srv, "Ana Çarvalho", 1).await;
    let bia = criar_paciente(srv, "Bia Lúcia", 2).await;
    let caio = criar_paciente(srv, "Caio", 3).await;
    let m1 = criar_medico(srv, "Dr. Um", 1, "Cardiologia").await;
    let m2 = criar_medico(srv, "Dra. Duas", 2, "Pediatria").await;
    let (ana, bia, caio) = (
        str_field(&ana, "id"),
        str_field(&bia, "id"),
        str_field(&caio, "id"),
    );
    let (m1, m2) = (str_field(&m1, "id"), str_field(&m2, "id"));
    criar_horario(srv, &m1, "segunda", "08:00", "12:00").await;
    let h = criar_horario(srv, &m1, "quarta", "13:00", "17:00").await;
    criar_horario(srv, &m2, "Terça", "09:00", "11:00").await;
    let c1 = criar_consulta(srv, &ana, &m1, "2030-01-07T08:00:00", "2030-01-07T08:30:00").await;
    let c2 = criar_consulta(srv, &bia, &m1, "2030-01-07T08:30:00", "2030-01-07T09:00:00").await;
    let c3 = criar_consulta(
        srv,
        &caio,
        &m2,
        "2030-01-08T09:00:00",
        "2030-01-08T09:30:00",
    )
    .await;
    srv.put(
        &format!("/pacientes/{bia}"),
        &json!({"convenio": "SulAmérica", "email": "bia@exemplo.com"}),
    )
    .await
    .expect_status(200);
    srv.put(
        &format!("/medicos/{m2}"),
        &json!({"especialidade": "Neonatologia"}),
    )
    .await
    .expect_status(200);
    srv.put(
        &format!("/horarios/{}", str_field(&h, "id")),
        &horario_body("quinta", "13:00", "18:00"),
    )
    .await
    .expect_status(200);
    srv.put(
        &format!("/consultas/{}", str_field(&c1, "id")),
        &json!({"status": "confirmada", "observacoes": "Jejum de 8h"}),
    )
    .await
    .expect_status(200);
    srv.put(
        &format!("/consultas/{}", str_field(&c2, "id")),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);
    srv.delete(&format!("/consultas/{}", str_field(&c3, "id")))
        .await
        .expect_status(204);
    srv.delete(&format!("/pacientes/{caio}"))
        .await
        .expect_status(204);
    // A doctor deleted with their horários: neither may come back after a restart.
    let m3 = criar_medico(srv, "Dr. Temporário", 3, "Urologia").await;
    let m3 = str_field(&m3, "id");
    criar_horario(srv, &m3, "sexta", "08:00", "10:00").await;
    srv.delete(&format!("/medicos/{m3}"))
        .await
        .expect_status(204);
}

/// Every `banco/*.json` file parses as JSON.
fn assert_json_files_parse(data_dir: &Path) {
    let entries = std::fs::read_dir(data_dir).expect("read banco/");
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let bytes = std::fs::read(&path).expect("read data file");
            assert!(
                serde_json::from_slice::<Value>(&bytes).is_ok(),
                "{} does not parse as JSON ({} bytes)",
                path.display(),
                bytes.len()
            );
        }
    }
}

#[tokio::test]
async fn graceful_restart_reads_back_every_record_identically() {
    let mut srv = TestServer::start();
    write_a_mix(&srv).await;
    let before = dump(&srv).await;

    let status = srv.stop();
    srv.restart();
    let after = dump(&srv).await;

    assert!(
        status.success(),
        "SIGTERM exits 0: {status:?}\n{}",
        srv.stderr()
    );
    assert_eq!(after, before);
    assert_eq!(before["pacientes"].as_array().map(Vec::len), Some(2));
    assert_eq!(before["horarios"].as_array().map(Vec::len), Some(3));
    assert_eq!(before["medicos"].as_array().map(Vec::len), Some(2));
    assert_eq!(before["consultas"].as_array().map(Vec::len), Some(2));
    assert_json_files_parse(&srv.data_dir());
}

#[tokio::test]
async fn kill_9_then_restart_reads_back_every_acknowledged_write() {
    let mut srv = TestServer::start();
    write_a_mix(&srv).await;
    let before = dump(&srv).await;

    srv.kill9();
    assert_json_files_parse(&srv.data_dir());
    srv.restart();
    let after = dump(&srv).await;

    assert_eq!(after, before);
}

#[tokio::test]
async fn restart_twice_keeps_records_and_accepts_new_writes() {
    let mut srv = TestServer::start();
    write_a_mix(&srv).await;
    srv.stop();
    srv.restart();
    criar_paciente(&srv, "Depois do Restart", 50).await;
    let before = dump(&srv).await;

    srv.kill9();
    srv.restart();

    assert_eq!(dump(&srv).await, before);
    // Uniqueness still holds against records loaded from disk.
    let dup = srv
        .post("/pacientes", &paciente_body("Duplicado", 50))
        .await;
    assert_problem(&dup, 409, "duplicate_cpf");
    // Overlap rules still hold against consultas loaded from disk (Ana at 08:00 with Dr. Um).
    let consultas = srv.get("/consultas").await;
    let first = consultas
        .array()
        .iter()
        .find(|c| c["inicio"] == "2030-01-07T08:00:00")
        .expect("Ana's consulta")
        .clone();
    let outro = criar_paciente(&srv, "Outro", 51).await;
    let clash = srv
        .post(
            "/consultas",
            &consulta_body(
                &str_field(&outro, "id"),
                &str_field(&first, "medico_id"),
                "2030-01-07T08:00:00",
                "2030-01-07T08:30:00",
            ),
        )
        .await;
    assert_problem(&clash, 409, "doctor_overlap");
    // CRM uniqueness too.
    let crm = srv
        .post("/medicos", &medico_body("Dr. Repetido", 1, "Cardiologia"))
        .await;
    assert_problem(&crm, 409, "duplicate_crm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_concurrent_writes_loses_no_acknowledged_write() {
    let mut srv = TestServer::start();
    let acked: Arc<Mutex<Vec<Value>>> = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_millis(1500);

    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let client = srv.client.clone();
        let url = srv.url("/pacientes");
        let acked = Arc::clone(&acked);
        tasks.push(tokio::spawn(async move {
            let mut errors = 0;
            for i in 0..2000u64 {
                if Instant::now() >= deadline {
                    break;
                }
                let body = paciente_body(&format!("Carga {t}-{i}"), 1000 + t * 10_000 + i);
                match client
                    .post(&url)
                    .json(&body)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                {
                    Ok(resp) => {
                        let r = read_lossy(resp).await;
                        if let Some(r) = r
                            && (200..300).contains(&r.status)
                        {
                            acked.lock().await.push(r.body);
                        }
                    }
                    Err(_) => {
                        // The server is gone; a couple more attempts show nothing else answers.
                        errors += 1;
                        if errors > 3 {
                            break;
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    srv.kill9();
    for t in tasks {
        t.await.expect("writer task");
    }
    let acked = acked.lock().await.clone();
    assert!(
        !acked.is_empty(),
        "some writes were acknowledged before the kill"
    );
    eprintln!("{} writes acknowledged before kill -9", acked.len());

    assert_json_files_parse(&srv.data_dir());
    srv.restart();
    let stored = srv.get("/pacientes").await;

    stored.expect_status(200);
    let by_id: std::collections::HashMap<String, &Value> = stored
        .array()
        .iter()
        .map(|p| (str_field(p, "id"), p))
        .collect();
    let mut missing = Vec::new();
    for a in &acked {
        match by_id.get(&str_field(a, "id")) {
            Some(p) => assert_eq!(*p, a, "acknowledged record reads back identical"),
            None => missing.push(str_field(a, "id")),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes lost: {missing:?}",
        missing.len(),
        acked.len()
    );
    assert_json_files_parse(&srv.data_dir());
}

/// Reads a response, returning `None` if the connection died mid-body.
async fn read_lossy(resp: reqwest::Response) -> Option<Resp> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.ok()?;
    Some(Resp {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text: String::from_utf8_lossy(&bytes).to_string(),
    })
}

#[tokio::test]
async fn second_process_on_the_same_data_dir_exits_quickly_with_a_message() {
    let srv = TestServer::start();
    criar_paciente(&srv, "Ana", 1).await;

    let second = srv.start_expecting_failure(Duration::from_secs(10));

    assert!(
        second.status.is_some_and(|s| !s.success()),
        "second process should exit non-zero: {second:?}"
    );
    assert!(
        second.elapsed < Duration::from_secs(5),
        "exits at once, took {:?}",
        second.elapsed
    );
    assert!(
        second.stderr.contains("já está em uso"),
        "message: {}",
        second.stderr
    );
    assert!(
        !second.stderr.contains("panicked"),
        "no panic: {}",
        second.stderr
    );
    // The first server is unharmed.
    assert_eq!(srv.count("/pacientes").await, 1);
    criar_paciente(&srv, "Bia", 2).await;
}

/// Overwrites `len` bytes in the middle of a file with bytes that are never valid JSON.
fn corrupt_middle(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).expect("read file to corrupt");
    assert!(
        bytes.len() > 40,
        "{} too small to corrupt: {}",
        path.display(),
        bytes.len()
    );
    let mid = bytes.len() / 2;
    bytes[mid..mid + 6].copy_from_slice(b"#\x00@\x01!#");
    std::fs::write(path, &bytes).expect("write corrupted file");
    bytes
}

#[tokio::test]
async fn corrupted_snapshot_stops_start_up_naming_the_file_and_leaves_it_untouched() {
    let mut srv = TestServer::start();
    for i in 0..5 {
        criar_paciente(&srv, &format!("Paciente {i}"), 10 + i).await;
    }
    srv.stop();
    let file = srv.data_dir().join("pacientes.json");
    let corrupted = corrupt_middle(&file);

    let out = srv.start_expecting_failure(Duration::from_secs(15));

    assert!(
        out.status.is_some_and(|s| !s.success()),
        "start-up should fail: {out:?}"
    );
    assert!(
        out.stderr.contains("pacientes.json"),
        "names the file: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("linha") || out.stderr.contains("line"),
        "gives the position: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "no panic: {}", out.stderr);
    assert_eq!(
        std::fs::read(&file).expect("read back"),
        corrupted,
        "the file is left untouched"
    );
}

#[tokio::test]
async fn torn_final_journal_line_is_dropped_and_earlier_data_survives() {
    let mut srv = TestServer::start();
    criar_paciente(&srv, "Antes", 1).await;
    let m = criar_medico(&srv, "Dr. Antes", 1, "Cardiologia").await;
    criar_horario(&srv, &str_field(&m, "id"), "segunda", "08:00", "12:00").await;
    let before = dump(&srv).await;
    srv.kill9();
    let journal = srv.data_dir().join("journal.jsonl");
    assert!(journal.exists(), "banco/journal.jsonl exists after kill -9");
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .expect("open journal");
        f.write_all(
            b"{\"seq\": 999999, \"tipo\": \"paciente_criado\", \"dados\": {\"nome\": \"Meio",
        )
        .expect("append torn line");
    }

    srv.restart();

    assert_eq!(
        dump(&srv).await,
        before,
        "earlier data survives, the torn write is absent"
    );
    // New writes after the dropped line must not be glued to it: they survive another crash.
    let depois = criar_paciente(&srv, "Depois", 2).await;
    let after_write = dump(&srv).await;
    srv.kill9();
    srv.restart();
    assert_eq!(dump(&srv).await, after_write);
    srv.get(&format!("/pacientes/{}", str_field(&depois, "id")))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn corrupt_journal_line_that_is_not_the_last_stops_start_up() {
    let mut srv = TestServer::start();
    for i in 0..4 {
        criar_paciente(&srv, &format!("P{i}"), 20 + i).await;
    }
    srv.kill9();
    let journal = srv.data_dir().join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).expect("read journal");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 2,
        "journal holds the writes: {} lines",
        lines.len()
    );
    // Break the first line (keep its length and the newline).
    let mut broken = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            broken.push_str(&"#".repeat(line.len()));
        } else {
            broken.push_str(line);
        }
        broken.push('\n');
    }
    std::fs::write(&journal, &broken).expect("write broken journal");

    let out = srv.start_expecting_failure(Duration::from_secs(15));

    assert!(
        out.status.is_some_and(|s| !s.success()),
        "start-up should fail: {out:?}"
    );
    assert!(
        out.stderr.contains("journal.jsonl"),
        "names the file: {}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&journal).expect("read back"),
        broken,
        "journal untouched"
    );
}

/// After an upgrade and a rollback, the older binary meets an entry it does not know as the
/// journal's last line. That line is whole (newline and all): it is not a torn write, and
/// cutting it away would lose a write silently. Start-up stops and says why.
#[tokio::test]
async fn a_whole_last_journal_line_this_version_does_not_know_stops_start_up() {
    let mut srv = TestServer::start();
    criar_paciente(&srv, "Antes", 31).await;
    srv.kill9();
    let journal = srv.data_dir().join("journal.jsonl");
    let mut text = std::fs::read_to_string(&journal).expect("read journal");
    text.push_str("{\"seq\":999999,\"ops\":[{\"op\":\"put_coisa_do_futuro\",\"dados\":{}}]}\n");
    std::fs::write(&journal, &text).expect("write journal");

    let out = srv.start_expecting_failure(Duration::from_secs(15));

    assert!(
        out.status.is_some_and(|s| !s.success()),
        "start-up should fail: {out:?}"
    );
    assert!(
        out.stderr.contains("versão mais nova") && out.stderr.contains("journal.jsonl"),
        "says why and names the file: {}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&journal).expect("read back"),
        text,
        "journal untouched"
    );
}

#[tokio::test]
async fn idempotency_key_still_replays_after_a_restart() {
    let mut srv = TestServer::start();
    let body = paciente_body("Idem", 1);
    let send = |srv: &TestServer| {
        srv.client
            .post(srv.url("/pacientes"))
            .header("idempotency-key", "reinicio-1")
            .json(&body)
            .send()
    };
    let first = read(send(&srv).await.expect("POST")).await;
    first.expect_status(201);

    srv.kill9();
    srv.restart();
    let replay = read(send(&srv).await.expect("POST")).await;

    replay.expect_status(201);
    assert_eq!(replay.body, first.body);
    assert_eq!(srv.count("/pacientes").await, 1);
}
