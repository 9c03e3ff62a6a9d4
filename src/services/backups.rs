//! Backups (SPEC §6): ZIP archives of a consistent snapshot of the clinic's records with a
//! manifest of counts and checksums; listing, safe download names, validated atomic restore,
//! automatic backups and retention.
//!
//! A backup holds the clinical collections (pacientes, médicos, horários, consultas).
//! Operational state (tasks, holds, idempotency answers) is not clinical data: a restore
//! keeps the current tasks and idempotency answers and drops the holds.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{App, Contexto, tarefas};
use crate::error::AppError;
use crate::infra::arquivos::{self, com_base, listar, nome_valido, publicar};
use crate::infra::store::{SNAPSHOT_VERSION, StoreState};
use crate::models::{Contagens, Enfileirado, Enviado, Restaurado, Tarefa, TipoTarefa};
use crate::repositories::{Db, IdemEntry};

/// The collections a backup holds.
pub const COLECOES: [&str; 4] = ["pacientes", "medicos", "horarios", "consultas"];
/// Largest data file accepted from an archive, uncompressed (guards against ZIP bombs):
/// 256 MiB, about half a million appointments.
pub const MAX_ENTRY: u64 = 256 << 20;
/// Largest sum of the data files of one archive, uncompressed.
pub const MAX_TOTAL: u64 = 512 << 20;
/// Largest `manifest.json` read.
const MAX_MANIFEST: u64 = 1 << 20;

/// Per-collection record counts of `db`.
fn contagens(db: &Db) -> Contagens {
    Contagens {
        pacientes: db.pacientes.len(),
        medicos: db.medicos.len(),
        horarios: db.horarios.len(),
        consultas: db.consultas.len(),
    }
}

/// One file inside the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArquivoManifesto {
    /// Entry name.
    pub nome: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifesto {
    /// When it was taken (RFC 3339).
    pub criado_em: String,
    /// Server version that wrote it.
    pub versao: String,
    /// `manual`, `automatico` or `seguranca` (taken before a restore).
    #[serde(default)]
    pub tipo: String,
    /// The task that wrote it, if any (lets a re-run after a crash find it).
    #[serde(default)]
    pub task_id: Option<String>,
    /// Journal sequence number the snapshot stands at.
    #[serde(default)]
    pub seq: u64,
    /// When the data was copied (RFC 3339; `criado_em` of a task's backup is when it was
    /// queued). Appointments over by then may name patients or doctors deleted before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exportado_em: Option<String>,
    /// Record counts.
    pub contagens: Contagens,
    /// The data files.
    pub arquivos: Vec<ArquivoManifesto>,
}

/// `backup_YYYYMMDD_HHMMSS` for an RFC 3339 stamp, in the clinic's zone.
fn base_name(prefix: &str, stamp: &str, app: &App) -> String {
    let when = stamp
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|_| jiff::Timestamp::now());
    arquivos::nome_base(prefix, &app.clock.file_stamp(when))
}

/// Reads an archive's manifest.
pub fn ler_manifesto(path: &Path) -> Result<Manifesto, String> {
    let f = File::open(path).map_err(|e| format!("não foi possível abrir o arquivo: {e}"))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| format!("não é um ZIP válido: {e}"))?;
    let mut entry = zip
        .by_name("manifest.json")
        .map_err(|_| "manifest.json ausente".to_owned())?;
    let mut s = String::new();
    entry
        .by_ref()
        .take(MAX_MANIFEST)
        .read_to_string(&mut s)
        .map_err(|e| format!("manifest.json ilegível: {e}"))?;
    serde_json::from_str(&s).map_err(|e| format!("manifest.json inválido: {e}"))
}

/// The backup already written by this task, if a crash came between writing and recording it.
fn ja_escrito(dir: &Path, base: &str, task_id: &str) -> Option<String> {
    com_base(dir, base, "zip").into_iter().find(|nome| {
        ler_manifesto(&dir.join(nome)).is_ok_and(|m| m.task_id.as_deref() == Some(task_id))
    })
}

