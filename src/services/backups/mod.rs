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
use crate::infra::arquivos::{self, com_base, publicar};
/// The file names the download routes serve and list (made in [`crate::infra::arquivos`]).
pub use crate::infra::arquivos::{listar, nome_valido};
use crate::infra::store::{Collections, SNAPSHOT_VERSION, StoreState, file_name};
use crate::models::{Contagens, Enfileirado, Enviado, Restaurado, Tarefa, TipoTarefa};
use crate::repositories::{Collection, Db, IdemEntry};

mod escrita;
mod leitura;
mod restauracao;

pub use escrita::*;
pub use leitura::*;
pub use restauracao::*;

/// Largest data file accepted from an archive, uncompressed (guards against ZIP bombs):
/// 256 MiB, about half a million appointments.
pub const MAX_ENTRY: u64 = 256 << 20;
/// Largest sum of the data files of one archive, uncompressed.
pub const MAX_TOTAL: u64 = 512 << 20;
/// Largest `manifest.json` read.
const MAX_MANIFEST: u64 = 1 << 20;

/// Per-collection record counts of `db`.
fn contagens(db: &Db) -> Contagens {
    let mut contagens = Contagens::default();
    for c in colecoes().iter() {
        if let Some(n) = contagem(&mut contagens, c) {
            *n = db.count(c);
        }
    }
    contagens
}

/// The count of collection `c` in `contagens` (`None`: a backup does not hold it).
fn contagem(contagens: &mut Contagens, c: Collection) -> Option<&mut usize> {
    match c {
        Collection::Pacientes => Some(&mut contagens.pacientes),
        Collection::Medicos => Some(&mut contagens.medicos),
        Collection::Horarios => Some(&mut contagens.horarios),
        Collection::Consultas => Some(&mut contagens.consultas),
        Collection::Bloqueios => Some(&mut contagens.bloqueios),
        Collection::ListaEspera => Some(&mut contagens.lista_espera),
        Collection::Convenios => Some(&mut contagens.convenios),
        Collection::Idempotencia
        | Collection::Reservas
        | Collection::Tarefas
        | Collection::Usuarios
        | Collection::Sessoes
        | Collection::Auditoria
        | Collection::Historico
        | Collection::Regras
        | Collection::TokensCalendario
        | Collection::Webhooks
        | Collection::Notificacoes => None,
    }
}

/// Whether an archive may lack collection `c`: those added after the first backups were
/// written (SPEC-2 §11: blocks, the waiting list, histories, rules; SPEC-2 §12: insurance
/// plans); an older archive restores them empty.
pub(super) fn opcional(c: Collection) -> bool {
    match c {
        Collection::Bloqueios
        | Collection::ListaEspera
        | Collection::Historico
        | Collection::Regras
        | Collection::Convenios
        | Collection::Webhooks => true,
        Collection::Pacientes
        | Collection::Medicos
        | Collection::Horarios
        | Collection::Consultas
        | Collection::Idempotencia
        | Collection::Reservas
        | Collection::Tarefas
        | Collection::Usuarios
        | Collection::Sessoes
        | Collection::Auditoria
        | Collection::TokensCalendario
        | Collection::Notificacoes => false,
    }
}

/// Which of the store's collections a backup holds.
pub(super) fn colecoes() -> Collections<Collection> {
    Collection::in_backups()
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

fn storage(e: io::Error) -> AppError {
    AppError::Storage(crate::infra::store::StoreError::Unavailable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Histories and rules travel in backups without a count; every other collection a
    /// backup holds is counted (blocks and the waiting list with a count older manifests
    /// lack, read as 0). Only collections a backup holds may be missing from an archive.
    #[test]
    fn the_manifest_counts_exactly_the_collections_a_backup_holds() {
        for &c in Collection::ALL {
            let counted = contagem(&mut Contagens::default(), c).is_some();
            let sem_contagem = matches!(
                c,
                Collection::Historico | Collection::Regras | Collection::Webhooks
            );
            assert_eq!(counted, c.in_backup() && !sem_contagem, "{c:?}");
            assert!(!opcional(c) || c.in_backup(), "{c:?}");
        }
    }
}
