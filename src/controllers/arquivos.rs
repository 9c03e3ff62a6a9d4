//! `/backup` (SPEC §6) and the file side of `/relatorios` (SPEC §7): queueing, listing,
//! downloads by exact name only, and restore.

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use super::auth::{Admin, Autorizado, StaffOuMedico};
use super::extract::{ApiPath, Json, Requisicao, body_bytes, filtro, is_json, parse_json};
use super::problema::problem_response;
use crate::domain::{parse_date, parse_datetime};
use crate::error::{AppError, Erros};
use crate::models::{Acao, Enfileirado, Enviado, Restaurado};
use crate::services::backups::{self, listar, nome_valido};
use crate::services::contexto::so_o_proprio_medico;
use crate::services::relatorios::{self, ParamsRelatorio};
use crate::services::{AppState, Escopo, auditoria};

/// Answer of the listing routes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Arquivos {
    /// File names, newest first.
    pub arquivos: Vec<String>,
}

async fn listing(
    dir: std::path::PathBuf,
    prefix: &'static str,
    ext: &'static str,
) -> Result<Json<Arquivos>, AppError> {
    let arquivos = tokio::task::spawn_blocking(move || listar(&dir, prefix, ext))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(format!("listing {prefix}: {e}")))?;
    Ok(Json(Arquivos { arquivos }))
}

/// Serves `dir/nome` if `nome` is exactly a `<prefix>_YYYYMMDD_HHMMSS[_N].<ext>` name: any
/// other name (encoded dots or slashes, backslashes, absolute paths…) is 404.
pub async fn download(
    dir: &std::path::Path,
    nome: &str,
    prefix: &str,
    ext: &str,
    mime: &'static str,
) -> Result<Response, AppError> {
    if !nome_valido(nome, prefix, ext) {
        return Err(AppError::NotFound("Arquivo não encontrado.".into()));
    }
    let path = dir.join(nome);
    // Only regular files: a folder (or anything else) with a valid-looking name is not a file to serve.
    if !tokio::fs::symlink_metadata(&path)
        .await
        .is_ok_and(|m| m.is_file())
    {
        return Err(AppError::NotFound("Arquivo não encontrado.".into()));
    }
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AppError::NotFound("Arquivo não encontrado.".into()));
        }
        Err(e) => return Err(AppError::Internal(format!("reading {nome}: {e}"))),
    };
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{nome}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// Queues a backup of the current data.
#[utoipa::path(post, path = "/backup/executar", tag = "backup",
    responses((status = 202, body = Enfileirado)))]
pub async fn create_backup(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    req: Requisicao,
) -> Result<(StatusCode, Json<Enfileirado>), AppError> {
    let r = req.responde(StatusCode::ACCEPTED);
    let out = backups::solicitar(&app, r.ctx(), "manual").await?;
    Ok(r.json(out))
}

/// Queues a backup (alias of `POST /backup/executar`).
#[utoipa::path(post, path = "/sistema/tasks/backup", tag = "backup",
    responses((status = 202, body = Enfileirado)))]
pub async fn create_backup_task(
    quem: Autorizado<Admin>,
    state: State<AppState>,
    req: Requisicao,
) -> Result<(StatusCode, Json<Enfileirado>), AppError> {
    create_backup(quem, state, req).await
}

/// Lists the backups, newest first.
#[utoipa::path(get, path = "/backup", tag = "backup", responses((status = 200, body = Arquivos)))]
pub async fn list_backups(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
) -> Result<Json<Arquivos>, AppError> {
    listing(app.config.backup_dir.clone(), "backup", "zip").await
}

/// Downloads a backup archive.
#[utoipa::path(get, path = "/backup/download/{nome}", tag = "backup", params(("nome" = String, Path)),
    responses((status = 200, description = "O arquivo ZIP", content_type = "application/zip", body = Vec<u8>)))]
pub async fn find_backup(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(nome): ApiPath<String>,
) -> Result<Response, AppError> {
    let res = download(
        &app.config.backup_dir,
        &nome,
        "backup",
        "zip",
        "application/zip",
    )
    .await?;
    // Every patient's data leaves the server: `exportar` in the audit trail (SPEC-2 §10).
    let r = req.responde(StatusCode::OK);
    auditoria::registrar(&app, r.ctx(), Acao::Exportar, "backups", Some(nome)).await?;
    Ok(res)
}