/// Writes a backup archive of the current state; returns its file name. Blocking.
/// `progresso` is told how far it got (0..=100).
pub fn escrever(
    app: &App,
    tipo: &str,
    task: Option<&Tarefa>,
    progresso: &mut dyn FnMut(u8),
) -> io::Result<String> {
    let dir = &app.config.backup_dir;
    fs::create_dir_all(dir)?;
    let criado_em = task.map_or_else(|| app.clock.stamp(), |t| t.criado_em.clone());
    let base = base_name("backup", &criado_em, app);
    if let Some(t) = task
        && let Some(nome) = ja_escrito(dir, &base, &t.id)
    {
        return Ok(nome);
    }
    let (seq, files, contagens) = app.store.export_with(&colecoes(), contagens)?;
    progresso(40);
    let nome = gravar(
        app,
        &Cabecalho {
            tipo,
            task_id: task.map(|t| t.id.as_str()),
            criado_em: &criado_em,
            base: &base,
        },
        seq,
        &files,
        contagens,
        progresso,
    )?;
    progresso(95);
    Ok(nome)
}

/// Which of the store's collections a backup holds.
fn colecoes() -> Vec<bool> {
    Db::COLLECTIONS
        .iter()
        .map(|c| COLECOES.contains(c))
        .collect()
}

/// What the manifest says about where an archive comes from.
struct Cabecalho<'a> {
    tipo: &'a str,
    task_id: Option<&'a str>,
    criado_em: &'a str,
    base: &'a str,
}

/// Writes `files` and their manifest into a new archive `<base>[_N].zip`: temp file, fsync,
/// then published under a name no other file has. Blocking.
fn gravar(
    app: &App,
    cab: &Cabecalho<'_>,
    seq: u64,
    files: &[crate::infra::store::DataFile],
    contagens: Contagens,
    progresso: &mut dyn FnMut(u8),
) -> io::Result<String> {
    let dir = &app.config.backup_dir;
    let tmp: PathBuf = arquivos::temporario(dir, "backup", &super::new_id());
    let result = (|| -> io::Result<()> {
        let file = File::create(&tmp)?;
        let mut zip = zip::ZipWriter::new(io::BufWriter::new(file));
        let now = app.clock.now_local();
        let mut options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        if let Ok(t) = zip::DateTime::try_from(now) {
            options = options.last_modified_time(t);
        }
        let mut arquivos = Vec::new();
        let total = files.len().max(1);
        for (i, (nome, bytes)) in files.iter().enumerate() {
            zip.start_file(nome.as_str(), options)
                .map_err(io::Error::other)?;
            zip.write_all(bytes)?;
            arquivos.push(ArquivoManifesto {
                nome: nome.clone(),
                bytes: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(bytes)),
            });
            progresso((40 + 50 * (i + 1) / total) as u8);
        }
        let manifesto = Manifesto {
            criado_em: cab.criado_em.to_owned(),
            versao: env!("CARGO_PKG_VERSION").to_owned(),
            tipo: cab.tipo.to_owned(),
            task_id: cab.task_id.map(str::to_owned),
            seq,
            // Taken after the copy, so it is never earlier than the data.
            exportado_em: Some(app.clock.stamp()),
            contagens,
            arquivos,
        };
        zip.start_file("manifest.json", options)
            .map_err(io::Error::other)?;
        zip.write_all(&serde_json::to_vec_pretty(&manifesto).map_err(io::Error::other)?)?;
        let mut w = zip.finish().map_err(io::Error::other)?;
        w.flush()?;
        w.get_ref().sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let nome = publicar(dir, &tmp, cab.base, "zip");
    if nome.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    let nome = nome?;
    tracing::info!(target: "agendamento::backup", arquivo = %nome, tipo = cab.tipo, seq, "backup written");
    Ok(nome)
}

/// Deletes the oldest backups of kind `tipo` (`automatico` or `seguranca`) beyond `keep`;
/// manual ones always stay.
pub fn reter(dir: &Path, tipo: &str, keep: usize) -> io::Result<Vec<String>> {
    let do_tipo: Vec<String> = listar(dir, "backup", "zip")?
        .into_iter()
        .filter(|n| ler_manifesto(&dir.join(n)).is_ok_and(|m| m.tipo == tipo))
        .collect();
    let mut removed = Vec::new();
    for nome in do_tipo.into_iter().skip(keep) {
        fs::remove_file(dir.join(&nome))?;
        tracing::info!(target: "agendamento::backup", arquivo = %nome, tipo, "old backup removed");
        removed.push(nome);
    }
    Ok(removed)
}

/// Parameters of a backup task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamsBackup {
    /// `manual` or `automatico`.
    pub tipo: String,
}

