//! `/usuarios` (SPEC-2 §10, admin only). The password hash never leaves the server: every
//! answer is a [`UsuarioPublico`].

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Admin, Autorizado};
use super::extract::{ApiPath, ApiQuery, Json, JsonBody, Pagina, Requisicao};
use crate::error::{AppError, Erros};
use crate::models::{Papel, UsuarioPublico};
use crate::services::AppState;
use crate::services::usuarios::{self, AlteraUsuario, NovoUsuario};

/// Body of `POST /usuarios`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsuarioCreate {
    /// Display name.
    #[schema(example = "Ana Recepção")]
    pub nome: String,
    /// E-mail, unique (case-insensitive).
    #[schema(example = "ana@clinica.example")]
    pub email: String,
    /// Role.
    pub papel: Papel,
    /// The doctor, for `papel = medico`.
    pub medico_id: Option<String>,
    /// The patient, for `papel = paciente`.
    pub paciente_id: Option<String>,
    /// Password: at least 8 characters, not the e-mail.
    #[schema(example = "uma senha longa")]
    pub senha: String,
}

/// Body of `PUT /usuarios/{id}`: any subset. `ativo: false` or a new `senha` ends the
/// user's sessions.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsuarioUpdate {
    /// New name.
    pub nome: Option<String>,
    /// New e-mail.
    pub email: Option<String>,
    /// New role.
    pub papel: Option<Papel>,
    /// New doctor (for `medico`).
    pub medico_id: Option<String>,
    /// New patient (for `paciente`).
    pub paciente_id: Option<String>,
    /// Active or not.
    pub ativo: Option<bool>,
    /// A new password (at least 8 characters, not the e-mail).
    pub senha: Option<String>,
}

impl UsuarioCreate {
    fn validate(self) -> Result<NovoUsuario, AppError> {
        let mut e = Erros::default();
        usuarios::valida_nome(&mut e, &self.nome);
        usuarios::valida_email(&mut e, &self.email);
        usuarios::valida_senha(&mut e, "senha", &self.senha, &self.email);
        e.finish()?;
        Ok(NovoUsuario {
            nome: self.nome,
            email: self.email,
            papel: self.papel,
            medico_id: self.medico_id,
            paciente_id: self.paciente_id,
            senha: self.senha,
        })
    }
}

impl UsuarioUpdate {
    fn validate(self, email_atual: &str) -> Result<AlteraUsuario, AppError> {
        let mut e = Erros::default();
        if let Some(n) = &self.nome {
            usuarios::valida_nome(&mut e, n);
        }
        if let Some(m) = &self.email {
            usuarios::valida_email(&mut e, m);
        }
        if let Some(s) = &self.senha {
            let email = self.email.as_deref().unwrap_or(email_atual);
            usuarios::valida_senha(&mut e, "senha", s, email);
        }
        e.finish()?;
        Ok(AlteraUsuario {
            nome: self.nome,
            email: self.email,
            papel: self.papel,
            medico_id: self.medico_id.map(Some),
            paciente_id: self.paciente_id.map(Some),
            ativo: self.ativo,
            senha: self.senha,
        })
    }
}

/// Lists users by e-mail (admin).
#[utoipa::path(get, path = "/usuarios", tag = "usuarios", params(Pagina),
    responses((status = 200, body = [UsuarioPublico],
        headers(("x-total-count" = u64, description = "Total")))))]
pub async fn list_usuarios(
    State(app): State<AppState>,
    _: Autorizado<Admin>,
    ApiQuery(pagina): ApiQuery<Pagina>,
) -> Result<(axum::http::HeaderMap, Json<Vec<UsuarioPublico>>), AppError> {
    let r = usuarios::page(&app, pagina.janela()?);
    let mut h = axum::http::HeaderMap::new();
    h.insert("x-total-count", r.total.into());
    Ok((
        h,
        Json(r.itens.iter().map(|u| UsuarioPublico::from(&**u)).collect()),
    ))
}

/// Finds one user (admin).
#[utoipa::path(get, path = "/usuarios/{id}", tag = "usuarios", params(("id" = String, Path)),
    responses((status = 200, body = UsuarioPublico)))]
pub async fn find_usuario(
    State(app): State<AppState>,
    _: Autorizado<Admin>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UsuarioPublico>, AppError> {
    usuarios::find(&app, &id).map(|u| Json(UsuarioPublico::from(&*u)))
}

/// Creates a user (admin); 409 `duplicate_email` when the e-mail is taken.
#[utoipa::path(post, path = "/usuarios", tag = "usuarios", request_body = UsuarioCreate,
    responses((status = 201, body = UsuarioPublico)))]
pub async fn create_usuario(
    State(app): State<AppState>,
    _: Autorizado<Admin>,
    req: Requisicao,
    JsonBody(body): JsonBody<UsuarioCreate>,
) -> Result<(StatusCode, Json<UsuarioPublico>), AppError> {
    let novo = body.validate()?;
    let r = req.responde(StatusCode::CREATED);
    let u = usuarios::criar(&app, r.ctx(), novo).await?;
    Ok(r.json(UsuarioPublico::from(&*u)))
}

/// Changes a user (admin).
#[utoipa::path(put, path = "/usuarios/{id}", tag = "usuarios", params(("id" = String, Path)),
    request_body = UsuarioUpdate, responses((status = 200, body = UsuarioPublico)))]
pub async fn update_usuario(
    State(app): State<AppState>,
    _: Autorizado<Admin>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<UsuarioUpdate>,
) -> Result<(StatusCode, Json<UsuarioPublico>), AppError> {
    let atual = usuarios::find(&app, &id)?;
    let alt = body.validate(&atual.email)?;
    let r = req.responde(StatusCode::OK);
    let u = usuarios::alterar(&app, r.ctx(), &id, alt).await?;
    Ok(r.json(UsuarioPublico::from(&*u)))
}

/// Deactivates a user (admin): the record stays (history points at it), its sessions end.
#[utoipa::path(delete, path = "/usuarios/{id}", tag = "usuarios", params(("id" = String, Path)),
    responses((status = 204, description = "Desativado")))]
pub async fn delete_usuario(
    State(app): State<AppState>,
    _: Autorizado<Admin>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let r = req.responde(StatusCode::NO_CONTENT);
    usuarios::desativar(&app, r.ctx(), &id).await?;
    Ok(r.vazia())
}
