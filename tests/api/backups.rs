//! Backups (SPEC §6): a backup through the queue, the ZIP and its manifest, restore round
//! trips with the safety backup, bad archives refused without change, download and restore
//! names that try to leave the folder, automatic backups and their retention, listing order.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zip::ZipArchive;

use crate::helpers::*;
use crate::sched_helpers::*;

/// The collections a backup holds, in the order of their files.
/// The collections a backup holds (their route is the name with `-` for `_`).
pub const COLECOES: [&str; 7] = [
    "pacientes",
    "medicos",
    "horarios",
    "consultas",
    "bloqueios",
    "lista_espera",
    "convenios",
];

/// How long an event may take to show up on the stream.
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Helpers (also used by the report tests)
// ---------------------------------------------------------------------------------------------

/// The folder every file of the test server lives in.
pub fn root_dir(srv: &TestServer) -> PathBuf {
    srv.data_dir()
        .parent()
        .expect("data dir has a parent")
        .to_path_buf()
}

/// `backups/` of the test server.
pub fn backup_dir(srv: &TestServer) -> PathBuf {
    root_dir(srv).join("backups")
}

/// `reports/` of the test server.
pub fn reports_dir(srv: &TestServer) -> PathBuf {
    root_dir(srv).join("reports")
}

/// A response read as bytes.
#[derive(Debug)]
pub struct Download {
    pub status: u16,
    pub content_type: String,
    pub content_disposition: String,
    pub bytes: Vec<u8>,
}

/// GET `path` keeping the body as bytes.
pub async fn baixar(srv: &TestServer, path: &str) -> Download {
    let resp = srv.client.get(srv.url(path)).send().await.expect("GET");
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let content_type = header("content-type");
    let content_disposition = header("content-disposition");
    let bytes = resp.bytes().await.expect("read body").to_vec();
    Download {
        status,
        content_type,
        content_disposition,
        bytes,
    }
}

/// POST with no body.
pub async fn post_vazio(srv: &TestServer, path: &str) -> Resp {
    read(
        srv.client
            .post(srv.url(path))
            .send()
            .await
            .expect("POST without a body"),
    )
    .await
}

/// GET a listing route (`/backup/` or `/relatorios/`) asserting its shape; returns the names.
pub async fn listar(srv: &TestServer, path: &str) -> Vec<String> {
    let r = srv.get(path).await;
    r.expect_status(200);
    let obj = r
        .body
        .as_object()
        .unwrap_or_else(|| panic!("{path} should answer an object: {}", r.text));
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        ["arquivos"],
        "{path}: {}",
        r.text
    );
    r.body["arquivos"]
        .as_array()
        .unwrap_or_else(|| panic!("arquivos should be an array: {}", r.text))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("names are strings: {}", r.text))
                .to_string()
        })
        .collect()
}

/// Whether `nome` is `<prefix>_YYYYMMDD_HHMMSS[_N].<ext>`.
pub fn nome_no_padrao(nome: &str, prefix: &str, ext: &str) -> bool {
    let Some(stem) = nome
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .and_then(|r| r.strip_suffix(ext))
        .and_then(|r| r.strip_suffix('.'))
    else {
        return false;
    };
    let b = stem.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    b.len() >= 15
        && digits(&b[..8])
        && b[8] == b'_'
        && digits(&b[9..15])
        && (b.len() == 15 || (b[15] == b'_' && digits(&b[16..])))
}

/// Queues a backup on `rota` (202 `enfileirado`), waits for its task; returns (task_id, arquivo).
pub async fn fazer_backup(srv: &TestServer, rota: &str) -> (String, String) {
    let r = post_vazio(srv, rota).await;
    r.expect_status(202);
    assert_eq!(r.body["status"], "enfileirado", "{rota}: {}", r.text);
    let task_id = str_field(&r.body, "task_id");
    let t = wait_task(srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(t["status"], "concluida", "backup task: {t}");
    assert_eq!(t["tipo"], "backup", "{t}");
    assert_eq!(t["progresso"], 100, "{t}");
    let arquivo = str_field(&t["resultado"], "arquivo");
    assert!(
        nome_no_padrao(&arquivo, "backup", "zip"),
        "backup name {arquivo:?}"
    );
    (task_id, arquivo)
}

/// Every entry of a ZIP: name → bytes.
pub fn abrir_zip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut z = ZipArchive::new(Cursor::new(bytes)).expect("a valid ZIP");
    let names: Vec<String> = z
        .file_names()
        .map(|n| n.expect("UTF-8 entry name").into_owned())
        .collect();
    let mut out = BTreeMap::new();
    for n in names {
        let mut e = z.by_name(&n).expect("entry");
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).expect("read entry");
        out.insert(n, buf);
    }
    out
}

/// A ZIP (deflated) with exactly these entries, in this order.
pub fn montar_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (nome, bytes) in entries {
        w.start_file(*nome, opts).expect("start entry");
        w.write_all(bytes).expect("write entry");
    }
    w.finish().expect("finish ZIP").into_inner()
}

/// A ZIP with the entries of `entries` (name order), after `editar` changed the map.
fn remontar(
    entries: &BTreeMap<String, Vec<u8>>,
    editar: impl FnOnce(&mut BTreeMap<String, Vec<u8>>),
) -> Vec<u8> {
    let mut e = entries.clone();
    editar(&mut e);
    let v: Vec<(&str, &[u8])> = e.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    montar_zip(&v)
}

/// Downloads a backup and returns its entries and parsed manifest.
pub async fn conteudo_backup(srv: &TestServer, nome: &str) -> (BTreeMap<String, Vec<u8>>, Value) {
    let d = baixar(srv, &format!("/backup/download/{nome}")).await;
    assert_eq!(d.status, 200, "download {nome}");
    let entries = abrir_zip(&d.bytes);
    let manifest: Value = serde_json::from_slice(
        entries
            .get("manifest.json")
            .unwrap_or_else(|| panic!("{nome} has no manifest.json")),
    )
    .expect("manifest.json is JSON");
    (entries, manifest)
}

/// Every collection exactly as the API lists it.
pub async fn estado(srv: &TestServer) -> Value {
    let mut m = serde_json::Map::new();
    for c in COLECOES {
        let r = srv.get(&format!("/{}", c.replace('_', "-"))).await;
        r.expect_status(200);
        assert_eq!(
            r.total_count() as usize,
            r.array().len(),
            "x-total-count of /{c}"
        );
        m.insert(c.to_string(), r.body);
    }
    Value::Object(m)
}