/// Queues a backup; answers `{"status": "enfileirado", "task_id"}`.
pub async fn solicitar(app: &App, ctx: &Contexto, tipo: &str) -> Result<Enfileirado, AppError> {
    let params = ParamsBackup {
        tipo: tipo.to_owned(),
    };
    tarefas::enqueue(app, ctx, TipoTarefa::Backup, &params, "enfileirado").await
}

/// The worker's backup task: writes the archive, applies retention to automatic ones,
/// completes the task and announces `backup_concluido`.
pub fn executar(app: &App, rt: &tokio::runtime::Handle, t: &Tarefa) -> Result<(), tarefas::Falha> {
    let tipo = serde_json::from_value::<ParamsBackup>(t.parametros.clone())
        .map(|p| p.tipo)
        .unwrap_or_else(|_| "manual".into());
    let mut progress = tarefas::Progresso::new(app, rt, t);
    let nome = escrever(app, &tipo, Some(t), &mut |p| progress.report(p))
        .map_err(|e| tarefas::Falha::Transitoria(e.to_string()))?;
    if tipo == "automatico"
        && let Err(e) = reter(&app.config.backup_dir, "automatico", app.config.backup_keep)
    {
        tracing::warn!(target: "agendamento::backup", error = %e, "retention failed; will retry after the next backup");
    }
    let done = tarefas::finished(
        t,
        app.clock.stamp(),
        Ok(serde_json::json!({ "arquivo": nome })),
    );
    tarefas::complete(app, rt, done)?;
    app.events.publish(
        "backup_concluido",
        &serde_json::json!({"arquivo": nome, "task_id": t.id}),
    );
    Ok(())
}

/// The envelope of a data file, without keeping its records.
#[derive(Deserialize)]
struct Envelope {
    versao: u32,
    seq: u64,
    registros: Vec<serde::de::IgnoredAny>,
}

/// Reads at most `limit` bytes of `r` through SHA-256 without keeping them; returns the
/// digest and how many bytes there were (`limit + 1` means "more than `limit`").
fn resumir(r: &mut dyn Read, limit: u64) -> io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    let mut r = r.take(limit + 1);
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            return Ok((hex::encode(h.finalize()), n));
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
}

