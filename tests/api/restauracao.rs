//! Restore hardening (issue 8): writes acknowledged while a restore runs are never lost,
//! archives whose records break the API's rules are refused, the manifest and the members
//! must match exactly, ZIP bombs are refused without inflating them into memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::backups::*;
use crate::helpers::*;
use crate::sched_helpers::*;

/// The ids in a data file of an archive.
fn ids_no_arquivo(entries: &BTreeMap<String, Vec<u8>>, arquivo: &str) -> BTreeSet<String> {
    let v: Value = serde_json::from_slice(&entries[arquivo]).expect("data file is JSON");
    v["registros"]
        .as_array()
        .expect("registros")
        .iter()
        .map(|r| str_field(r, "id"))
        .collect()
}

/// Every id `GET /pacientes` lists.
async fn pacientes_vivos(srv: &TestServer) -> BTreeSet<String> {
    let r = srv.get("/pacientes").await;
    r.expect_status(200);
    r.array().iter().map(|p| str_field(p, "id")).collect()
}

#[tokio::test]
async fn every_write_acknowledged_during_a_restore_is_live_or_in_its_safety_backup() {
    let srv = Arc::new(TestServer::start());
    popular(&srv).await;
    // Enough data that writing the safety backup takes a while.
    let mut lote = Vec::new();
    for i in 0..150u64 {
        lote.push(srv.client.post(srv.url("/pacientes")).json(&paciente_body(
            &format!("Paciente de Carga {i}"),
            10_000 + i,
        )));
    }
    assert_eq!(count_status(&send_all(lote).await, 201), 150);
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;

    let mut perdidos = Vec::new();
    for rodada in 0..3u64 {
        let parar = Arc::new(AtomicBool::new(false));
        let mut escritores = Vec::new();
        for w in 0..3u64 {
            let (srv, parar) = (srv.clone(), parar.clone());
            escritores.push(tokio::spawn(async move {
                let mut criados = Vec::new();
                let mut i = 0u64;
                while !parar.load(Ordering::Acquire) {
                    let seed = 100_000 + rodada * 100_000 + w * 10_000 + i;
                    i += 1;
                    let r = srv
                        .post("/pacientes", &paciente_body("Escrita Concorrente", seed))
                        .await;
                    if r.status == 201 {
                        criados.push(r.id());
                    }
                }
                criados
            }));
        }
        // Let the writers get going before the restore starts.
        while pacientes_vivos(&srv).await.len() < 160 + rodada as usize * 3 {
            tokio::task::yield_now().await;
        }
        let r = post_vazio(&srv, &format!("/backup/restaurar/{nome}")).await;
        r.expect_status(200);
        let seguranca = str_field(&r.body, "backup_seguranca");
        parar.store(true, Ordering::Release);
        let mut criados = Vec::new();
        for e in escritores {
            criados.extend(e.await.expect("writer"));
        }
        let (entries, _) = conteudo_backup(&srv, &seguranca).await;
        let na_seguranca = ids_no_arquivo(&entries, "pacientes.json");
        let vivos = pacientes_vivos(&srv).await;
        perdidos.extend(
            criados
                .iter()
                .filter(|id| !vivos.contains(*id) && !na_seguranca.contains(*id))
                .map(|id| format!("round {rodada}: {id}")),
        );
    }
    assert!(
        perdidos.is_empty(),
        "patients answered 201 but in neither the live data nor the safety backup: {perdidos:?}"
    );
}

/// `entries` with collection `colecao` edited by `editar`, its manifest entry (bytes, sha256)
/// and count updated to match: a coherent archive with the given records.
fn com_registros(
    entries: &BTreeMap<String, Vec<u8>>,
    colecao: &str,
    editar: impl FnOnce(&mut Vec<Value>),
) -> Vec<u8> {
    let arquivo = format!("{colecao}.json");
    let mut file: Value = serde_json::from_slice(&entries[&arquivo]).expect("data file");
    let mut regs = file["registros"].as_array().expect("registros").clone();
    editar(&mut regs);
    let n = regs.len();
    file["registros"] = Value::Array(regs);
    let novo = serde_json::to_vec_pretty(&file).expect("json");
    let mut m: Value = serde_json::from_slice(&entries["manifest.json"]).expect("manifest");
    for a in m["arquivos"].as_array_mut().expect("arquivos") {
        if a["nome"] == json!(arquivo) {
            a["bytes"] = json!(novo.len());
            a["sha256"] = json!(hex::encode(Sha256::digest(&novo)));
        }
    }
    m["contagens"][colecao] = json!(n);
    let mut e = entries.clone();
    e.insert(arquivo, novo);
    e.insert(
        "manifest.json".into(),
        serde_json::to_vec_pretty(&m).expect("manifest"),
    );
    zip_de(&e)
}

fn zip_de(e: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let v: Vec<(&str, &[u8])> = e.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    montar_zip(&v)
}

