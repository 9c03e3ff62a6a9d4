//! `POST /backup/restaurar/{nome}` and `POST /backup/enviar`: one at a time, validated
//! before anything changes; a restore takes a safety backup and switches the data atomically.

use super::*;

/// Held while a restore or an upload runs: they hold a whole archive's data in memory, so
/// they run one at a time (issue 8); a second one is answered 409 at once.
pub struct Vez(());

pub(super) static OCUPADO: AtomicBool = AtomicBool::new(false);

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

/// Whether a restore or an upload is running (a stop waits for it).
pub fn restauracao_em_curso() -> bool {
    OCUPADO.load(Ordering::Acquire)
}

impl Drop for Vez {
    fn drop(&mut self) {
        OCUPADO.store(false, Ordering::Release);
    }
}

/// The 422 of an archive that fails [`carregar`].
pub(super) fn invalido(nome: &str, detail: &str) -> AppError {
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
        let registro = crate::services::auditoria::registro(
            &app2,
            &ctx,
            crate::models::Acao::Restaurar,
            "backups",
            Some(nome2.clone()),
        );
        let resposta = std::cell::Cell::new(None);
        let (_, seguranca) = app2
            .store
            .replace_after(
                colecoes(),
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
                    // SPEC-2 §10: a restore keeps users (and their sessions).
                    db.usuarios = cur.usuarios.clone();
                    db.sessoes = cur.sessoes.clone();
                    // And the calendar feed tokens (credentials of this server, SPEC-2 §14).
                    db.calendario_tokens = cur.calendario_tokens.clone();
                    // Webhooks: the ones this server has stay as they are; one only the
                    // archive has (deleted since, e.g. because its receiver was compromised,
                    // or brought by an uploaded archive) comes back turned off, for an admin
                    // to look at and turn on, instead of receiving patients' data unseen.
                    let trazidos: Vec<Arc<crate::models::Webhook>> = db
                        .webhooks
                        .iter()
                        .filter(|w| cur.webhooks.get(&w.id).is_none())
                        .map(|w| {
                            Arc::new(crate::models::Webhook {
                                ativo: false,
                                ..crate::models::Webhook::clone(w)
                            })
                        })
                        .collect();
                    db.webhooks = cur.webhooks.clone();
                    for w in trazidos {
                        db.webhooks.put(w);
                    }
                    // And the audit trail, with this restore's entry in the switched state.
                    db.auditoria = cur.auditoria.clone();
                    db.auditoria.put(registro.clone());
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
    // The outbox stays out of backups (it would send last week's messages again): the
    // restored appointments ahead get their reminders now, not at the next housekeeping.
    if let Err(e) = crate::services::notificacoes::acertar_lembretes(app).await {
        tracing::warn!(target: "agendamento::notificacoes", error = %e, "reminders not re-armed after the restore; housekeeping retries within a minute");
    }
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
pub(super) struct Temporario(Option<PathBuf>);

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
    let tmp = arquivos::temporario(&dir, "upload", &crate::services::new_id());
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