/// Asserts two `estado` snapshots are equal, naming the first collection that differs.
#[track_caller]
fn assert_mesmo_estado(got: &Value, want: &Value, when: &str) {
    for c in COLECOES {
        assert_eq!(
            got[c], want[c],
            "[{when}] /{c} differs:\n got  {}\n want {}",
            got[c], want[c]
        );
    }
}

/// The records created by [`popular`].
pub struct Dados {
    pub pacientes: Vec<String>,
    pub medicos: Vec<String>,
    pub consultas: Vec<String>,
}

/// Three patients, three doctors (the third without appointments), working hours, and
/// appointments in the past and the future, some with changed status.
pub async fn popular(srv: &TestServer) -> Dados {
    let mut pacientes = Vec::new();
    for (nome, seed) in [
        ("João Gonçalves", 11),
        ("Luíza Pereira", 12),
        ("Ângela Conceição", 13),
    ] {
        pacientes.push(str_field(&criar_paciente(srv, nome, seed).await, "id"));
    }
    let mut medicos = Vec::new();
    for (nome, crm, esp) in [
        ("Dra. Conceição Araújo", 501, "Cardiologia"),
        ("Dr. Antônio Brandão", 502, "Pediatria"),
        ("Dr. Sem Consultas", 503, "Dermatologia"),
    ] {
        medicos.push(str_field(&criar_medico(srv, nome, crm, esp).await, "id"));
    }
    criar_horario(srv, &medicos[0], "segunda", "08:00", "12:00").await;
    criar_horario(srv, &medicos[0], "quarta", "13:00", "17:00").await;
    criar_horario(srv, &medicos[1], "terça", "08:00", "12:00").await;
    criar_horario(srv, &medicos[2], "sexta", "08:00", "10:00").await;
    let futuro = monday(2);
    let specs = [
        (
            0,
            0,
            "2025-03-10T08:00:00".to_string(),
            "2025-03-10T08:30:00".to_string(),
        ),
        (
            1,
            0,
            "2025-03-10T08:30:00".into(),
            "2025-03-10T09:00:00".into(),
        ),
        (
            2,
            1,
            "2025-03-11T09:00:00".into(),
            "2025-03-11T09:30:00".into(),
        ),
        (0, 1, at(futuro, "09:00"), at(futuro, "09:30")),
        (1, 0, at(futuro, "10:00"), at(futuro, "10:30")),
    ];
    let mut consultas = Vec::new();
    for (p, m, ini, fim) in specs {
        let c = criar_consulta(srv, &pacientes[p], &medicos[m], &ini, &fim).await;
        consultas.push(str_field(&c, "id"));
    }
    srv.put(
        &format!("/consultas/{}", consultas[2]),
        &json!({"status": "concluida", "observacoes": "Retorno em 30 dias — sem alterações"}),
    )
    .await
    .expect_status(200);
    srv.put(
        &format!("/consultas/{}", consultas[3]),
        &json!({"status": "confirmada"}),
    )
    .await
    .expect_status(200);
    Dados {
        pacientes,
        medicos,
        consultas,
    }
}

/// The changes made after a backup: a new patient, a deleted doctor, an updated appointment.
async fn alterar(srv: &TestServer, d: &Dados) {
    criar_paciente(srv, "Paciente Depois do Backup", 99).await;
    srv.delete(&format!("/medicos/{}", d.medicos[2]))
        .await
        .expect_status(204);
    srv.put(
        &format!("/consultas/{}", d.consultas[4]),
        &json!({"status": "cancelada", "observacoes": "cancelada depois do backup"}),
    )
    .await
    .expect_status(200);
}

/// Sends one raw HTTP/1.1 request with exactly this request target (no client-side
/// normalisation of `..`, `%2e` or `\`); returns (status, body).
pub async fn raw_request(srv: &TestServer, method: &str, target: &str) -> (u16, String) {
    let addr = srv.base.strip_prefix("http://").expect("http base");
    let io = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let req = format!(
            "{method} {target} HTTP/1.1\r\nHost: {addr}\r\n\
             Connection: close\r\nContent-Length: 0\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(10), io)
        .await
        .unwrap_or_else(|_| panic!("{method} {target}: no answer within 10 s"))
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"));
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {target}: not an HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

// ---------------------------------------------------------------------------------------------
// A backup
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_queued_backup_completes_and_its_zip_holds_every_collection_with_a_truthful_manifest() {
    let srv = TestServer::start();
    let d = popular(&srv).await;
    let mut sse = SseStream::open(&srv, "/sistema/agenda/stream", None).await;

    let (task_id, arquivo) = fazer_backup(&srv, "/backup/executar").await;

    let ev = sse
        .wait_for("backup_concluido", EVENT_TIMEOUT, |e| {
            e.tipo() == "backup_concluido"
        })
        .await;
    assert_eq!(
        ev.dados(),
        json!({"arquivo": arquivo, "task_id": task_id}),
        "backup_concluido event"
    );
    assert_eq!(
        listar(&srv, "/backup/").await,
        std::slice::from_ref(&arquivo)
    );
    assert_eq!(
        listar(&srv, "/backup").await,
        std::slice::from_ref(&arquivo)
    );
    assert!(
        backup_dir(&srv).join(&arquivo).is_file(),
        "the archive is in backups/"
    );

    let dl = baixar(&srv, &format!("/backup/download/{arquivo}")).await;
    assert_eq!(dl.status, 200);
    assert!(
        dl.content_type.starts_with("application/zip"),
        "content-type {:?}",
        dl.content_type
    );
    assert!(dl.bytes.starts_with(b"PK"), "a ZIP starts with PK");
    assert!(
        dl.content_disposition.contains(&arquivo),
        "content-disposition {:?}",
        dl.content_disposition
    );
    assert_eq!(
        dl.bytes,
        std::fs::read(backup_dir(&srv).join(&arquivo)).expect("read archive"),
        "the download is the file"
    );
    let entries = abrir_zip(&dl.bytes);
    assert_eq!(
        entries.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "bloqueios.json",
            "consultas.json",
            "convenios.json",
            "historico.json",
            "horarios.json",
            "lista_espera.json",
            "manifest.json",
            "medicos.json",
            "pacientes.json",
            "regras.json",
            "webhooks.json"
        ])
    );

    let manifest: Value = serde_json::from_slice(&entries["manifest.json"]).expect("manifest");
    assert_eq!(manifest["tipo"], "manual", "{manifest}");
    assert_eq!(manifest["task_id"], json!(task_id), "{manifest}");
    assert!(
        manifest["criado_em"]
            .as_str()
            .is_some_and(|s| s.len() >= 19),
        "criado_em: {manifest}"
    );
    assert!(
        manifest["versao"].as_str().is_some_and(|s| !s.is_empty()),
        "versao: {manifest}"
    );
    let listados: BTreeSet<String> = manifest["arquivos"]
        .as_array()
        .expect("arquivos array")
        .iter()
        .map(|a| {
            let nome = str_field(a, "nome");
            let bytes = entries
                .get(&nome)
                .unwrap_or_else(|| panic!("manifest lists {nome} that the ZIP lacks"));
            assert_eq!(a["bytes"], json!(bytes.len()), "size of {nome}");
            assert_eq!(
                a["sha256"],
                json!(hex::encode(Sha256::digest(bytes))),
                "sha256 of {nome}"
            );
            nome
        })
        .collect();
    assert_eq!(
        listados,
        COLECOES
            .iter()
            .chain(&["historico", "regras", "webhooks"])
            .map(|c| format!("{c}.json"))
            .collect(),
        "the manifest lists every data file"
    );

    let api = estado(&srv).await;
    for c in COLECOES {
        let lista = api[c].as_array().expect("list");
        assert_eq!(
            manifest["contagens"][c],
            json!(lista.len()),
            "contagens.{c}: {manifest}"
        );
        let file: Value = serde_json::from_slice(&entries[&format!("{c}.json")])
            .unwrap_or_else(|e| panic!("{c}.json is JSON: {e}"));
        let obj = file.as_object().expect("data file is an object");
        assert_eq!(
            obj.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            BTreeSet::from(["registros", "seq", "versao"]),
            "{c}.json keys"
        );
        assert!(file["versao"].is_u64(), "{c}.json versao");
        assert_eq!(
            file["seq"], manifest["seq"],
            "{c}.json stands at the manifest's seq"
        );
        let registros = file["registros"].as_array().expect("registros array");
        let mut no_zip = registros.clone();
        let mut na_api = lista.clone();
        let by_id = |a: &Value, b: &Value| str_field(a, "id").cmp(&str_field(b, "id"));
        no_zip.sort_by(by_id);
        na_api.sort_by(by_id);
        assert_eq!(
            no_zip, na_api,
            "{c}.json holds exactly the records the API lists"
        );
    }
    assert_eq!(manifest["contagens"]["pacientes"], d.pacientes.len());

    // The alias queues the same kind of task; the listing is newest first.
    let (_, segundo) = fazer_backup(&srv, "/sistema/tasks/backup").await;
    assert_ne!(segundo, arquivo);
    assert_eq!(listar(&srv, "/backup/").await, [segundo, arquivo]);
}

