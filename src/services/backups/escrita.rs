//! Writing archives: a consistent export of the store into `backup_…zip` with its manifest
//! (temp file, fsync, published under a new name), and retention of old ones.

use super::*;

/// The backup already written by this task, if a crash came between writing and recording it.
pub(super) fn ja_escrito(dir: &Path, base: &str, task_id: &str) -> Option<String> {
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
    let (seq, files, contagens) = app.store.export_with(colecoes(), contagens)?;
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

/// What the manifest says about where an archive comes from.
pub(super) struct Cabecalho<'a> {
    pub(super) tipo: &'a str,
    pub(super) task_id: Option<&'a str>,
    pub(super) criado_em: &'a str,
    pub(super) base: &'a str,
}

/// Writes `files` and their manifest into a new archive `<base>[_N].zip`: temp file, fsync,
/// then published under a name no other file has. Blocking.
pub(super) fn gravar(
    app: &App,
    cab: &Cabecalho<'_>,
    seq: u64,
    files: &[crate::infra::store::DataFile],
    contagens: Contagens,
    progresso: &mut dyn FnMut(u8),
) -> io::Result<String> {
    let dir = &app.config.backup_dir;
    let tmp: PathBuf = arquivos::temporario(dir, "backup", &crate::services::new_id());
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

/// How long the automatic backups wait for their first run: what is left of `every` since
/// the newest automatic backup was taken (nothing when it is overdue), so a server restarted
/// more often than the interval (a clinic's PC switched off every night) still backs up.
/// Without one, `every` but at most an hour.
pub fn primeira_espera(
    dir: &Path,
    every: std::time::Duration,
    agora: jiff::Timestamp,
) -> std::time::Duration {
    let ultimo = listar(dir, "backup", "zip")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| ler_manifesto(&dir.join(n)).ok())
        .find(|m| m.tipo == "automatico")
        .and_then(|m| m.criado_em.parse::<jiff::Timestamp>().ok());
    match ultimo {
        Some(t) => {
            let passou = agora.duration_since(t);
            if passou.is_negative() {
                // Taken "in the future": the clock moved back; wait a whole interval.
                return every;
            }
            every.saturating_sub(passou.unsigned_abs())
        }
        None => every.min(std::time::Duration::from_secs(3600)),
    }
}