/// Restores a backup: validates it (422 and nothing changes when it is bad), takes a safety
/// backup of the current data, replaces the data atomically and reloads it live.
#[utoipa::path(post, path = "/backup/restaurar/{nome}", tag = "backup", params(("nome" = String, Path)),
    responses((status = 200, body = Restaurado)))]
pub async fn restore_backup(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(nome): ApiPath<String>,
) -> Result<(StatusCode, Json<Restaurado>), AppError> {
    let r = req.responde(StatusCode::OK);
    backups::restaurar(&app.0, r.ctx(), &nome)
        .await
        .map(|v| r.json(v))
}

/// A JSON body whose fields are all optional: no body at all (or only whitespace) counts as
/// `{}`; otherwise the rules of [`super::extract::JsonBody`] apply (415, 413, 400, 422).
pub struct CorpoOpcional<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for CorpoOpcional<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let json = is_json(req.headers().get(header::CONTENT_TYPE));
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !json {
            return Err(AppError::UnsupportedMediaType);
        }
        parse_json(&bytes).map(CorpoOpcional)
    }
}

/// The bytes of a ZIP archive (documentation only: the body is streamed, never parsed whole).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ArquivoZip(pub Vec<u8>);

/// Uploads a backup archive (`application/zip`) made elsewhere, e.g. on the clinic's old
/// machine: validated exactly as a restore (422 `backup_invalido`, nothing stored), then
/// stored under a new backup name, ready for `POST /backup/restaurar/{arquivo}`.
#[utoipa::path(post, path = "/backup/enviar", tag = "backup",
    request_body(content = ArquivoZip, content_type = "application/zip",
        description = "O arquivo ZIP de um backup (até --backup-upload-max-bytes)"),
    responses((status = 201, body = Enviado)))]
pub async fn create_backup_upload(
    _: Autorizado<Admin>,
    State(app): State<AppState>,
    ctx: Requisicao,
    req: Request,
) -> Result<Response, AppError> {
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    // Browsers on Windows label ZIP files `application/x-zip-compressed`.
    if !matches!(
        mime.as_deref(),
        Some("application/zip" | "application/x-zip-compressed")
    ) {
        let mut p = AppError::UnsupportedMediaType.problema();
        p.detail =
            "O corpo da requisição deve ser um arquivo ZIP (Content-Type: application/zip).".into();
        return Ok(problem_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &p,
            false,
        ));
    }
    let r = ctx.responde(StatusCode::CREATED);
    let out = backups::enviar(&app.0, r.ctx(), req.into_body().into_data_stream()).await?;
    // The archive is a file, not a record: its entry is its own write.
    auditoria::registrar(
        &app,
        r.ctx(),
        Acao::Criar,
        "backups",
        Some(out.arquivo.clone()),
    )
    .await?;
    Ok(r.json(out).into_response())
}

/// Body of `POST /relatorios/gerar` (all optional, and so is the body itself; dates inclusive).
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelatorioBody {
    /// Only this doctor's appointments.
    pub medico_id: Option<String>,
    /// From this date (`YYYY-MM-DD`; a date-time such as `2026-01-01T00:00:00` counts by its date).
    #[schema(example = "2026-03-01")]
    pub periodo_inicio: Option<String>,
    /// Up to this date, inclusive (a date-time counts by its date).
    #[schema(example = "2026-03-31")]
    pub periodo_fim: Option<String>,
}

impl RelatorioBody {
    fn validate(self, tz: &jiff::tz::TimeZone) -> Result<ParamsRelatorio, AppError> {
        let mut e = Erros::default();
        // The dashboard sends date-times (`2026-12-31T23:59:59`): their clinic-local date counts.
        let date = |e: &mut Erros, campo: &str, v: Option<String>| {
            v.filter(|s| !s.is_empty()).and_then(|s| {
                let d = parse_date(&s)
                    .or_else(|err| parse_datetime(&s, tz).map(|dt| dt.date()).map_err(|_| err));
                e.check(campo, d)
            })
        };
        let periodo_inicio = date(&mut e, "periodo_inicio", self.periodo_inicio);
        let periodo_fim = date(&mut e, "periodo_fim", self.periodo_fim);
        e.finish()?;
        Ok(ParamsRelatorio {
            medico_id: filtro(self.medico_id),
            periodo_inicio,
            periodo_fim,
        })
    }
}