// ---------------------------------------------------------------------------------------------
// Restore
// ---------------------------------------------------------------------------------------------

/// POST /backup/restaurar/{nome} asserting 200 and the answer's shape; returns the answer.
async fn restaurar_ok(srv: &TestServer, nome: &str) -> Value {
    let r = post_vazio(srv, &format!("/backup/restaurar/{nome}")).await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "restaurado", "{}", r.text);
    assert_eq!(r.body["arquivo"], json!(nome), "{}", r.text);
    let seg = str_field(&r.body, "backup_seguranca");
    assert!(
        nome_no_padrao(&seg, "backup", "zip") && seg != nome,
        "backup_seguranca {seg:?}"
    );
    assert!(r.body["contagens"].is_object(), "{}", r.text);
    r.body
}

/// The record counts of an `estado` snapshot, as a manifest writes them.
fn contagens(estado: &Value) -> Value {
    let mut m = serde_json::Map::new();
    for c in COLECOES {
        m.insert(
            c.to_string(),
            json!(estado[c].as_array().expect("list").len()),
        );
    }
    Value::Object(m)
}

#[tokio::test]
async fn restore_brings_back_exactly_the_backup_keeps_a_safety_backup_and_survives_a_restart() {
    let mut srv = TestServer::start();
    let d = popular(&srv).await;
    let no_backup = estado(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;

    alterar(&srv, &d).await;
    let alterado = estado(&srv).await;
    for c in ["pacientes", "medicos", "horarios", "consultas"] {
        assert_ne!(no_backup[c], alterado[c], "the change touches /{c}");
    }

    // Restore: the data is exactly what it was at backup time; dashboards are told.
    let mut sse = SseStream::open(&srv, "/sistema/agenda/stream", None).await;
    let r = restaurar_ok(&srv, &nome).await;
    assert_eq!(r["contagens"], contagens(&no_backup), "contagens in {r}");
    assert_mesmo_estado(&estado(&srv).await, &no_backup, "after restore");
    // One horario_atualizado per doctor, in whatever order.
    let deadline = Instant::now() + EVENT_TIMEOUT;
    let avisados = |sse: &SseStream| -> BTreeSet<String> {
        sse.seen
            .iter()
            .filter(|e| e.tipo() == "horario_atualizado")
            .filter_map(|e| e.dados()["medico_id"].as_str().map(str::to_string))
            .collect()
    };
    let medicos: BTreeSet<String> = d.medicos.iter().cloned().collect();
    while !medicos.is_subset(&avisados(&sse)) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            sse.next(left).await.is_some(),
            "horario_atualizado for every doctor of the backup {medicos:?}; seen {:#?}",
            sse.seen
        );
    }

    // The safety backup holds the state the restore replaced, and is listed.
    let seguranca = str_field(&r, "backup_seguranca");
    let lista = listar(&srv, "/backup/").await;
    assert!(lista.contains(&seguranca), "{seguranca} not in {lista:?}");
    assert_eq!(lista.len(), 2, "{lista:?}");
    let (_, manifest) = conteudo_backup(&srv, &seguranca).await;
    assert_eq!(manifest["tipo"], "seguranca", "{manifest}");
    assert_eq!(manifest["contagens"], contagens(&alterado), "{manifest}");
    let r2 = restaurar_ok(&srv, &seguranca).await;
    assert_eq!(r2["contagens"], contagens(&alterado));
    assert_mesmo_estado(
        &estado(&srv).await,
        &alterado,
        "after restoring the safety backup",
    );

    // And back again.
    restaurar_ok(&srv, &nome).await;
    assert_mesmo_estado(&estado(&srv).await, &no_backup, "after the second restore");

    // Writes keep working, against the restored data (its indexes were rebuilt).
    let novo = srv
        .post("/pacientes", &paciente_body("Paciente Pós-Restauração", 99))
        .await;
    novo.expect_status(201); // the CPF of the patient created after the backup is free again
    assert_problem(
        &srv.post("/pacientes", &paciente_body("CPF Repetido", 11))
            .await,
        409,
        "duplicate_cpf",
    );
    assert_problem(
        &srv.post("/medicos", &medico_body("CRM Repetido", 503, "Clínica"))
            .await,
        409,
        "duplicate_crm",
    );
    let sobreposta = srv
        .post(
            "/consultas",
            &consulta_body(
                &d.pacientes[2],
                &d.medicos[0],
                "2025-03-10T08:15:00",
                "2025-03-10T08:45:00",
            ),
        )
        .await;
    assert_problem(&sobreposta, 409, "doctor_overlap");
    srv.put(
        &format!("/consultas/{}", d.consultas[4]),
        &json!({"observacoes": "alterada depois da restauração"}),
    )
    .await
    .expect_status(200);
    srv.delete(&format!("/medicos/{}", d.medicos[2]))
        .await
        .expect_status(204);
    let final_ = estado(&srv).await;

    // A graceful restart keeps the restored data and the later writes.
    let status = srv.stop();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    srv.restart();
    assert_mesmo_estado(&estado(&srv).await, &final_, "after a restart");
    srv.post("/pacientes", &paciente_body("Depois do Reinício", 100))
        .await
        .expect_status(201);
}