/// Loads and checks an archive: the manifest and the members match exactly, every data file
/// has the size and checksum the manifest gives (checked while streaming, within
/// [`MAX_ENTRY`] and [`MAX_TOTAL`], before anything is kept in memory), parses, is in the
/// format this server writes, and the records keep every rule of the API
/// ([`super::backup_regras`]). Returns the database it holds. Blocking.
pub fn carregar(app: &App, path: &Path) -> Result<(Db, Manifesto), String> {
    // No valid archive is larger than the data it may hold: refuse before even reading its
    // central directory (whose entries the ZIP reader keeps in memory).
    let tamanho = fs::metadata(path)
        .map_err(|e| format!("não foi possível abrir o arquivo: {e}"))?
        .len();
    if tamanho > MAX_TOTAL + (16 << 20) {
        return Err(format!(
            "o arquivo tem {tamanho} bytes, acima do limite de {MAX_TOTAL} bytes de dados"
        ));
    }
    let manifesto = ler_manifesto(path)?;
    let f = File::open(path).map_err(|e| format!("não foi possível abrir o arquivo: {e}"))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| format!("não é um ZIP válido: {e}"))?;

    // The manifest names exactly the data files, and the archive holds exactly those.
    let esperados: BTreeSet<String> = COLECOES.iter().map(|c| format!("{c}.json")).collect();
    let nomeados: Vec<&str> = manifesto.arquivos.iter().map(|a| a.nome.as_str()).collect();
    let nomeados_set: BTreeSet<String> = nomeados.iter().map(|n| (*n).to_owned()).collect();
    if nomeados_set.len() != nomeados.len() {
        return Err("o manifesto lista um arquivo mais de uma vez".into());
    }
    if let Some(n) = nomeados_set.difference(&esperados).next() {
        return Err(format!(
            "o manifesto lista {n}, que não é um arquivo de dados"
        ));
    }
    if let Some(n) = esperados.difference(&nomeados_set).next() {
        return Err(format!("{n} não consta do manifesto"));
    }
    let mut membros: BTreeSet<String> = BTreeSet::new();
    for nome in zip.file_names() {
        let nome = nome.map_err(|e| format!("nome de membro ilegível: {e}"))?;
        if !membros.insert(nome.clone().into_owned()) {
            return Err(format!("{nome} aparece mais de uma vez no arquivo"));
        }
    }
    let mut com_manifesto = nomeados_set.clone();
    com_manifesto.insert("manifest.json".into());
    if let Some(n) = membros.difference(&com_manifesto).next() {
        return Err(format!("o arquivo contém {n}, que o manifesto não lista"));
    }
    if let Some(n) = com_manifesto.difference(&membros).next() {
        return Err(format!(
            "{n} consta do manifesto mas está ausente do arquivo"
        ));
    }
    let total: u64 = manifesto.arquivos.iter().map(|a| a.bytes).sum();
    if total > MAX_TOTAL {
        return Err(format!(
            "os dados somam {total} bytes, acima do limite de {MAX_TOTAL} bytes"
        ));
    }

    // First pass: sizes and checksums, streamed (a ZIP bomb inflates into nothing kept).
    for info in &manifesto.arquivos {
        let nome = &info.nome;
        if info.bytes > MAX_ENTRY {
            return Err(format!(
                "{nome}: {} bytes, acima do limite de {MAX_ENTRY} bytes por arquivo",
                info.bytes
            ));
        }
        let mut entry = zip
            .by_name(nome)
            .map_err(|_| format!("{nome} ausente do arquivo"))?;
        if entry.size() != info.bytes {
            return Err(format!("{nome}: tamanho diferente do manifesto"));
        }
        let (sha, n) =
            resumir(&mut entry, info.bytes).map_err(|e| format!("{nome} ilegível: {e}"))?;
        if n != info.bytes {
            return Err(format!("{nome}: tamanho diferente do manifesto"));
        }
        if sha != info.sha256 {
            return Err(format!("{nome}: soma de verificação (sha256) não confere"));
        }
    }

    // Second pass: each file, now known to be small and intact, is parsed.
    let mut db = Db::empty();
    let mut registros = Contagens::default();
    for (i, colecao) in Db::COLLECTIONS.iter().enumerate() {
        if !COLECOES.contains(colecao) {
            continue;
        }
        let nome = format!("{colecao}.json");
        let mut entry = zip
            .by_name(&nome)
            .map_err(|_| format!("{nome} ausente do arquivo"))?;
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry
            .by_ref()
            .take(MAX_ENTRY)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{nome} ilegível: {e}"))?;
        let json_err = |e: serde_json::Error| {
            format!(
                "{nome}: JSON inválido (linha {}, coluna {}): {e}",
                e.line(),
                e.column()
            )
        };
        let env: Envelope = serde_json::from_slice(&bytes).map_err(json_err)?;
        if env.versao != SNAPSHOT_VERSION {
            return Err(format!(
                "{nome}: versão de formato {} desconhecida (esperada {SNAPSHOT_VERSION})",
                env.versao
            ));
        }
        if env.seq != manifesto.seq {
            return Err(format!("{nome}: seq diferente do manifesto"));
        }
        match *colecao {
            "pacientes" => registros.pacientes = env.registros.len(),
            "medicos" => registros.medicos = env.registros.len(),
            "horarios" => registros.horarios = env.registros.len(),
            _ => registros.consultas = env.registros.len(),
        }
        db.load_collection(i, &bytes).map_err(json_err)?;
    }
    if registros != contagens(&db) {
        return Err("há registros com o mesmo id".into());
    }
    if contagens(&db) != manifesto.contagens {
        return Err("as contagens do manifesto não conferem com os dados".into());
    }
    let tirado_em = manifesto
        .exportado_em
        .as_deref()
        .unwrap_or(&manifesto.criado_em)
        .parse::<jiff::Timestamp>()
        .map_err(|_| "manifest.json: criado_em não é uma data e hora RFC 3339".to_owned())?;
    let tirado_em = tirado_em.to_zoned(app.clock.tz().clone()).datetime();
    let problemas =
        super::backup_regras::problemas(&db, tirado_em, app.clock.today(), app.clock.tz());
    if !problemas.is_empty() {
        return Err(format!(
            "os dados não obedecem às regras do sistema: {}",
            problemas.join("; ")
        ));
    }
    Ok((db, manifesto))
}

