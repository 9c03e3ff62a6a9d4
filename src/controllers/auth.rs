//! Sign-in and permissions (SPEC-2 §10): the authentication middleware (bearer token, or
//! the session cookie on `GET` only), the typed policy every handler states in its
//! signature (`Autorizado<Admin>`, `Autorizado<Staff>`, `Autorizado<Autenticado>`), and
//! the `/auth/*` routes.

use std::marker::PhantomData;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Json, JsonBody, Requisicao};
use crate::error::{AppError, Erros};
use crate::models::{Papel, UsuarioPublico};
use crate::services::{self, AppState, Chamador};

/// The session cookie's name (SPEC-2 §10).
pub const COOKIE: &str = "agendamento_sessao";

/// Who may call a route: one type per rule, named in the handler's signature.
pub trait Politica {
    /// Whether `papel` may.
    fn permite(papel: Papel) -> bool;
}

/// Administrators only (backups, restore, logs, users).
pub struct Admin;
/// Staff: `admin` and `recepcao`.
pub struct Staff;
/// Any signed-in user.
pub struct Autenticado;
/// Any signed-in user, limited to the records its [`Escopo`](crate::services::Escopo)
/// allows (staff: all; `medico`, `paciente`: their own, 404 outside).
pub struct Proprios;
/// Staff, or a `paciente` on their own record.
pub struct StaffOuPaciente;
/// Staff, or a `medico` on their own appointments and horários.
pub struct StaffOuMedico;
/// Holds (`/agenda/reservar`, `/agenda/liberar`): staff, a `paciente` for themselves, a
/// `medico` on their own agenda (the handler checks whose agenda).
pub struct Reservas;

impl Politica for Admin {
    fn permite(papel: Papel) -> bool {
        papel == Papel::Admin
    }
}

impl Politica for Staff {
    fn permite(papel: Papel) -> bool {
        papel.staff()
    }
}

impl Politica for Proprios {
    fn permite(_: Papel) -> bool {
        true
    }
}

impl Politica for StaffOuPaciente {
    fn permite(papel: Papel) -> bool {
        papel.staff() || papel == Papel::Paciente
    }
}

impl Politica for StaffOuMedico {
    fn permite(papel: Papel) -> bool {
        papel.staff() || papel == Papel::Medico
    }
}

impl Politica for Reservas {
    fn permite(papel: Papel) -> bool {
        papel.staff() || papel == Papel::Paciente || papel == Papel::Medico
    }
}

impl<P: Politica> Autorizado<P> {
    /// The records this caller may see.
    pub fn escopo(&self) -> crate::services::Escopo {
        self.0.escopo()
    }
}

impl Politica for Autenticado {
    fn permite(_: Papel) -> bool {
        true
    }
}

/// The caller, checked against policy `P`: 401 `nao_autenticado` without a session,
/// 403 `sem_permissao` when the role may not.
pub struct Autorizado<P: Politica>(pub Chamador, PhantomData<P>);

impl<S: Send + Sync, P: Politica> FromRequestParts<S> for Autorizado<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let c = parts
            .extensions
            .get::<Chamador>()
            .cloned()
            .ok_or_else(AppError::nao_autenticado)?;
        if P::permite(c.papel) {
            Ok(Self(c, PhantomData))
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// The routes anyone may call (SPEC-2 §10).
pub fn publica(method: &Method, path: &str) -> bool {
    path == "/"
        || path == "/docs"
        || path.starts_with("/docs/")
        || path == "/openapi.json"
        || (method == Method::POST && path == "/auth/login")
        || links_e_calendarios(method, path)
        || ((method == Method::GET || method == Method::HEAD) && publica_get(path))
}

/// `GET` routes anyone may call: the health probe, and the live page's shell (it holds no
/// record, only today's date, and asks for a sign-in itself).
fn publica_get(path: &str) -> bool {
    matches!(path, "/sistema/saude" | "/painel")
}

/// SPEC-2 §13–§14: the public links (`/c/{token}`, its `confirmar` and `cancelar`; the
/// token is the credential) and the calendar feeds (`?token=`), which apps fetch without a
/// session.
fn links_e_calendarios(method: &Method, path: &str) -> bool {
    let get = method == Method::GET || method == Method::HEAD;
    let Some(resto) = path.strip_prefix("/c/") else {
        return get
            && (path.starts_with("/calendario/medico/")
                || path.starts_with("/calendario/paciente/"));
    };
    match resto.split_once('/') {
        None => get,
        // The buttons post; their addresses opened again only show the page.
        Some((_, "confirmar" | "cancelar")) => method == Method::POST || get,
        Some(_) => false,
    }
}

/// Routes whose handler checks the bearer itself: `/metrics` also takes
/// `--metrics-token`, which is no session.
fn confere_no_handler(path: &str) -> bool {
    path == "/metrics"
}

/// The token of a request: `Authorization: Bearer <token>`, or on `GET` the session cookie
/// (so `EventSource` can open a stream; a forged write can never ride on the cookie).
/// `Err` when an Authorization header is there but is not a bearer token.
fn token(method: &Method, headers: &HeaderMap) -> Result<Option<String>, ()> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| ())?;
        let (scheme, rest) = v.split_once(' ').ok_or(())?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(());
        }
        return Ok(Some(rest.to_owned()));
    }
    // HEAD is GET without the body: as safe, so the same rule.
    if method != Method::GET && method != Method::HEAD {
        return Ok(None);
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == COOKIE).then(|| v.to_owned())
        });
    Ok(cookie)
}

