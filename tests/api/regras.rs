//! SPEC-2 §11 with the real binary: the clinic's rules and the appointments' histories are
//! journaled (they survive a restart) and travel in backups; an archive written before they
//! existed still restores (rules back to their defaults, histories starting at `criada`).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::backups::{abrir_zip, conteudo_backup, fazer_backup, montar_zip, post_vazio};
use crate::helpers::*;
use crate::sched_helpers::{at, medico_com_horarios, monday};

/// A cancelled appointment with its history, and rules that differ from the defaults.
async fn preparar(srv: &TestServer) -> String {
    srv.put(
        "/sistema/regras",
        &json!({"horizonte_dias": 200, "lembretes_horas": [48]}),
    )
    .await
    .expect_status(200);
    let pid = str_field(&criar_paciente(srv, "Paciente Regras", 71).await, "id");
    let mid = medico_com_horarios(srv, 71, &[("segunda", "08:00", "12:00")]).await;
    let seg = monday(1);
    let c = criar_consulta(srv, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;
    let id = str_field(&c, "id");
    srv.post(
        &format!("/consultas/{id}/cancelar"),
        &json!({"motivo": "viagem"}),
    )
    .await
    .expect_status(200);
    id
}

async fn acoes(srv: &TestServer, id: &str) -> Vec<String> {
    let r = srv.get(&format!("/consultas/{id}/historico")).await;
    r.expect_status(200);
    r.array().iter().map(|e| str_field(e, "acao")).collect()
}

#[tokio::test]
async fn rules_and_histories_survive_a_restart_and_come_back_with_a_restore() {
    let mut srv = TestServer::start();
    let id = preparar(&srv).await;
    let regras = srv.get("/sistema/regras").await.body;
    assert_eq!(regras["horizonte_dias"], 200);

    srv.kill9();
    srv.restart();
    assert_eq!(srv.get("/sistema/regras").await.body, regras);
    assert_eq!(acoes(&srv, &id).await, ["criada", "cancelada"]);
    let c = srv.get(&format!("/consultas/{id}")).await;
    assert_eq!(c.body["motivo_cancelamento"], "viagem");

    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    srv.put(
        "/sistema/regras",
        &json!({"horizonte_dias": null, "oferta_minutos": 5}),
    )
    .await
    .expect_status(200);
    post_vazio(&srv, &format!("/backup/restaurar/{nome}"))
        .await
        .expect_status(200);
    assert_eq!(
        srv.get("/sistema/regras").await.body,
        regras,
        "the backup's rules"
    );
    assert_eq!(acoes(&srv, &id).await, ["criada", "cancelada"]);
}

#[tokio::test]
async fn an_archive_from_before_rules_and_histories_restores_with_the_defaults() {
    let srv = TestServer::start();
    let id = preparar(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, mut manifest) = conteudo_backup(&srv, &nome).await;
    // The archive as a server before SPEC-2 §11 wrote it.
    let antigos = ["historico.json", "regras.json"];
    manifest["arquivos"]
        .as_array_mut()
        .expect("arquivos")
        .retain(|a| !antigos.contains(&a["nome"].as_str().unwrap_or("")));
    let manifesto = serde_json::to_vec_pretty(&manifest).expect("manifest");
    let mut membros: Vec<(&str, &[u8])> = entries
        .iter()
        .filter(|(n, _)| !antigos.contains(&n.as_str()) && n.as_str() != "manifest.json")
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    membros.push(("manifest.json", &manifesto));
    let zip = montar_zip(&membros);
    assert_eq!(abrir_zip(&zip).len(), entries.len() - 2);
    let r = enviar_zip(&srv, zip.clone()).await;
    r.expect_status(201);
    let velho = str_field(&r.body, "arquivo");
    assert_eq!(
        hex::encode(Sha256::digest(&zip)),
        hex::encode(Sha256::digest(
            std::fs::read(crate::backups::backup_dir(&srv).join(&velho)).expect("stored")
        ))
    );

    post_vazio(&srv, &format!("/backup/restaurar/{velho}"))
        .await
        .expect_status(200);

    let regras: Value = srv.get("/sistema/regras").await.body;
    assert_eq!(regras["horizonte_dias"], Value::Null, "defaults: {regras}");
    assert_eq!(regras["lembretes_horas"], json!([24, 2]));
    let c = srv.get(&format!("/consultas/{id}")).await;
    assert_eq!(c.body["status"], "cancelada");
    let h = srv.get(&format!("/consultas/{id}/historico")).await;
    assert_eq!(h.array().len(), 1, "{}", h.text);
    assert_eq!(h.array()[0]["acao"], "criada");
    assert_eq!(h.array()[0]["em"], c.body["created_at"]);
}

/// `entries` rebuilt with `nome` replaced by `novo`, the manifest's size and checksum updated.
fn trocar_membro(
    entries: &std::collections::BTreeMap<String, Vec<u8>>,
    manifest: &Value,
    nome: &str,
    novo: Vec<u8>,
) -> Vec<u8> {
    let mut m = manifest.clone();
    for a in m["arquivos"].as_array_mut().expect("arquivos") {
        if a["nome"] == json!(nome) {
            a["bytes"] = json!(novo.len());
            a["sha256"] = json!(hex::encode(Sha256::digest(&novo)));
        }
    }
    let manifesto = serde_json::to_vec_pretty(&m).expect("manifest");
    let membros: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, b)| match n.as_str() {
            "manifest.json" => (n.as_str(), manifesto.as_slice()),
            x if x == nome => (n.as_str(), novo.as_slice()),
            _ => (n.as_str(), b.as_slice()),
        })
        .collect();
    montar_zip(&membros)
}

async fn enviar_zip(srv: &TestServer, zip: Vec<u8>) -> Resp {
    read(
        srv.client
            .post(srv.url("/backup/enviar"))
            .header("content-type", "application/zip")
            .body(zip)
            .send()
            .await
            .expect("POST /backup/enviar"),
    )
    .await
}

#[tokio::test]
async fn an_archive_with_rules_out_of_bounds_or_an_orphan_history_is_refused() {
    let srv = TestServer::start();
    let id = preparar(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, manifest) = conteudo_backup(&srv, &nome).await;

    let mut regras: Value = serde_json::from_slice(&entries["regras.json"]).expect("regras.json");
    regras["registros"][0]["oferta_minutos"] = json!(0);
    let zip = trocar_membro(
        &entries,
        &manifest,
        "regras.json",
        serde_json::to_vec(&regras).expect("json"),
    );
    let r = enviar_zip(&srv, zip).await;
    assert_problem(&r, 422, "backup_invalido");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("oferta_minutos"),
        "{}",
        r.text
    );

    let mut hist: Value =
        serde_json::from_slice(&entries["historico.json"]).expect("historico.json");
    hist["registros"][0]["consulta_id"] = json!("0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b");
    let zip = trocar_membro(
        &entries,
        &manifest,
        "historico.json",
        serde_json::to_vec(&hist).expect("json"),
    );
    let r = enviar_zip(&srv, zip).await;
    assert_problem(&r, 422, "backup_invalido");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("consulta_id"),
        "{}",
        r.text
    );
    assert_eq!(
        acoes(&srv, &id).await,
        ["criada", "cancelada"],
        "nothing changed"
    );
}