#[tokio::test]
async fn a_restore_answered_200_survives_a_kill_9_right_after() {
    let mut srv = TestServer::start();
    let d = popular(&srv).await;
    let no_backup = estado(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    alterar(&srv, &d).await;

    let r = restaurar_ok(&srv, &nome).await;
    srv.kill9();
    srv.restart();
    assert_mesmo_estado(&estado(&srv).await, &no_backup, "after kill -9 and restart");
    let seguranca = str_field(&r, "backup_seguranca");
    let (entries, manifest) = conteudo_backup(&srv, &seguranca).await;
    assert_eq!(manifest["tipo"], "seguranca");
    // The collections, the histories, the rules, the webhooks and the manifest.
    assert_eq!(
        entries.len(),
        COLECOES.len() + 4,
        "the safety backup is complete"
    );
    srv.post("/pacientes", &paciente_body("Depois do Kill", 101))
        .await
        .expect_status(201);
}

#[tokio::test]
async fn a_restore_retried_with_the_same_idempotency_key_is_replayed_not_run_again() {
    let srv = TestServer::start();
    let d = popular(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    alterar(&srv, &d).await;
    let restaurar = || async {
        read(
            srv.client
                .post(srv.url(&format!("/backup/restaurar/{nome}")))
                .header("idempotency-key", "restaurar-uma-vez")
                .send()
                .await
                .expect("POST restaurar"),
        )
        .await
    };
    let primeira = restaurar().await;
    primeira.expect_status(200);
    // A write after the restore that a second run would silently wipe.
    let depois = criar_paciente(&srv, "Criado Depois da Restauração", 102).await;
    let antes_da_repeticao = estado(&srv).await;
    let lista = listar(&srv, "/backup/").await;

    let segunda = restaurar().await;
    let sobreviveu = srv
        .get(&format!("/pacientes/{}", str_field(&depois, "id")))
        .await
        .status
        == 200;
    let novos: Vec<String> = listar(&srv, "/backup/")
        .await
        .into_iter()
        .filter(|n| !lista.contains(n))
        .collect();
    assert_eq!(
        (
            segunda.status,
            segunda.header("idempotent-replayed"),
            sobreviveu,
            novos.clone(),
        ),
        (200, "true".to_string(), true, Vec::new()),
        "the retry should replay the first answer (status, replayed header), keep the \
         patient created after the first restore, and write no new safety backup.\n\
         first:  {}\nretry:  {}\nnew backups: {novos:?}",
        primeira.text,
        segunda.text
    );
    assert_eq!(
        segunda.body, primeira.body,
        "same answer (same safety backup)"
    );
    assert_mesmo_estado(
        &estado(&srv).await,
        &antes_da_repeticao,
        "a replayed restore changes nothing",
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_a_backup_or_report_request_without_queueing_it_again() {
    let srv = TestServer::start();
    let com_chave = |path: &'static str, key: &'static str, body: Value| {
        let req = srv
            .client
            .post(srv.url(path))
            .header("idempotency-key", key)
            .json(&body);
        async move { read(req.send().await.expect("POST")).await }
    };
    let a = com_chave("/backup/executar", "bk-1", json!({})).await;
    a.expect_status(202);
    let b = com_chave("/backup/executar", "bk-1", json!({})).await;
    b.expect_status(202);
    assert_eq!(b.header("idempotent-replayed"), "true", "{}", b.text);
    assert_eq!(a.body["task_id"], b.body["task_id"]);
    wait_task(&srv, &str_field(&a.body, "task_id"), TASK_TIMEOUT).await;

    let body = json!({"periodo_inicio": "2025-01-01"});
    let r1 = com_chave("/relatorios/gerar", "rel-1", body.clone()).await;
    r1.expect_status(202);
    let r2 = com_chave("/relatorios/gerar", "rel-1", body).await;
    r2.expect_status(202);
    assert_eq!(r1.body["task_id"], r2.body["task_id"]);
    assert_problem(
        &com_chave(
            "/relatorios/gerar",
            "rel-1",
            json!({"periodo_inicio": "2025-02-01"}),
        )
        .await,
        422,
        "idempotency_key_reused",
    );
    wait_all_tasks_final(&srv, TASK_TIMEOUT).await;
    assert_eq!(listar(&srv, "/backup/").await.len(), 1, "one backup");
    assert_eq!(listar(&srv, "/relatorios/").await.len(), 1, "one report");
    assert_eq!(all_tasks(&srv, "").await.len(), 2, "two tasks in all");
}

#[tokio::test]
async fn backups_taken_during_a_stream_of_writes_are_consistent_snapshots() {
    let srv = TestServer::start();
    let m = str_field(
        &criar_medico(&srv, "Dra. Instantâneo", 520, "Clínica").await,
        "id",
    );
    let parar = std::sync::atomic::AtomicBool::new(false);
    // Each round: a patient, then an appointment of that patient. At any instant the
    // store holds as many patients as appointments, or one more.
    let escritor = async {
        let mut i: u64 = 0;
        let base = jiff::civil::date(2024, 1, 1).at(0, 0, 0, 0);
        while !parar.load(std::sync::atomic::Ordering::Relaxed) {
            let p = criar_paciente(&srv, &format!("Paciente Snapshot {i}"), 5000 + i).await;
            let ini = base
                .checked_add(jiff::SignedDuration::from_mins(30 * i as i64))
                .expect("date");
            let fim = ini
                .checked_add(jiff::SignedDuration::from_mins(30))
                .expect("date");
            criar_consulta(
                &srv,
                &str_field(&p, "id"),
                &m,
                &ini.to_string(),
                &fim.to_string(),
            )
            .await;
            i += 1;
        }
        i
    };
    let backups = async {
        let mut nomes = Vec::new();
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(60)).await;
            nomes.push(fazer_backup(&srv, "/backup/executar").await.1);
        }
        parar.store(true, std::sync::atomic::Ordering::Relaxed);
        nomes
    };
    let (rodadas, nomes) = tokio::join!(escritor, backups);
    assert!(rodadas > 5, "the writer ran only {rodadas} rounds");

    let mut anteriores = 0;
    for nome in &nomes {
        let (entries, manifest) = conteudo_backup(&srv, nome).await;
        let registros = |c: &str| -> Vec<Value> {
            let f: Value =
                serde_json::from_slice(&entries[&format!("{c}.json")]).expect("data file");
            assert_eq!(f["seq"], manifest["seq"], "{nome}: {c}.json seq");
            f["registros"].as_array().expect("registros").clone()
        };
        let pacientes = registros("pacientes");
        let consultas = registros("consultas");
        assert_eq!(
            manifest["contagens"]["pacientes"],
            pacientes.len(),
            "{nome}"
        );
        assert_eq!(
            manifest["contagens"]["consultas"],
            consultas.len(),
            "{nome}"
        );
        assert!(
            pacientes.len() == consultas.len() || pacientes.len() == consultas.len() + 1,
            "{nome}: {} patients and {} appointments is not a moment the store was in",
            pacientes.len(),
            consultas.len()
        );
        let ids_p: BTreeSet<String> = pacientes.iter().map(|p| str_field(p, "id")).collect();
        for c in &consultas {
            assert!(
                ids_p.contains(&str_field(c, "paciente_id")),
                "{nome}: appointment without its patient"
            );
        }
        assert!(pacientes.len() >= anteriores, "{nome}: went back in time");
        anteriores = pacientes.len();
    }
    // The last one restores (its counts and checksums hold).
    restaurar_ok(&srv, nomes.last().expect("a backup")).await;
}

#[tokio::test]
async fn a_restore_reloads_the_live_agenda_and_drops_holds() {
    let srv = TestServer::start();
    let d = popular(&srv).await;
    let m0 = &d.medicos[0];
    let seg = monday(2);
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    // After the backup: the 10:00 appointment is cancelled, 08:00 held, 11:00 booked.
    alterar(&srv, &d).await;
    reservar(&srv, m0, &at(seg, "08:00"))
        .await
        .expect_status(200);
    criar_consulta(
        &srv,
        &d.pacientes[2],
        m0,
        &at(seg, "11:00"),
        &at(seg, "11:30"),
    )
    .await;
    assert_eq!(slot_state(&srv, m0, &at(seg, "10:00")).await, "disponivel");
    assert_eq!(slot_state(&srv, m0, &at(seg, "08:00")).await, "reservado");
    assert_eq!(slot_state(&srv, m0, &at(seg, "11:00")).await, "ocupado");

    restaurar_ok(&srv, &nome).await;
    let estados: Vec<String> = {
        let mut v = Vec::new();
        for h in ["08:00", "10:00", "11:00"] {
            v.push(slot_state(&srv, m0, &at(seg, h)).await);
        }
        v
    };
    assert_eq!(
        estados,
        ["disponivel", "ocupado", "disponivel"],
        "08:00 (hold dropped), 10:00 (booked in the backup), 11:00 (booked after it)"
    );
    // The agenda's rules run on the restored data.
    let r = agendar(
        &srv,
        &d.pacientes[2],
        m0,
        &at(seg, "10:00"),
        &at(seg, "10:30"),
    )
    .await;
    assert_problem(&r, 409, "horario_ocupado");
    let t = agendar_ok(
        &srv,
        &d.pacientes[2],
        m0,
        &at(seg, "11:00"),
        &at(seg, "11:30"),
    )
    .await;
    let t = wait_task(&srv, &t, TASK_TIMEOUT).await;
    assert_eq!(t["status"], "concluida", "{t}");
    reservar(&srv, m0, &at(seg, "08:00"))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn a_backup_task_rerun_after_a_crash_adopts_its_archive_instead_of_writing_a_second() {
    let mut srv = TestServer::start();
    popular(&srv).await;
    let (_, manual) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, _) = conteudo_backup(&srv, &manual).await;
    let status = srv.stop();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    // A backup task accepted, then a crash after its archive was published but before the
    // task was marked done.
    srv.restart_with(&["--worker-paused"]);
    let r = post_vazio(&srv, "/backup/executar").await;
    r.expect_status(202);
    let task_id = str_field(&r.body, "task_id");
    let t = srv.get(&format!("/sistema/tasks/{task_id}")).await;
    assert_eq!(t.body["status"], "pendente", "{}", t.text);
    let criado_em = str_field(&t.body, "criado_em");
    srv.kill9();
    // criado_em carries the clinic's offset, so its digits are the clinic-local stamp.
    let stamp: String = criado_em[..19]
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let base = format!("backup_{}_{}", &stamp[..8], &stamp[8..14]);
    let dir = backup_dir(&srv);
    let plantado = (1..100)
        .map(|n| {
            if n == 1 {
                format!("{base}.zip")
            } else {
                format!("{base}_{n}.zip")
            }
        })
        .find(|n| !dir.join(n).exists())
        .expect("a free name");
    let zip = remontar(&entries, |e| {
        let mut m: Value = serde_json::from_slice(&e["manifest.json"]).expect("manifest");
        m["task_id"] = json!(task_id);
        m["criado_em"] = json!(criado_em);
        e.insert(
            "manifest.json".into(),
            serde_json::to_vec_pretty(&m).expect("json"),
        );
    });
    std::fs::write(dir.join(&plantado), zip).expect("plant the crashed task's archive");

    srv.restart_with(&[]);
    let t = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(t["status"], "concluida", "{t}");
    assert_eq!(
        t["resultado"]["arquivo"],
        json!(plantado),
        "the re-run finds the archive it had written: {t}"
    );
    let mut lista = listar(&srv, "/backup/").await;
    lista.sort();
    let mut esperado = vec![manual, plantado];
    esperado.sort();
    assert_eq!(lista, esperado, "no second archive for the same task");
}

// ---------------------------------------------------------------------------------------------
// Bad archives
// ---------------------------------------------------------------------------------------------

/// Replaces the first occurrence of `from` in `bytes` by `to` (same length).
fn trocar(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let i = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(from)));
    let mut out = bytes.to_vec();
    out[i..i + to.len()].copy_from_slice(to);
    out
}