/// Plants each archive under its own valid name, restores each, and collects every one not
/// answered 422 `backup_invalido` or that changed the data or the backup folder.
async fn todos_recusados(srv: &TestServer, casos: &[(&str, Vec<u8>)]) -> Vec<String> {
    let dir = backup_dir(srv);
    for (i, (_, bytes)) in casos.iter().enumerate() {
        std::fs::write(dir.join(format!("backup_20200202_0000{i:02}.zip")), bytes)
            .expect("plant archive");
    }
    let antes = estado(srv).await;
    let lista_antes = listar(srv, "/backup/").await;
    let mut falhas = Vec::new();
    for (i, (caso, _)) in casos.iter().enumerate() {
        let r = post_vazio(
            srv,
            &format!("/backup/restaurar/backup_20200202_0000{i:02}.zip"),
        )
        .await;
        if r.status != 422 || r.body["code"] != "backup_invalido" {
            falhas.push(format!("{caso}: {} {}", r.status, r.text));
            continue;
        }
        assert_problem(&r, 422, "backup_invalido");
        if estado(srv).await != antes {
            falhas.push(format!("{caso}: the data changed"));
        }
        if listar(srv, "/backup/").await != lista_antes {
            falhas.push(format!("{caso}: the backup folder changed"));
        }
    }
    falhas
}

fn consulta_futura(regs: &[Value]) -> usize {
    let hoje = today_in("America/Sao_Paulo").to_string();
    regs.iter()
        .position(|c| {
            str_field(c, "inicio") > hoje
                && matches!(str_field(c, "status").as_str(), "agendada" | "confirmada")
        })
        .expect("popular has a future active appointment")
}

#[tokio::test]
async fn archives_whose_records_break_the_rules_are_refused_with_422_and_change_nothing() {
    let srv = TestServer::start();
    popular(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, _) = conteudo_backup(&srv, &nome).await;
    criar_paciente(&srv, "Só no Estado Atual", 77).await;
    let desconhecido = unknown_id();

    let casos: Vec<(&str, Vec<u8>)> = vec![
        (
            "two overlapping appointments of one doctor",
            com_registros(&entries, "consultas", |r| {
                let i = consulta_futura(r);
                let mut c = r[i].clone();
                c["id"] = json!(unknown_id());
                r.push(c);
            }),
        ),
        (
            "a 48-hour appointment",
            com_registros(&entries, "consultas", |r| {
                let i = consulta_futura(r);
                let inicio: jiff::civil::DateTime =
                    str_field(&r[i], "inicio").parse().expect("inicio");
                let fim = inicio
                    .checked_add(jiff::Span::new().hours(48))
                    .expect("fim");
                r[i]["fim"] = json!(fim.strftime("%Y-%m-%dT%H:%M:%S").to_string());
            }),
        ),
        (
            "inicio after fim",
            com_registros(&entries, "consultas", |r| {
                let i = consulta_futura(r);
                let (a, b) = (r[i]["inicio"].clone(), r[i]["fim"].clone());
                r[i]["inicio"] = b;
                r[i]["fim"] = a;
            }),
        ),
        (
            "a future active appointment of a doctor that does not exist",
            com_registros(&entries, "consultas", |r| {
                let i = consulta_futura(r);
                r[i]["medico_id"] = json!(desconhecido);
            }),
        ),
        (
            "a future active appointment of a patient that does not exist",
            com_registros(&entries, "consultas", |r| {
                let i = consulta_futura(r);
                r[i]["paciente_id"] = json!(desconhecido);
            }),
        ),
        (
            "a horário of a doctor that does not exist",
            com_registros(&entries, "horarios", |r| {
                r[0]["medico_id"] = json!(desconhecido);
            }),
        ),
        (
            "two patients with one CPF",
            com_registros(&entries, "pacientes", |r| {
                r[1]["cpf"] = r[0]["cpf"].clone();
            }),
        ),
        (
            "an invalid CPF",
            com_registros(&entries, "pacientes", |r| {
                r[0]["cpf"] = json!("12345678900");
            }),
        ),
        (
            "a 5,000-character name",
            com_registros(&entries, "pacientes", |r| {
                r[0]["nome"] = json!("a".repeat(5000));
            }),
        ),
        (
            "two doctors with one CRM",
            com_registros(&entries, "medicos", |r| {
                r[1]["crm"] = r[0]["crm"].clone();
            }),
        ),
        (
            "overlapping horários of one doctor",
            com_registros(&entries, "horarios", |r| {
                let mut h = r[0].clone();
                h["id"] = json!(unknown_id());
                r.push(h);
            }),
        ),
        (
            "two records with one id",
            com_registros(&entries, "pacientes", |r| {
                let mut p = r[0].clone();
                p["cpf"] = json!(cpf(999));
                r.push(p);
            }),
        ),
        ("a data file of an unknown format version", {
            let mut e = entries.clone();
            let mut f: Value = serde_json::from_slice(&e["medicos.json"]).expect("json");
            f["versao"] = json!(99);
            let novo = serde_json::to_vec(&f).expect("json");
            let mut m: Value = serde_json::from_slice(&e["manifest.json"]).expect("manifest");
            for a in m["arquivos"].as_array_mut().expect("arquivos") {
                if a["nome"] == "medicos.json" {
                    a["bytes"] = json!(novo.len());
                    a["sha256"] = json!(hex::encode(Sha256::digest(&novo)));
                }
            }
            e.insert("medicos.json".into(), novo);
            e.insert(
                "manifest.json".into(),
                serde_json::to_vec(&m).expect("json"),
            );
            zip_de(&e)
        }),
    ];
    let falhas = todos_recusados(&srv, &casos).await;
    assert!(
        falhas.is_empty(),
        "archives breaking the rules were not refused:\n{}",
        falhas.join("\n")
    );

    // The answer names the problem.
    let r = post_vazio(&srv, "/backup/restaurar/backup_20200202_000001.zip").await;
    let detail = str_field(&r.body, "detail");
    assert!(detail.contains("24 horas"), "{detail}");
}