/// Held while a restore or an upload runs: they hold a whole archive's data in memory, so
/// they run one at a time (issue 8); a second one is answered 409 at once.
pub struct Vez(());

static OCUPADO: AtomicBool = AtomicBool::new(false);

impl Vez {
    /// Takes the turn, or 409 `backup_busy` when another restore or upload has it.
    pub fn tomar() -> Result<Self, AppError> {
        if OCUPADO.swap(true, Ordering::AcqRel) {
            return Err(AppError::conflict(
                "backup_busy",
                "Outra restauração ou envio de backup está em andamento; tente novamente quando terminar.",
            ));
        }
        Ok(Self(()))
    }
}

impl Drop for Vez {
    fn drop(&mut self) {
        OCUPADO.store(false, Ordering::Release);
    }
}

/// The 422 of an archive that fails [`carregar`].
fn invalido(nome: &str, detail: &str) -> AppError {
    AppError::Unprocessable {
        code: "backup_invalido",
        detail: format!("O backup {nome} é inválido: {detail}."),
    }
}

/// Restores an archive: validates it (422 and no change if bad), then, in one critical
/// section that no write can enter, takes a safety backup of the current state and switches
/// the data atomically, and reloads it live. One restore or upload at a time (409).
pub async fn restaurar(app: &Arc<App>, ctx: &Contexto, nome: &str) -> Result<Restaurado, AppError> {
    let dir = app.config.backup_dir.clone();
    let regular = fs::symlink_metadata(dir.join(nome)).is_ok_and(|m| m.is_file());
    if !nome_valido(nome, "backup", "zip") || !regular {
        return Err(AppError::not_found("Backup"));
    }
    let vez = Vez::tomar()?;
    let app2 = app.clone();
    let nome2 = nome.to_owned();
    // The blocking work gets its own copy of the request's context.
    let ctx = ctx.clone();
    // The turn moves into the blocking work: it is released when the work ends, even if
    // the client went away meanwhile.
    let out = tokio::task::spawn_blocking(move || -> Result<Restaurado, AppError> {
        let _vez = vez;
        let (novo, _) = carregar(&app2, &dir.join(&nome2)).map_err(|d| invalido(&nome2, &d))?;
        let contagens_novo = contagens(&novo);
        let criado_em = app2.clock.stamp();
        let base = base_name("backup", &criado_em, &app2);
        let mut novo = Some(novo);
        let resposta = std::cell::Cell::new(None);
        let (_, seguranca) = app2
            .store
            .replace_after(
                &colecoes(),
                |seq, files, cur| {
                    let cab = Cabecalho {
                        tipo: "seguranca",
                        task_id: None,
                        criado_em: &criado_em,
                        base: &base,
                    };
                    let seguranca = gravar(&app2, &cab, seq, &files, contagens(cur), &mut |_| {})?;
                    let out = Restaurado {
                        status: "restaurado".into(),
                        arquivo: nome2.clone(),
                        backup_seguranca: seguranca.clone(),
                        contagens: contagens_novo.clone(),
                    };
                    // The Idempotency-Key answer goes into the switched state itself, so a
                    // retry of this request is replayed, never restored twice.
                    resposta.set(match &ctx.idempotencia {
                        Some(idem) => Some(Arc::new(IdemEntry {
                            key: idem.key.clone(),
                            fingerprint: idem.fingerprint.clone(),
                            status: ctx.status,
                            body: serde_json::to_string(&out).map_err(io::Error::other)?,
                            created: jiff::Timestamp::now().as_second(),
                        })),
                        None => None,
                    });
                    Ok(seguranca)
                },
                |cur| {
                    let mut db = novo.take().unwrap_or_default();
                    db.tarefas = cur.tarefas.clone();
                    db.idem = cur.idem.clone();
                    if let Some(a) = resposta.take() {
                        db.idem.put(a);
                    }
                    db
                },
            )
            .map_err(storage)?;
        tracing::info!(target: "agendamento::backup", arquivo = %nome2, seguranca = %seguranca, "backup restored");
        if let Err(e) = reter(&dir, "seguranca", app2.config.backup_keep) {
            tracing::warn!(target: "agendamento::backup", error = %e, "safety backup retention failed; will retry after the next restore");
        }
        Ok(Restaurado {
            status: "restaurado".into(),
            arquivo: nome2,
            backup_seguranca: seguranca,
            contagens: contagens_novo,
        })
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    // Every agenda may have changed: tell the dashboards to reload them.
    let medicos: Vec<String> = app
        .store
        .read()
        .medicos
        .iter()
        .map(|m| m.id.clone())
        .collect();
    for id in medicos {
        app.events.publish(
            "horario_atualizado",
            &serde_json::json!({ "medico_id": id }),
        );
    }
    Ok(out)
}

/// Deletes a temporary file when dropped, unless it was published first (an upload whose
/// client went away leaves nothing behind).
struct Temporario(Option<PathBuf>);

impl Temporario {
    /// The file was moved to its final name: nothing to delete.
    fn publicado(mut self) {
        self.0 = None;
    }
}

impl Drop for Temporario {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// Stores an uploaded archive (a clinic moving to a new machine): streams `body` to a
/// temporary file within `--backup-upload-max-bytes` (413 beyond), validates it exactly as a
/// restore does (422 `backup_invalido`, nothing stored), and publishes it under a new backup
/// name. Validation takes the restore's turn (409 while a restore or another upload runs).
pub async fn enviar<E: std::fmt::Display>(
    app: &Arc<App>,
    ctx: &Contexto,
    mut stream: impl futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
) -> Result<Enviado, AppError> {
    use futures_util::StreamExt as _;
    use tokio::io::AsyncWriteExt as _;

    let dir = app.config.backup_dir.clone();
    tokio::fs::create_dir_all(&dir).await.map_err(storage)?;
    let tmp = arquivos::temporario(&dir, "upload", &super::new_id());
    let guarda = Temporario(Some(tmp.clone()));
    let mut file = tokio::fs::File::create(&tmp).await.map_err(storage)?;
    let max = app.config.backup_upload_max_bytes;
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AppError::InvalidJson(format!("corpo interrompido: {e}")))?;
        total += chunk.len() as u64;
        if total > max {
            return Err(AppError::PayloadTooLarge);
        }
        file.write_all(&chunk).await.map_err(storage)?;
    }
    file.sync_all().await.map_err(storage)?;
    drop(file);
    let vez = Vez::tomar()?;
    let app2 = app.clone();
    let request_id = ctx.request_id.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<Enviado, AppError> {
        let _vez = vez;
        let (db, _) = carregar(&app2, &tmp).map_err(|d| AppError::Unprocessable {
            code: "backup_invalido",
            detail: format!("O backup enviado é inválido: {d}."),
        })?;
        let base = base_name("backup", &app2.clock.stamp(), &app2);
        let arquivo = publicar(&dir, &tmp, &base, "zip").map_err(storage)?;
        guarda.publicado();
        tracing::info!(target: "agendamento::backup", arquivo = %arquivo, bytes = total, %request_id, "uploaded backup stored");
        Ok(Enviado {
            arquivo,
            contagens: contagens(&db),
        })
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(out)
}

fn storage(e: io::Error) -> AppError {
    AppError::Storage(crate::infra::store::StoreError::Unavailable(e.to_string()))
}
