//! The audit trail under a crash (SPEC-2 §10): an entry is journaled in the same write as
//! the change it records, so after SIGKILL every acknowledged change has its entry and no
//! entry lacks its change.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_concurrent_writes_keeps_each_change_with_its_audit_entry() {
    let mut srv = TestServer::start();
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
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
                let body = paciente_body(&format!("Auditada {t}-{i}"), 3000 + t * 10_000 + i);
                let sent = client
                    .post(&url)
                    .json(&body)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status().as_u16() == 201 => {
                        if let Ok(v) = resp.json::<Value>().await
                            && let Some(id) = v["id"].as_str()
                        {
                            acked.lock().await.push(id.to_owned());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        errors += 1;
                        if errors > 3 {
                            break;
                        }
                    }
                }
            }
        }));
    }
    // Kill once some writes are acknowledged (polling, not a fixed sleep).
    let started = Instant::now();
    while acked.lock().await.len() < 20 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    srv.kill9();
    for t in tasks {
        t.await.expect("writer task");
    }
    let acked = acked.lock().await.clone();
    assert!(acked.len() >= 20, "writes acknowledged before the kill");
    eprintln!("{} writes acknowledged before kill -9", acked.len());
    srv.restart();
    let pacientes: HashSet<String> = srv
        .get("/pacientes")
        .await
        .array()
        .iter()
        .map(|p| str_field(p, "id"))
        .collect();
    let trilha = srv
        .get("/sistema/auditoria?recurso=pacientes&acao=criar")
        .await;
    trilha.expect_status(200);
    let registrados: Vec<String> = trilha
        .array()
        .iter()
        .map(|e| str_field(e, "recurso_id"))
        .collect();
    let unicos: HashSet<&String> = registrados.iter().collect();
    assert_eq!(unicos.len(), registrados.len(), "one entry per change");
    for id in &acked {
        assert!(pacientes.contains(id), "acknowledged patient {id} lost");
        assert!(
            unicos.contains(id),
            "acknowledged patient {id} has no entry"
        );
    }
    for id in &registrados {
        assert!(pacientes.contains(id), "entry for {id} without its change");
    }
    assert_eq!(
        pacientes.len(),
        registrados.len(),
        "every stored patient has its entry"
    );
}