/// `entries` with `nome` replaced by `novo` and the manifest's bytes/sha256 for it updated.
fn com_manifesto_coerente(
    entries: &BTreeMap<String, Vec<u8>>,
    nome: &str,
    novo: Vec<u8>,
    editar_manifesto: impl FnOnce(&mut Value),
) -> Vec<u8> {
    remontar(entries, |e| {
        let mut m: Value = serde_json::from_slice(&e["manifest.json"]).expect("manifest");
        for a in m["arquivos"].as_array_mut().expect("arquivos") {
            if a["nome"] == json!(nome) {
                a["bytes"] = json!(novo.len());
                a["sha256"] = json!(hex::encode(Sha256::digest(&novo)));
            }
        }
        editar_manifesto(&mut m);
        e.insert(nome.to_string(), novo);
        e.insert(
            "manifest.json".into(),
            serde_json::to_vec_pretty(&m).expect("manifest JSON"),
        );
    })
}

#[tokio::test]
async fn bad_archives_are_refused_with_422_backup_invalido_and_change_nothing() {
    let mut srv = TestServer::start();
    popular(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let dl = baixar(&srv, &format!("/backup/download/{nome}")).await;
    assert_eq!(dl.status, 200);
    let good = dl.bytes;
    let entries = abrir_zip(&good);
    // Something to lose: the live data differs from the backup.
    criar_paciente(&srv, "Só no Estado Atual", 77).await;

    let manifest: Value = serde_json::from_slice(&entries["manifest.json"]).expect("manifest");
    let casos: Vec<(&str, Vec<u8>)> = vec![
        ("truncated to half", good[..good.len() / 2].to_vec()),
        ("last 30 bytes cut", good[..good.len() - 30].to_vec()),
        (
            "one byte of pacientes.json changed, old manifest",
            remontar(&entries, |e| {
                let p = trocar(
                    &e["pacientes.json"],
                    "Gonçalves".as_bytes(),
                    "Gonçalvez".as_bytes(),
                );
                e.insert("pacientes.json".into(), p);
            }),
        ),
        (
            "one byte of consultas.json changed, old manifest",
            remontar(&entries, |e| {
                let c = trocar(&e["consultas.json"], b":30:00", b":40:00");
                e.insert("consultas.json".into(), c);
            }),
        ),
        (
            "manifest counts lie",
            remontar(&entries, |e| {
                let mut m = manifest.clone();
                m["contagens"]["consultas"] =
                    json!(m["contagens"]["consultas"].as_u64().expect("count") + 1);
                e.insert(
                    "manifest.json".into(),
                    serde_json::to_vec(&m).expect("json"),
                );
            }),
        ),
        (
            "manifest.json missing",
            remontar(&entries, |e| {
                e.remove("manifest.json");
            }),
        ),
        (
            "pacientes.json missing",
            remontar(&entries, |e| {
                e.remove("pacientes.json");
            }),
        ),
        (
            "manifest.json is not a manifest",
            remontar(&entries, |e| {
                e.insert("manifest.json".into(), b"[1, 2, 3]".to_vec());
            }),
        ),
        (
            "consultas.json not JSON, checksums recomputed",
            com_manifesto_coerente(
                &entries,
                "consultas.json",
                b"{\"versao\": 1, \"seq\"".to_vec(),
                |_| {},
            ),
        ),
        (
            "consultas.json records of the wrong shape, checksums and counts recomputed",
            com_manifesto_coerente(
                &entries,
                "consultas.json",
                br#"{"versao": 1, "seq": 1, "registros": [{"id": "x", "nome": 5}]}"#.to_vec(),
                |m| m["contagens"]["consultas"] = json!(1),
            ),
        ),
        (
            "not a ZIP at all",
            "isto não é um arquivo zip\n".as_bytes().to_vec(),
        ),
        ("empty file", Vec::new()),
    ];

    let dir = backup_dir(&srv);
    for (i, (_, bytes)) in casos.iter().enumerate() {
        std::fs::write(dir.join(format!("backup_20200101_0000{i:02}.zip")), bytes)
            .expect("plant archive");
    }
    let antes = estado(&srv).await;
    let lista_antes = listar(&srv, "/backup/").await;
    assert_eq!(lista_antes.len(), casos.len() + 1, "{lista_antes:?}");

    let mut falhas = Vec::new();
    for (i, (caso, _)) in casos.iter().enumerate() {
        let arquivo = format!("backup_20200101_0000{i:02}.zip");
        let r = post_vazio(&srv, &format!("/backup/restaurar/{arquivo}")).await;
        if r.status != 422 || r.body["code"] != "backup_invalido" {
            falhas.push(format!("{caso}: {} {}", r.status, r.text));
            continue;
        }
        assert_problem(&r, 422, "backup_invalido");
        let depois = estado(&srv).await;
        if depois != antes {
            falhas.push(format!("{caso}: the data changed"));
        }
        let lista = listar(&srv, "/backup/").await;
        if lista != lista_antes {
            falhas.push(format!("{caso}: the backup folder changed: {lista:?}"));
        }
    }
    assert!(
        falhas.is_empty(),
        "bad archives not refused cleanly:\n{}",
        falhas.join("\n")
    );

    // A valid name that no file has is 404.
    assert_problem(
        &post_vazio(&srv, "/backup/restaurar/backup_20190101_000000.zip").await,
        404,
        "not_found",
    );
    assert_mesmo_estado(&estado(&srv).await, &antes, "after the 404");

    // Nothing was left half-switched on disk either.
    let status = srv.stop();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    srv.restart();
    assert_mesmo_estado(&estado(&srv).await, &antes, "after a restart");

    // And the good archive still restores.
    restaurar_ok(&srv, &nome).await;
}

// ---------------------------------------------------------------------------------------------
// Names that try to leave the folder
// ---------------------------------------------------------------------------------------------

const SEGREDO: &str = "SEGREDO-QUE-NUNCA-DEVE-SER-SERVIDO";

/// Request targets (after the route's prefix) that must never be served, for files named
/// `<prefix>_YYYYMMDD_HHMMSS.<ext>`.
fn nomes_hostis(prefix: &str, ext: &str, root: &Path) -> Vec<String> {
    let valido = format!("{prefix}_20260131_140509.{ext}");
    let absoluto = enc(&root.join("segredo.txt").display().to_string());
    let pasta = if prefix == "backup" {
        "backups"
    } else {
        "reports"
    };
    vec![
        "..%2F..%2Fetc%2Fpasswd".into(),
        "..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd".into(),
        "..%2fsegredo.txt".into(),
        "%2e%2e%2fsegredo.txt".into(),
        "%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd".into(),
        "%2e%2e%2f%2e%2e%2fbanco%2fpacientes.json".into(),
        "..%2Fbanco%2Fpacientes.json".into(),
        format!("..%2F{pasta}%2F{valido}"),
        format!(".%2F{valido}"),
        "%252e%252e%252fsegredo.txt".into(),
        "..%c0%afsegredo.txt".into(),
        "..%5Csegredo.txt".into(),
        "..%5C..%5Cetc%5Cpasswd".into(),
        format!("..%5C{pasta}%5C{valido}"),
        "%2Fetc%2Fpasswd".into(),
        "%2F%2Fetc%2Fpasswd".into(),
        absoluto,
        format!("{prefix}_2026013_140509.{ext}"),
        format!("{prefix}_20260131_140509.{}", ext.to_uppercase()),
        format!("{valido}.bak"),
        format!("{valido}%20"),
        format!("%20{valido}"),
        format!("{valido}%00"),
        format!("{valido}%00.txt"),
        format!("{valido}%0A"),
        format!("{valido}%2F"),
        format!("{valido}%2F..%2F..%2Fsegredo.txt"),
        format!("sub%2F{valido}"),
        format!("{prefix}_20260131_140509_0.{ext}"),
        format!("{prefix}_20260131_140509_.{ext}"),
        format!("{prefix}_20260131-140509.{ext}"),
        "..".into(),
        "%2e%2e".into(),
        ".".into(),
    ]
}

/// Plants files a lax name check would serve: a secret next to the folders, files in the
/// folder whose names almost match, and one in a sub-folder.
fn plantar(dir: &Path, prefix: &str, ext: &str) {
    let valido = format!("{prefix}_20260131_140509.{ext}");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    for nome in [
        format!("{prefix}_2026013_140509.{ext}"),
        format!("{prefix}_20260131_140509.{}", ext.to_uppercase()),
        format!("{valido}.bak"),
        format!("{valido} "),
        format!(" {valido}"),
        format!("{valido}\n"),
        format!("{prefix}_20260131_140509_0.{ext}"),
        format!("{prefix}_20260131_140509_.{ext}"),
        format!("{prefix}_20260131-140509.{ext}"),
        format!("sub/{valido}"),
    ] {
        std::fs::write(dir.join(&nome), SEGREDO).expect("plant near-miss");
    }
}

#[tokio::test]
async fn names_that_try_to_leave_the_folder_are_404_on_downloads_and_restore() {
    let srv = TestServer::start();
    let root = root_dir(&srv);
    std::fs::write(root.join("segredo.txt"), SEGREDO).expect("plant secret");
    std::fs::write(srv.data_dir().join("segredo.txt"), SEGREDO).expect("plant secret");
    let rotas = [
        (
            "GET",
            "/backup/download/",
            "backup",
            "zip",
            backup_dir(&srv),
        ),
        (
            "GET",
            "/relatorios/download/",
            "relatorio",
            "pdf",
            reports_dir(&srv),
        ),
        (
            "POST",
            "/backup/restaurar/",
            "backup",
            "zip",
            backup_dir(&srv),
        ),
    ];
    for (_, _, prefix, ext, dir) in &rotas {
        plantar(dir, prefix, ext);
    }
    // The one real file: the control that the routes do serve a valid name.
    let (_, real) = fazer_backup(&srv, "/backup/executar").await;
    let real_rel = "relatorio_20260131_140509.pdf".to_string();
    std::fs::write(reports_dir(&srv).join(&real_rel), b"%PDF-1.4 controle").expect("plant pdf");
    assert_eq!(
        baixar(&srv, &format!("/backup/download/{real}"))
            .await
            .status,
        200
    );
    let ctrl = baixar(&srv, &format!("/relatorios/download/{real_rel}")).await;
    assert_eq!(ctrl.status, 200);
    assert!(ctrl.content_type.starts_with("application/pdf"), "{ctrl:?}");

    let mut falhas = Vec::new();
    for (method, rota, prefix, ext, _) in &rotas {
        let mut alvos: Vec<String> = nomes_hostis(prefix, ext, &root)
            .into_iter()
            .map(|n| format!("{rota}{n}"))
            .collect();
        // Raw path segments (the server sees them unnormalised).
        alvos.push(format!("{rota}../segredo.txt"));
        alvos.push(format!("{rota}../../../../etc/passwd"));
        alvos.push(format!("{rota}/etc/passwd"));
        alvos.push(format!("{rota}%2e%2e/segredo.txt"));
        alvos.push(format!("{rota}sub/{prefix}_20260131_140509.{ext}"));
        for alvo in alvos {
            let (status, body) = raw_request(&srv, method, &alvo).await;
            if status != 404 || body.contains(SEGREDO) || body.contains("root:") {
                falhas.push(format!(
                    "{method} {alvo} → {status} {}",
                    body.chars().take(120).collect::<String>()
                ));
            }
        }
        // A raw backslash is not a legal request-target character: 400 or 404, never served.
        for alvo in [
            format!("{rota}..\\segredo.txt"),
            format!("{rota}..\\..\\..\\etc\\passwd"),
        ] {
            let (status, body) = raw_request(&srv, method, &alvo).await;
            if !(status == 400 || status == 404) || body.contains(SEGREDO) {
                falhas.push(format!("{method} {alvo} → {status} {body}"));
            }
        }
    }
    assert!(
        falhas.is_empty(),
        "served or mis-answered:\n{}",
        falhas.join("\n")
    );

    // The listings show only exact names.
    assert_eq!(listar(&srv, "/backup/").await, [real]);
    assert_eq!(listar(&srv, "/relatorios/").await, [real_rel]);
}

#[tokio::test]
async fn a_folder_named_like_a_backup_or_report_is_404_not_500() {
    let srv = TestServer::start();
    std::fs::create_dir_all(backup_dir(&srv).join("backup_20260131_140509.zip")).expect("mkdir");
    std::fs::create_dir_all(reports_dir(&srv).join("relatorio_20260131_140509.pdf"))
        .expect("mkdir");
    for (method, alvo) in [
        ("GET", "/backup/download/backup_20260131_140509.zip"),
        ("POST", "/backup/restaurar/backup_20260131_140509.zip"),
        ("GET", "/relatorios/download/relatorio_20260131_140509.pdf"),
    ] {
        let (status, body) = raw_request(&srv, method, alvo).await;
        assert_eq!(status, 404, "{method} {alvo}: {body}");
    }
    // A listing names only files that download.
    assert_eq!(listar(&srv, "/backup/").await, Vec::<String>::new());
    assert_eq!(listar(&srv, "/relatorios/").await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Automatic backups and retention
// ---------------------------------------------------------------------------------------------

/// Rewrites the manifest of every automatic backup in `dir` as taken `horas` hours ago.
fn envelhecer_automaticos(dir: &Path, horas: i64) {
    let quando = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(horas))
        .expect("timestamp");
    for e in std::fs::read_dir(dir).expect("backup folder") {
        let path = e.expect("entry").path();
        if path.extension().is_none_or(|x| x != "zip") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read zip");
        let mut zip = ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let mut saida = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let mut automatico = false;
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).expect("entry");
            let nome = f.name().expect("entry name").to_string();
            let mut conteudo = Vec::new();
            f.read_to_end(&mut conteudo).expect("read entry");
            if nome == "manifest.json" {
                let mut m: Value = serde_json::from_slice(&conteudo).expect("manifest");
                automatico = m["tipo"] == "automatico";
                m["criado_em"] = json!(quando.to_string());
                conteudo = serde_json::to_vec(&m).expect("json");
            }
            saida
                .start_file(nome, zip::write::SimpleFileOptions::default())
                .expect("start file");
            saida.write_all(&conteudo).expect("write entry");
        }
        if automatico {
            let novo = saida.finish().expect("finish").into_inner();
            std::fs::write(&path, novo).expect("write zip");
        }
    }
}