#[tokio::test]
async fn the_manifest_and_the_members_must_match_exactly() {
    let srv = TestServer::start();
    popular(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, manifest) = conteudo_backup(&srv, &nome).await;
    let casos: Vec<(&str, Vec<u8>)> = vec![
        ("a member the manifest does not name", {
            let mut e = entries.clone();
            e.insert("extra.txt".into(), b"surprise".to_vec());
            zip_de(&e)
        }),
        ("the manifest names a file that is not in the archive", {
            let mut e = entries.clone();
            let mut m = manifest.clone();
            m["arquivos"].as_array_mut().expect("arquivos").push(json!({
                "nome": "reservas.json", "bytes": 2, "sha256": hex::encode(Sha256::digest(b"[]"))
            }));
            e.insert(
                "manifest.json".into(),
                serde_json::to_vec(&m).expect("json"),
            );
            zip_de(&e)
        }),
        ("the manifest names a data file twice", {
            let mut e = entries.clone();
            let mut m = manifest.clone();
            let a = m["arquivos"][0].clone();
            m["arquivos"].as_array_mut().expect("arquivos").push(a);
            e.insert(
                "manifest.json".into(),
                serde_json::to_vec(&m).expect("json"),
            );
            zip_de(&e)
        }),
    ];
    let falhas = todos_recusados(&srv, &casos).await;
    assert!(
        falhas.is_empty(),
        "mismatched archives were not refused:\n{}",
        falhas.join("\n")
    );
    restaurar_ok_simples(&srv, &nome).await;
}

async fn restaurar_ok_simples(srv: &TestServer, nome: &str) -> Value {
    let r = post_vazio(srv, &format!("/backup/restaurar/{nome}")).await;
    r.expect_status(200);
    r.body
}

#[tokio::test]
async fn the_history_of_a_deleted_patient_and_doctor_restores() {
    let srv = TestServer::start();
    let (p, m) = paciente_e_medico(&srv).await;
    criar_consulta(&srv, &p, &m, "2025-03-10T08:00:00", "2025-03-10T08:30:00").await;
    srv.delete(&format!("/pacientes/{p}"))
        .await
        .expect_status(204);
    srv.delete(&format!("/medicos/{m}"))
        .await
        .expect_status(204);
    let antes = estado(&srv).await;
    assert_eq!(antes["consultas"].as_array().expect("list").len(), 1);
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    criar_paciente(&srv, "Depois do Backup", 5).await;
    restaurar_ok_simples(&srv, &nome).await;
    assert_eq!(estado(&srv).await, antes);
}

// ---------------------------------------------------------------------------------------------
// ZIP bombs
// ---------------------------------------------------------------------------------------------

/// CRC-32 (IEEE), bit by bit: only for the small entries of a hand-made ZIP.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A raw DEFLATE stream (one fixed-Huffman block) that inflates to `1 + 258 * matches`
/// zero bytes: a literal 0, then back-references of length 258 at distance 1.
fn deflate_zeros(matches: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// Appends the low `len` bits of `v`, least significant first (DEFLATE's order).
        fn put(&mut self, v: u64, len: u32) {
            self.acc |= v << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// Appends a Huffman code, most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            let mut rev = 0;
            for i in 0..len {
                rev |= ((code >> i) & 1) << (len - 1 - i);
            }
            self.put(rev, len);
        }
    }
    let mut b = Bits {
        out: Vec::new(),
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // BTYPE = fixed Huffman
    b.code(0x30, 8); // literal 0
    for _ in 0..matches {
        b.code(0xC5, 8); // length 258 (code 285)
        b.code(0, 5); // distance 1
    }
    b.code(0, 7); // end of block
    b.put(0, 7); // flush
    b.out
}