/// Queues a PDF report of the appointments, optionally of one doctor and period.
#[utoipa::path(post, path = "/relatorios/gerar", tag = "relatorios",
    request_body(content = RelatorioBody, description = "Filtros (opcionais; sem corpo = sem filtros)"),
    responses((status = 202, body = Enfileirado)))]
pub async fn create_relatorio(
    quem: Autorizado<StaffOuMedico>,
    State(app): State<AppState>,
    req: Requisicao,
    CorpoOpcional(body): CorpoOpcional<RelatorioBody>,
) -> Result<(StatusCode, Json<Enfileirado>), AppError> {
    let r = req.responde(StatusCode::ACCEPTED);
    let mut params = body.validate(app.clock.tz())?;
    // A doctor's report is of their own appointments (another doctor's id: 404).
    so_o_proprio_medico(&mut params.medico_id, &quem.escopo())?;
    let out = relatorios::solicitar(&app, r.ctx(), params).await?;
    Ok(r.json(out))
}

/// Queues a PDF report (alias of `POST /relatorios/gerar`).
#[utoipa::path(post, path = "/sistema/tasks/relatorio", tag = "relatorios",
    request_body(content = RelatorioBody, description = "Filtros (opcionais; sem corpo = sem filtros)"),
    responses((status = 202, body = Enfileirado)))]
pub async fn create_relatorio_task(
    quem: Autorizado<StaffOuMedico>,
    state: State<AppState>,
    req: Requisicao,
    body: CorpoOpcional<RelatorioBody>,
) -> Result<(StatusCode, Json<Enfileirado>), AppError> {
    create_relatorio(quem, state, req, body).await
}

/// Lists the reports, newest first.
#[utoipa::path(get, path = "/relatorios", tag = "relatorios", responses((status = 200, body = Arquivos)))]
pub async fn list_relatorios(
    quem: Autorizado<StaffOuMedico>,
    State(app): State<AppState>,
) -> Result<Json<Arquivos>, AppError> {
    let dir = app.config.reports_dir.clone();
    let Json(mut lista) = listing(dir.clone(), "relatorio", "pdf").await?;
    let escopo = quem.escopo();
    lista.arquivos = tokio::task::spawn_blocking(move || {
        lista
            .arquivos
            .into_iter()
            .filter(|nome| relatorio_visivel(&escopo, &dir, nome))
            .collect()
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Json(lista))
}

/// Whether `escopo` may see report `nome` of `dir` (SPEC-2 §10): staff every one, a doctor
/// those filtered by them alone, nobody else any. Reads a file: call off the runtime.
fn relatorio_visivel(escopo: &Escopo, dir: &std::path::Path, nome: &str) -> bool {
    match escopo {
        Escopo::Tudo => true,
        Escopo::Medico(m) => relatorios::do_medico(dir, nome, m),
        _ => false,
    }
}

/// Downloads a report.
#[utoipa::path(get, path = "/relatorios/download/{nome}", tag = "relatorios", params(("nome" = String, Path)),
    responses((status = 200, description = "O PDF", content_type = "application/pdf", body = Vec<u8>)))]
pub async fn find_relatorio(
    quem: Autorizado<StaffOuMedico>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(nome): ApiPath<String>,
) -> Result<Response, AppError> {
    // A doctor downloads only their own reports: another is 404, as if it did not exist.
    let (escopo, dir, alvo) = (quem.escopo(), app.config.reports_dir.clone(), nome.clone());
    let visivel = tokio::task::spawn_blocking(move || relatorio_visivel(&escopo, &dir, &alvo))
        .await
        .unwrap_or(false);
    if !visivel {
        return Err(AppError::NotFound("Arquivo não encontrado.".into()));
    }
    let res = download(
        &app.config.reports_dir,
        &nome,
        "relatorio",
        "pdf",
        "application/pdf",
    )
    .await?;
    // Patients' names for a period leave the server: `exportar`, as for a backup.
    let r = req.responde(StatusCode::OK);
    auditoria::registrar(&app, r.ctx(), Acao::Exportar, "relatorios", Some(nome)).await?;
    Ok(res)
}