/// A clinic's PC switched off every night never ran 24 hours in a row: the first automatic
/// backup after a start comes when the interval has passed since the newest one, not one
/// whole interval after the start.
#[tokio::test]
async fn an_overdue_automatic_backup_runs_soon_after_a_start() {
    let mut srv = TestServer::start_with(&["--backup-interval-secs", "1"]);
    popular(&srv).await;
    let automaticos = |ts: &[Value]| {
        ts.iter()
            .filter(|t| t["parametros"]["tipo"] == "automatico" && t["status"] == "concluida")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while automaticos(&all_tasks(&srv, "tipo=backup").await) == 0 {
        assert!(Instant::now() < deadline, "no automatic backup after 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(srv.stop().success());
    srv.restart_with(&["--backup-interval-secs", "0"]); // to read the tasks, no timer
    wait_all_tasks_final(&srv, TASK_TIMEOUT).await;
    let antes = automaticos(&all_tasks(&srv, "tipo=backup").await);
    assert!(srv.stop().success());
    let backups = srv.data_dir().with_file_name("backups");
    envelhecer_automaticos(&backups, 25);
    srv.restart_with(&[]); // the default interval: 24 hours

    let deadline = Instant::now() + Duration::from_secs(20);
    while automaticos(&all_tasks(&srv, "tipo=backup").await) == antes {
        assert!(
            Instant::now() < deadline,
            "the overdue automatic backup did not run within 20 s of the start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn automatic_backups_keep_only_the_newest_n_automatic_ones_and_never_prune_manual_ones() {
    let mut srv = TestServer::start_with(&["--backup-interval-secs", "1", "--backup-keep", "2"]);
    popular(&srv).await;
    let (_, manual) = fazer_backup(&srv, "/backup/executar").await;

    // Bounded wait for at least four finished automatic backups.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let feitos = all_tasks(&srv, "tipo=backup")
            .await
            .into_iter()
            .filter(|t| t["parametros"]["tipo"] == "automatico" && t["status"] == "concluida")
            .count();
        if feitos >= 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {feitos} automatic backups after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Stop the timer (a graceful stop finishes the running backup and its retention), then
    // look without it.
    let status = srv.stop();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    srv.restart_with(&[]);

    // A backup queued just before the stop runs now.
    wait_all_tasks_final(&srv, TASK_TIMEOUT).await;
    let tarefas = all_tasks(&srv, "tipo=backup").await;
    assert!(
        tarefas.iter().all(|t| t["status"] == "concluida"),
        "every backup task finished: {tarefas:#?}"
    );
    // Newest first (the listing order of /sistema/tasks).
    let automaticos: Vec<String> = tarefas
        .iter()
        .filter(|t| t["parametros"]["tipo"] == "automatico")
        .map(|t| str_field(&t["resultado"], "arquivo"))
        .collect();
    assert!(automaticos.len() >= 4, "{automaticos:?}");

    let lista = listar(&srv, "/backup/").await;
    let mut tipos = BTreeMap::new();
    for nome in &lista {
        let (_, m) = conteudo_backup(&srv, nome).await;
        tipos.insert(nome.clone(), str_field(&m, "tipo"));
    }
    let restantes: Vec<&String> = lista.iter().filter(|n| tipos[*n] == "automatico").collect();
    assert_eq!(
        restantes,
        automaticos.iter().take(2).collect::<Vec<_>>(),
        "only the newest two automatic backups remain (listing {lista:?}, made {automaticos:?})"
    );
    assert!(
        lista.contains(&manual),
        "the manual backup stays: {lista:?}"
    );
    assert_eq!(tipos[&manual], "manual");
    assert_eq!(lista.len(), 3, "{lista:?} {tipos:?}");
    for velho in automaticos.iter().skip(2) {
        assert!(
            !backup_dir(&srv).join(velho).exists(),
            "{velho} should have been pruned"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Listing order
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_backup_listing_is_newest_first_and_shows_only_backup_names() {
    let srv = TestServer::start();
    let mut feitos = Vec::new();
    for _ in 0..3 {
        feitos.push(fazer_backup(&srv, "/backup/executar").await.1);
    }
    let dir = backup_dir(&srv);
    for nome in [
        "backup_20200101_000000.zip",
        "backup_20200101_000000_2.zip",
        "backup_20200101_000000_10.zip",
        "backup_29991231_235959.zip",
        "nota.txt",
        ".backup-tmp.tmp",
        "relatorio_20260101_000000.pdf",
    ] {
        std::fs::write(dir.join(nome), b"x").expect("plant");
    }
    let mut esperado = vec!["backup_29991231_235959.zip".to_string()];
    esperado.extend(feitos.iter().rev().cloned());
    esperado.extend([
        "backup_20200101_000000_10.zip".to_string(),
        "backup_20200101_000000_2.zip".to_string(),
        "backup_20200101_000000.zip".to_string(),
    ]);
    assert_eq!(listar(&srv, "/backup/").await, esperado);
}