/// A ZIP written by hand: (name, method, crc, declared size, data as stored).
fn zip_a_mao(entries: &[(&str, u16, u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (nome, method, crc, size, data) in entries {
        let offset = out.len() as u32;
        let header = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend(sig.to_le_bytes());
            if central {
                h.extend(20u16.to_le_bytes());
            }
            h.extend(20u16.to_le_bytes());
            h.extend(0u16.to_le_bytes());
            h.extend(method.to_le_bytes());
            h.extend(0u16.to_le_bytes());
            h.extend(0x21u16.to_le_bytes());
            h.extend(crc.to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend(size.to_le_bytes());
            h.extend((nome.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes());
            if central {
                h.extend([0u8; 8]); // comment length, disk, internal and external attributes
                h.extend([0u8; 2]);
                h.extend(offset.to_le_bytes());
            }
            h.extend(nome.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend(data);
        central.extend(header(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// The server's peak resident memory (VmHWM), in MiB.
fn pico_mib(srv: &TestServer) -> u64 {
    let pid = srv.pid().expect("server runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb / 1024
}

#[tokio::test]
async fn zip_bombs_are_refused_without_inflating_them_into_memory() {
    let srv = TestServer::start();
    popular(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, manifest) = conteudo_backup(&srv, &nome).await;
    // 300 MiB of zeros in about 2 MB.
    let matches = (300u64 << 20) / 258;
    let inflado = 1 + 258 * matches;
    let bomba = deflate_zeros(matches);
    let com_bomba = |declarado: u64| {
        let mut m = manifest.clone();
        for a in m["arquivos"].as_array_mut().expect("arquivos") {
            if a["nome"] == "pacientes.json" {
                a["bytes"] = json!(declarado);
            }
        }
        let m = serde_json::to_vec(&m).expect("json");
        let mut list: Vec<(&str, u16, u32, u32, Vec<u8>)> = Vec::new();
        for (n, bytes) in &entries {
            match n.as_str() {
                "pacientes.json" => list.push((n, 8, 0, declarado as u32, bomba.clone())),
                "manifest.json" => list.push((n, 0, crc32(&m), m.len() as u32, m.clone())),
                _ => list.push((n, 0, crc32(bytes), bytes.len() as u32, bytes.clone())),
            }
        }
        zip_a_mao(&list)
    };
    let dir = backup_dir(&srv);
    let honesta = "backup_20200303_000001.zip";
    let mentirosa = "backup_20200303_000002.zip";
    std::fs::write(dir.join(honesta), com_bomba(inflado)).expect("plant");
    std::fs::write(dir.join(mentirosa), com_bomba(1000)).expect("plant");
    let antes = pico_mib(&srv);
    let pedidos: Vec<_> = [honesta, mentirosa, honesta, mentirosa]
        .iter()
        .map(|n| srv.client.post(srv.url(&format!("/backup/restaurar/{n}"))))
        .collect();
    let statuses = send_all(pedidos).await;
    for (s, n) in statuses
        .iter()
        .zip([honesta, mentirosa, honesta, mentirosa])
    {
        assert!(*s == 422 || *s == 409, "{n}: {s}");
    }
    // Each refused alone, too, with the reason.
    for n in [honesta, mentirosa] {
        let r = post_vazio(&srv, &format!("/backup/restaurar/{n}")).await;
        assert_problem(&r, 422, "backup_invalido");
    }
    let depois = pico_mib(&srv);
    assert!(
        depois < antes + 100,
        "peak memory grew from {antes} MiB to {depois} MiB while refusing ZIP bombs"
    );
}

// ---------------------------------------------------------------------------------------------
// Upload, safety backup retention, temporary files, timeouts
// ---------------------------------------------------------------------------------------------

/// POST /backup/enviar with `bytes` as `content_type`.
async fn enviar(srv: &TestServer, bytes: Vec<u8>, content_type: &str) -> Resp {
    read(
        srv.client
            .post(srv.url("/backup/enviar"))
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("POST /backup/enviar"),
    )
    .await
}

/// The names in the backup folder, temporary files included.
fn pasta(srv: &TestServer) -> BTreeSet<String> {
    std::fs::read_dir(backup_dir(srv))
        .expect("backup dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8"))
        .collect()
}

#[tokio::test]
async fn a_backup_uploaded_to_a_new_machine_is_validated_stored_and_restorable() {
    let origem = TestServer::start();
    popular(&origem).await;
    let (_, nome) = fazer_backup(&origem, "/backup/executar").await;
    let zip = baixar(&origem, &format!("/backup/download/{nome}"))
        .await
        .bytes;
    let esperado = estado(&origem).await;

    // A body limit far below the archive's size: the upload has its own.
    let destino = TestServer::start_with(&["--body-limit-bytes", "1024"]);
    assert!(zip.len() > 1024);
    criar_paciente(&destino, "Da Máquina Nova", 3).await;

    // Refused without storing anything: not a ZIP body, a bad archive, a too-large one.
    let antes = pasta(&destino);
    let r = enviar(&destino, zip.clone(), "application/json").await;
    assert_problem(&r, 415, "unsupported_media_type");
    let r = enviar(&destino, zip[..zip.len() / 2].to_vec(), "application/zip").await;
    assert_problem(&r, 422, "backup_invalido");
    let (entries, _) = conteudo_backup(&origem, &nome).await;
    let quebrado = com_registros(&entries, "pacientes", |r| {
        r[0]["nome"] = json!("a".repeat(5000));
    });
    let r = enviar(&destino, quebrado, "application/zip").await;
    assert_problem(&r, 422, "backup_invalido");
    assert_eq!(
        pasta(&destino),
        antes,
        "nothing stored, no temporary file left"
    );

    let doc = destino.get("/openapi.json").await;
    assert!(
        doc.body["paths"]["/backup/enviar"]["post"].is_object(),
        "the upload is in the OpenAPI document"
    );
    let r = enviar(&destino, zip.clone(), "application/zip").await;
    r.expect_status(201);
    let arquivo = str_field(&r.body, "arquivo");
    assert!(nome_no_padrao(&arquivo, "backup", "zip"), "{arquivo}");
    assert_eq!(r.body["contagens"], contagens_de(&esperado), "{}", r.text);
    assert_eq!(listar(&destino, "/backup/").await, vec![arquivo.clone()]);
    assert_eq!(
        std::fs::read(backup_dir(&destino).join(&arquivo)).expect("stored"),
        zip,
        "stored as sent"
    );
    restaurar_ok_simples(&destino, &arquivo).await;
    assert_eq!(estado(&destino).await, esperado);

    let pequeno = TestServer::start_with(&["--backup-upload-max-bytes", "1000"]);
    let antes = pasta(&pequeno);
    let r = enviar(&pequeno, zip, "application/zip").await;
    assert_problem(&r, 413, "payload_too_large");
    assert_eq!(
        pasta(&pequeno),
        antes,
        "nothing stored, no temporary file left"
    );
}

fn contagens_de(estado: &Value) -> Value {
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
async fn only_the_newest_safety_backups_are_kept() {
    let srv = TestServer::start_with(&["--backup-keep", "2"]);
    popular(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let mut segurancas = Vec::new();
    for _ in 0..4 {
        let r = restaurar_ok_simples(&srv, &nome).await;
        segurancas.push(str_field(&r, "backup_seguranca"));
    }
    let lista = listar(&srv, "/backup/").await;
    let mantidas: Vec<&String> = segurancas.iter().rev().take(2).collect();
    for s in &segurancas {
        assert_eq!(
            lista.contains(s),
            mantidas.contains(&s),
            "{s} in {lista:?} (kept: {mantidas:?})"
        );
    }
    assert!(lista.contains(&nome), "the manual backup stays: {lista:?}");
}

#[tokio::test]
async fn temporary_files_left_by_a_crash_are_swept_at_start() {
    let mut srv = TestServer::start();
    srv.kill9();
    let b = backup_dir(&srv);
    let r = reports_dir(&srv);
    let restos = [
        b.join(".backup-0195.tmp"),
        b.join(".upload-0195.tmp"),
        r.join(".relatorio-0195.tmp"),
    ];
    for p in &restos {
        std::fs::write(p, b"half a file").expect("plant");
    }
    let alheios = [b.join("nota.txt"), r.join(".outro.tmp")];
    for p in &alheios {
        std::fs::write(p, b"not ours").expect("plant");
    }
    srv.restart();
    for p in &restos {
        assert!(!p.exists(), "{} swept", p.display());
    }
    for p in &alheios {
        assert!(p.exists(), "{} kept", p.display());
    }
}

#[tokio::test]
async fn a_restore_longer_than_the_request_timeout_answers_what_happened() {
    let srv = TestServer::start_with(&["--request-timeout-secs", "1"]);
    popular(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, _) = conteudo_backup(&srv, &nome).await;
    // Enough patients that validating and switching take well over a second.
    let grande = com_registros(&entries, "pacientes", |r| {
        let modelo = r[0].clone();
        for i in 0..50_000u64 {
            let mut p = modelo.clone();
            p["id"] = json!(format!("p-{i:06}"));
            p["cpf"] = json!(cpf(500_000 + i));
            r.push(p);
        }
    });
    std::fs::write(backup_dir(&srv).join("backup_20200404_000000.zip"), grande).expect("plant");
    let inicio = std::time::Instant::now();
    let r = post_vazio(&srv, "/backup/restaurar/backup_20200404_000000.zip").await;
    let levou = inicio.elapsed();
    assert!(
        levou > std::time::Duration::from_millis(1500),
        "the restore must outlast the timeout for this test to mean anything ({levou:?})"
    );
    r.expect_status(200);
    assert_eq!(
        r.body["contagens"]["pacientes"],
        json!(50_003),
        "{}",
        r.text
    );
    assert_eq!(srv.count("/pacientes").await, 50_003);
}

#[tokio::test]
async fn a_queued_backup_restores_even_if_a_patient_was_deleted_before_it_ran() {
    let mut srv = TestServer::start_with(&["--worker-paused"]);
    let (p, m) = paciente_e_medico(&srv).await;
    let r = post_vazio(&srv, "/backup/executar").await;
    r.expect_status(202);
    let task_id = str_field(&r.body, "task_id");
    // Queued at T0; an appointment that ends a little after T0, and the patient deleted
    // once it is over, before the worker copies the data.
    let tz = jiff::tz::TimeZone::get("America/Sao_Paulo").expect("tz");
    let agora = jiff::Timestamp::now().to_zoned(tz.clone()).datetime();
    let fim = agora
        .checked_add(jiff::SignedDuration::from_secs(2))
        .expect("fim");
    let inicio = agora
        .checked_sub(jiff::SignedDuration::from_mins(30))
        .expect("inicio");
    let fmt = |d: jiff::civil::DateTime| d.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    criar_consulta(&srv, &p, &m, &fmt(inicio), &fmt(fim)).await;
    while jiff::Timestamp::now().to_zoned(tz.clone()).datetime() <= fim {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    srv.delete(&format!("/pacientes/{p}"))
        .await
        .expect_status(204);
    let antes = estado(&srv).await;
    srv.stop();
    srv.restart_with(&[]);
    let t = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(t["status"], "concluida", "{t}");
    let nome = str_field(&t["resultado"], "arquivo");
    criar_paciente(&srv, "Depois do Backup", 5).await;
    restaurar_ok_simples(&srv, &nome).await;
    assert_eq!(estado(&srv).await, antes);
}

#[tokio::test]
async fn every_value_the_api_stores_restores_even_a_blank_convenio() {
    let srv = TestServer::start();
    let mut body = paciente_body("Convênio em Branco", 41);
    body["convenio"] = json!("   ");
    body["telefone"] = json!("(11) 98765-4321");
    body["email"] = json!("conv@exemplo.com.br");
    srv.post("/pacientes", &body).await.expect_status(201);
    let antes = estado(&srv).await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    criar_paciente(&srv, "Depois do Backup", 5).await;
    restaurar_ok_simples(&srv, &nome).await;
    assert_eq!(estado(&srv).await, antes);
}

/// SPEC-2 §10: a restore keeps users (they are not in backups), and no password hash is in
/// a backup's JSON.
#[tokio::test]
async fn a_restore_keeps_users_and_backups_hold_no_password_hash() {
    let srv = TestServer::start();
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let u = srv
        .post(
            "/usuarios",
            &json!({"nome": "Depois", "email": "depois@clinica.example",
                    "papel": "recepcao", "senha": "senha-longa-1"}),
        )
        .await;
    u.expect_status(201);
    let (_, segundo) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, _) = conteudo_backup(&srv, &segundo).await;
    for (arquivo, bytes) in &entries {
        let texto = String::from_utf8_lossy(bytes);
        assert!(!texto.contains("argon2"), "{arquivo} holds a password hash");
        assert!(
            !texto.contains("depois@clinica.example"),
            "{arquivo} holds a user"
        );
    }
    restaurar_ok_simples(&srv, &nome).await;
    let lista = srv.get("/usuarios").await;
    lista.expect_status(200);
    assert_eq!(
        lista.body[0]["email"], "depois@clinica.example",
        "kept through the restore"
    );
}

/// A restore keeps the server's webhooks as they are; one only the archive has (deleted
/// since, say because its receiver was compromised) comes back turned off, never receiving
/// patients' data again unseen.
#[tokio::test]
async fn a_restore_keeps_the_webhooks_and_brings_a_deleted_one_back_turned_off() {
    let srv = TestServer::start();
    let criar = |url: &'static str| {
        let srv = &srv;
        async move {
            let r = srv
                .post(
                    "/webhooks",
                    &json!({"url": url, "eventos": ["consulta.agendada"]}),
                )
                .await;
            r.expect_status(201);
            str_field(&r.body, "id")
        }
    };
    let apagado = criar("https://exemplo.com/comprometido").await;
    let mantido = criar("https://exemplo.com/gancho").await;
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    srv.delete(&format!("/webhooks/{apagado}"))
        .await
        .expect_status(204);
    srv.put(
        &format!("/webhooks/{mantido}"),
        &json!({"url": "https://exemplo.com/novo"}),
    )
    .await
    .expect_status(200);
    let novo = criar("https://exemplo.com/depois").await;
    restaurar_ok_simples(&srv, &nome).await;
    let w = |id: String| {
        let srv = &srv;
        async move {
            let r = srv.get(&format!("/webhooks/{id}")).await;
            r.expect_status(200);
            r.body
        }
    };
    let a = w(apagado).await;
    assert_eq!(a["ativo"], false, "{a}");
    assert_eq!(a["url"], "https://exemplo.com/comprometido");
    let m = w(mantido).await;
    assert_eq!(
        m["url"], "https://exemplo.com/novo",
        "kept as the server had it: {m}"
    );
    assert_eq!(m["ativo"], true);
    assert_eq!(w(novo).await["ativo"], true, "made after the backup, kept");
}

/// SPEC-2 §10: a restore keeps the audit trail (not in backups) and records itself in it.
#[tokio::test]
async fn a_restore_keeps_the_audit_trail_and_records_itself() {
    let srv = TestServer::start();
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let p = criar_paciente(&srv, "Depois do Backup", 71).await;
    let pid = str_field(&p, "id");
    let antes = srv.get("/sistema/auditoria").await;
    antes.expect_status(200);
    assert!(
        antes
            .array()
            .iter()
            .any(|e| e["acao"] == "criar" && e["recurso_id"] == pid.as_str()),
        "{}",
        antes.text
    );
    restaurar_ok_simples(&srv, &nome).await;
    let depois = srv.get("/sistema/auditoria").await;
    depois.expect_status(200);
    let d = depois.array();
    assert_eq!(d[0]["acao"], "restaurar", "{}", depois.text);
    assert_eq!(d[0]["recurso_id"], nome.as_str());
    assert_eq!(
        &d[1..],
        &antes.array()[..],
        "the trail before the restore, kept"
    );
}

/// SPEC-2 §11: blocks and the doctors' grid fields travel in backups; a block breaking the
/// API's rules is refused; an archive made before blocks existed (no `bloqueios.json`)
/// restores with none, and its doctors show the default grid.
#[tokio::test]
async fn blocks_and_grid_fields_are_backed_up_checked_and_an_older_archive_restores() {
    let srv = TestServer::start();
    let d = popular(&srv).await;
    let med = d.medicos[0].clone();
    srv.put(
        &format!("/medicos/{med}"),
        &json!({"duracao_consulta_minutos": 45, "intervalo_minutos": 10}),
    )
    .await
    .expect_status(200);
    srv.post(
        "/bloqueios",
        &json!({"medico_id": med, "inicio": "2031-03-03T08:00:00", "fim": "2031-03-03T12:00:00", "motivo": "Congresso"}),
    )
    .await
    .expect_status(201);
    srv.post("/bloqueios/feriados", &json!({"ano": 2031}))
        .await
        .expect_status(201);
    let antes = estado(&srv).await;
    assert_eq!(antes["bloqueios"].as_array().map(Vec::len), Some(11));
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, manifest) = conteudo_backup(&srv, &nome).await;
    assert_eq!(manifest["contagens"]["bloqueios"], 11, "{manifest}");

    let depois = srv.get("/bloqueios?limit=1").await;
    let um = str_field(&depois.array()[0], "id");
    srv.delete(&format!("/bloqueios/{um}"))
        .await
        .expect_status(204);
    srv.put(
        &format!("/medicos/{med}"),
        &json!({"duracao_consulta_minutos": 20}),
    )
    .await
    .expect_status(200);
    restaurar_ok_simples(&srv, &nome).await;
    assert_eq!(estado(&srv).await, antes, "blocks and grid fields restored");

    let desconhecido = unknown_id();
    let casos: Vec<(&str, Vec<u8>)> = vec![
        (
            "a block of a doctor that does not exist",
            com_registros(&entries, "bloqueios", |r| {
                let i = r
                    .iter()
                    .position(|b| !b["medico_id"].is_null())
                    .expect("the doctor's block");
                r[i]["medico_id"] = json!(desconhecido);
            }),
        ),
        (
            "a block ending before it starts",
            com_registros(&entries, "bloqueios", |r| {
                let (a, b) = (r[0]["inicio"].clone(), r[0]["fim"].clone());
                r[0]["inicio"] = b;
                r[0]["fim"] = a;
            }),
        ),
        (
            "a block without a motivo",
            com_registros(&entries, "bloqueios", |r| {
                r[0]["motivo"] = json!("  ");
            }),
        ),
        (
            "a doctor with a 1-minute slot",
            com_registros(&entries, "medicos", |r| {
                r[0]["duracao_consulta_minutos"] = json!(1);
            }),
        ),
    ];
    let falhas = todos_recusados(&srv, &casos).await;
    assert!(falhas.is_empty(), "not refused:\n{}", falhas.join("\n"));

    // An archive from before blocks: no bloqueios.json, no count, no grid fields.
    let mut velho = entries.clone();
    velho.remove("bloqueios.json");
    let mut medicos: Value = serde_json::from_slice(&velho["medicos.json"]).expect("json");
    for m in medicos["registros"].as_array_mut().expect("registros") {
        let o = m.as_object_mut().expect("object");
        o.remove("duracao_consulta_minutos");
        o.remove("intervalo_minutos");
    }
    let novo_medicos = serde_json::to_vec_pretty(&medicos).expect("json");
    let mut m: Value = serde_json::from_slice(&velho["manifest.json"]).expect("manifest");
    m["contagens"]
        .as_object_mut()
        .expect("contagens")
        .remove("bloqueios");
    let arquivos = m["arquivos"].as_array_mut().expect("arquivos");
    arquivos.retain(|a| a["nome"] != "bloqueios.json");
    for a in arquivos.iter_mut() {
        if a["nome"] == "medicos.json" {
            a["bytes"] = json!(novo_medicos.len());
            a["sha256"] = json!(hex::encode(Sha256::digest(&novo_medicos)));
        }
    }
    velho.insert("medicos.json".into(), novo_medicos);
    velho.insert(
        "manifest.json".into(),
        serde_json::to_vec_pretty(&m).expect("json"),
    );
    std::fs::write(
        backup_dir(&srv).join("backup_20200303_000000.zip"),
        zip_de(&velho),
    )
    .expect("plant archive");
    restaurar_ok_simples(&srv, "backup_20200303_000000.zip").await;
    assert_eq!(srv.get("/bloqueios").await.array().len(), 0);
    let r = srv.get(&format!("/medicos/{med}")).await;
    assert_eq!(r.body["duracao_consulta_minutos"], 30, "{}", r.text);
    assert_eq!(r.body["intervalo_minutos"], 0, "{}", r.text);
}

/// SPEC-2 §12: insurance plans travel in backups; a plan breaking the API's rules (a bad
/// ANS number, a blank name, two plans with one name) is refused; an archive made before
/// plans existed (no `convenios.json`) restores with none.
#[tokio::test]
async fn plans_are_backed_up_checked_and_an_older_archive_restores_without_them() {
    let srv = TestServer::start();
    popular(&srv).await;
    for (nome, ans) in [("Unimed", "339679"), ("Amil", "326305")] {
        srv.post("/convenios", &json!({"nome": nome, "registro_ans": ans}))
            .await
            .expect_status(201);
    }
    let antes = estado(&srv).await;
    assert_eq!(antes["convenios"].as_array().map(Vec::len), Some(2));
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, manifest) = conteudo_backup(&srv, &nome).await;
    assert_eq!(manifest["contagens"]["convenios"], 2, "{manifest}");

    let um = str_field(&antes["convenios"].as_array().expect("list")[0], "id");
    srv.delete(&format!("/convenios/{um}"))
        .await
        .expect_status(204);
    srv.post("/convenios", &json!({"nome": "Bradesco Saúde"}))
        .await
        .expect_status(201);
    restaurar_ok_simples(&srv, &nome).await;
    assert_eq!(estado(&srv).await, antes, "plans restored");

    let casos: Vec<(&str, Vec<u8>)> = vec![
        (
            "a plan with a 5-digit ANS number",
            com_registros(&entries, "convenios", |r| {
                r[0]["registro_ans"] = json!("12345");
            }),
        ),
        (
            "a plan with a blank name",
            com_registros(&entries, "convenios", |r| {
                r[0]["nome"] = json!(" ");
            }),
        ),
        (
            "a doctor taking a plan that does not exist",
            com_registros(&entries, "medicos", |r| {
                r[0]["convenios_aceitos"] = json!(["nao-existe"]);
            }),
        ),
        (
            "a patient on a plan that does not exist",
            com_registros(&entries, "pacientes", |r| {
                r[0]["convenio_id"] = json!("nao-existe");
            }),
        ),
        (
            "a card number with punctuation",
            com_registros(&entries, "pacientes", |r| {
                r[0]["carteirinha"] = json!("12.34-5");
            }),
        ),
        (
            "two plans with one name (ignoring case and accents)",
            com_registros(&entries, "convenios", |r| {
                let n = r[0]["nome"].as_str().expect("nome").to_uppercase();
                r[1]["nome"] = json!(n);
            }),
        ),
    ];
    let falhas = todos_recusados(&srv, &casos).await;
    assert!(falhas.is_empty(), "not refused:\n{}", falhas.join("\n"));

    // An archive from before plans: no convenios.json, no count.
    let mut velho = entries.clone();
    velho.remove("convenios.json");
    let mut m: Value = serde_json::from_slice(&velho["manifest.json"]).expect("manifest");
    m["contagens"]
        .as_object_mut()
        .expect("contagens")
        .remove("convenios");
    m["arquivos"]
        .as_array_mut()
        .expect("arquivos")
        .retain(|a| a["nome"] != "convenios.json");
    velho.insert(
        "manifest.json".into(),
        serde_json::to_vec_pretty(&m).expect("json"),
    );
    std::fs::write(
        backup_dir(&srv).join("backup_20200304_000000.zip"),
        zip_de(&velho),
    )
    .expect("plant archive");
    restaurar_ok_simples(&srv, "backup_20200304_000000.zip").await;
    assert_eq!(srv.get("/convenios").await.array().len(), 0);
}