/// Authentication for every route: with `--auth off` every request is the system
/// (single-user mode); otherwise a public route passes as it is and any other needs a live
/// session, whose caller is left in the request's extensions for `Requisicao` and
/// `Autorizado`. Missing, malformed, expired or revoked: 401 `nao_autenticado`.
pub async fn autenticar(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    if !app.auth_ligada() {
        req.extensions_mut().insert(Chamador::sistema());
        return next.run(req).await;
    }
    let found = match token(req.method(), req.headers()) {
        Ok(Some(t)) => services::usuarios::autenticar(&app, &t),
        Ok(None) | Err(()) => None,
    };
    match found {
        Some(c) => {
            req.extensions_mut().insert(c);
        }
        None if publica(req.method(), req.uri().path()) || confere_no_handler(req.uri().path()) => {
        }
        None => return AppError::nao_autenticado().into_response(),
    }
    next.run(req).await
}

/// The client's address (`"local"` when the request did not come over a socket, as in
/// in-process tests).
pub struct Origem(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Origem {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "local".to_owned(), |ConnectInfo(a)| a.ip().to_string()),
        ))
    }
}

/// Body of `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The user's e-mail (any case).
    #[schema(example = "admin@clinica.example")]
    pub email: String,
    /// The password.
    #[schema(example = "uma senha longa")]
    pub senha: String,
}

/// Answer of `POST /auth/login`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sessao {
    /// The bearer token (shown only here; the server keeps only its hash).
    pub token: String,
    /// When it stops working (RFC 3339, clinic offset).
    pub expira_em: String,
    /// The signed-in user.
    pub usuario: UsuarioPublico,
}

/// Body of `PUT /auth/senha`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SenhaBody {
    /// The current password.
    pub senha_atual: String,
    /// The new password (at least 8 characters, not the e-mail).
    pub senha_nova: String,
}

/// The session cookie; `Secure` when the clinic's public address is `https://` (behind its
/// HTTPS proxy the browser then never sends the token over plain HTTP).
fn cookie(app: &AppState, valor: &str, max_age: i64) -> Option<HeaderValue> {
    let seguro = app
        .config
        .url_publica
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    HeaderValue::from_str(&format!(
        "{COOKIE}={valor}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if seguro { "; Secure" } else { "" }
    ))
    .ok()
}

/// Signs in: a bearer token (also set as an HttpOnly cookie for `GET` streams).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = Sessao, headers(("set-cookie" = String,
        description = "agendamento_sessao=<token>; HttpOnly; SameSite=Strict (and Secure when --url-publica is https)")))))]
pub async fn create_login(
    State(app): State<AppState>,
    Origem(ip): Origem,
    req: Requisicao,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response, AppError> {
    let r = req.responde(StatusCode::OK);
    let e = services::usuarios::login(&app, r.ctx(), &body.email, body.senha, &ip).await?;
    let agora = jiff::Timestamp::now().as_second();
    let expira = jiff::Timestamp::from_second(e.expira_em)
        .map_err(|err| AppError::Internal(err.to_string()))?;
    let mut res = Json(Sessao {
        expira_em: app.clock.stamp_at(expira),
        usuario: UsuarioPublico::from(&*e.usuario),
        token: e.token.clone(),
    })
    .into_response();
    if let Some(c) = cookie(&app, &e.token, e.expira_em - agora) {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// Signs out: the token stops working.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "Sessão encerrada")))]
pub async fn create_logout(
    State(app): State<AppState>,
    _: Autorizado<Autenticado>,
    req: Requisicao,
) -> Result<Response, AppError> {
    let r = req.responde(StatusCode::NO_CONTENT);
    services::usuarios::logout(&app, r.ctx()).await?;
    let mut res = r.vazia().into_response();
    if let Some(c) = cookie(&app, "", 0) {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// The signed-in user.
#[utoipa::path(get, path = "/auth/eu", tag = "auth",
    responses((status = 200, body = UsuarioPublico)))]
pub async fn find_eu(
    State(app): State<AppState>,
    _: Autorizado<Autenticado>,
    req: Requisicao,
) -> Result<Json<UsuarioPublico>, AppError> {
    let r = req.responde(StatusCode::OK);
    services::usuarios::eu(&app, r.ctx()).map(|u| Json(UsuarioPublico::from(&*u)))
}

/// Changes the caller's password; every other session of theirs ends.
#[utoipa::path(put, path = "/auth/senha", tag = "auth", request_body = SenhaBody,
    responses((status = 204, description = "Senha alterada")))]
pub async fn update_senha(
    State(app): State<AppState>,
    _: Autorizado<Autenticado>,
    req: Requisicao,
    JsonBody(body): JsonBody<SenhaBody>,
) -> Result<StatusCode, AppError> {
    let mut e = Erros::default();
    if body.senha_atual.is_empty() {
        e.push("senha_atual", "campo obrigatório");
    }
    e.finish()?;
    let r = req.responde(StatusCode::NO_CONTENT);
    services::usuarios::trocar_senha(&app, r.ctx(), body.senha_atual, body.senha_nova).await?;
    Ok(r.vazia())
}
