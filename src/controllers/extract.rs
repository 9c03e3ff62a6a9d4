//! Our own extractors, so that every malformed body or query gets problem+json
//! (STYLE 7): `JsonBody`, `ApiQuery`, `ApiPath`, the tri-state `Patch` field, list
//! pagination, the JSON answer `Json`, and the request's [`Contexto`] (`Requisicao`). The
//! only module that may name axum's raw `Json`, `Path` and `Query` (`clippy.toml`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::IntoParams;

use super::middleware::REQUEST_ID;
use crate::error::{AppError, CampoErro};
use crate::services::idempotency::IdemCtx;
use crate::services::{Chamador, Contexto, Janela, Recorte};

/// A JSON answer (axum's `Json`, wrapped so handlers never name the raw one).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        #[allow(clippy::disallowed_types)]
        axum::Json(self.0).into_response()
    }
}

/// The request as the services see it: its [`Contexto`] (request id from `x-request-id`,
/// set by the request-id middleware; the `Idempotency-Key` left by the idempotency
/// middleware). A write handler states its success status once with [`Requisicao::responde`].
pub struct Requisicao(Contexto);

impl<S: Send + Sync> FromRequestParts<S> for Requisicao {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let request_id = parts
            .headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        Ok(Self(Contexto {
            request_id,
            idempotencia: parts.extensions.get::<IdemCtx>().cloned(),
            status: StatusCode::OK.as_u16(),
            // Left by the authentication middleware (`controllers::auth`); absent on the
            // public routes.
            chamador: parts.extensions.get::<Chamador>().cloned(),
            ip: parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|axum::extract::ConnectInfo(a)| a.ip().to_string()),
        }))
    }
}

impl Requisicao {
    /// This request answers `status` on success: the services journal an idempotent
    /// answer with it, and [`Resposta::json`] answers with it.
    pub fn responde(self, status: StatusCode) -> Resposta {
        let mut ctx = self.0;
        ctx.status = status.as_u16();
        Resposta { ctx, status }
    }
}

/// A write's context and the one success status of its route.
pub struct Resposta {
    ctx: Contexto,
    status: StatusCode,
}

impl Resposta {
    /// The context to pass to the service call that writes.
    pub fn ctx(&self) -> &Contexto {
        &self.ctx
    }

    /// The answer: the route's status and `body` as JSON.
    pub fn json<T>(&self, body: T) -> (StatusCode, Json<T>) {
        (self.status, Json(body))
    }

    /// The answer without a body (204).
    pub fn vazia(&self) -> StatusCode {
        self.status
    }
}

/// Translates a serde data error into a field problem in Portuguese.
fn field_error(path: &str, msg: &str) -> CampoErro {
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_owned);
    if msg.starts_with("missing field") {
        let field = quoted(msg).unwrap_or_default();
        let campo = if path.is_empty() || path == "." {
            field
        } else {
            format!("{path}.{field}")
        };
        return CampoErro::new(campo, "campo obrigatório");
    }
    let campo = if path.is_empty() || path == "." {
        "corpo".to_owned()
    } else {
        path.to_owned()
    };
    let mensagem = if msg.starts_with("invalid type") {
        let expected = msg.rsplit("expected ").next().unwrap_or("");
        let tipo = match expected {
            e if e.contains("string") => "texto",
            e if e.contains("struct") || e.contains("map") => "objeto",
            // serde names a primitive by its Rust type ("expected u16 at line 1 …").
            e if e.contains("integer")
                || [
                    "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize",
                ]
                .contains(&e.split_whitespace().next().unwrap_or("")) =>
            {
                "número inteiro"
            }
            e if ["f32", "f64"].contains(&e.split_whitespace().next().unwrap_or(""))
                || e.contains("float") =>
            {
                "número"
            }
            e if e.contains("boolean") => "verdadeiro ou falso (true/false)",
            e if e.contains("sequence") => "lista",
            _ => "outro tipo",
        };
        format!("tipo inválido: esperado {tipo}")
    } else if let Some(rest) = msg.strip_prefix("unknown variant ") {
        // "`x`, expected one of `a`, `b`": say what is allowed.
        let allowed: Vec<&str> = rest
            .split_once(", ")
            .map_or("", |(_, e)| e)
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        format!("valor inválido; use um destes: {}", allowed.join(", "))
    } else {
        format!("valor inválido: {msg}")
    };
    CampoErro::new(campo, mensagem)
}

/// A JSON body: 415 unless declared JSON, 413 over the limit, 400 unparseable,
/// 422 with the field path when the shape is wrong.
pub struct JsonBody<T>(pub T);

pub(crate) fn is_json(ct: Option<&HeaderValue>) -> bool {
    let Some(mime) = ct.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A JSON body that may be left out: an empty body (or `null`) is `None`; anything sent is read as
/// [`JsonBody`] reads it (415 unless declared JSON, 400, 422).
pub struct CorpoOpcional<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CorpoOpcional<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let json = is_json(req.headers().get(header::CONTENT_TYPE));
        let bytes = body_bytes(req, state).await?;
        let texto = bytes.trim_ascii();
        if texto.is_empty() || texto == b"null" {
            return Ok(Self(None));
        }
        if !json {
            return Err(AppError::UnsupportedMediaType);
        }
        parse_json(&bytes).map(|v| Self(Some(v)))
    }
}

/// The whole request body: 413 past the body limit, 400 when it cannot be read.
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == 413 {
            AppError::PayloadTooLarge
        } else {
            AppError::InvalidJson("corpo ilegível".into())
        }
    })
}

/// Parses a JSON body: 400 for bad syntax, 422 (with the field) for a wrong shape, and 422
/// naming every unknown or read-only field (bodies are `deny_unknown_fields`), so that a
/// misspelt field is never silently ignored.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| AppError::InvalidJson(format!("linha {}, coluna {}", e.line(), e.column())))?;
    // Every body is an object; serde would also read a struct from an array.
    let Some(object) = value.as_object() else {
        return Err(AppError::campo("corpo", "deve ser um objeto JSON"));
    };
    let keys: Vec<String> = object.keys().cloned().collect();
    if let Some(campo) = com_nulo(&value, "") {
        return Err(AppError::campo(
            if campo.is_empty() { "corpo" } else { &campo },
            "não pode conter o caractere nulo (U+0000)",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let msg = e.inner().to_string();
        match msg.strip_prefix("unknown field ") {
            Some(rest) => AppError::Validation(unknown_fields(&keys, rest)),
            None => {
                let path = e.path().to_string();
                AppError::Validation(vec![field_error(&path, &msg)])
            }
        }
    })
}

/// The path of the first string (or key) holding U+0000, if any: no stored text may carry
/// it (PostgreSQL's `jsonb` refuses it, so with `--database-url` it could never be
/// journaled; and no name, note or address has a use for it).
fn com_nulo(v: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::String(s) => s.contains('\0').then(|| path.to_owned()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| com_nulo(x, &format!("{path}[{i}]"))),
        Value::Object(o) => o.iter().find_map(|(k, x)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "")))
            } else {
                com_nulo(x, &join(k))
            }
        }),
        _ => None,
    }
}

/// Fields the server sets itself: sending them is refused, not ignored.
const READ_ONLY: &[&str] = &["id", "created_at", "updated_at"];

/// Names every field of the body that the type does not accept. `rest` is the tail of serde's
/// message, "`x`, expected one of `a`, `b`" (or "expected `a`", or "there are no fields").
fn unknown_fields(keys: &[String], rest: &str) -> Vec<CampoErro> {
    let (_, expected) = rest.split_once(", ").unwrap_or((rest, ""));
    let accepted: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let list = accepted.join(", ");
    keys.iter()
        .filter(|k| !accepted.contains(&k.as_str()))
        .map(|k| {
            let mensagem = if READ_ONLY.contains(&k.as_str()) {
                format!(
                    "campo somente leitura, definido pelo servidor; os campos aceitos são: {list}"
                )
            } else {
                format!("campo desconhecido; os campos aceitos são: {list}")
            };
            CampoErro::new(k.clone(), mensagem)
        })
        .collect()
}

/// Query parameters: 422 with the parameter's name when one does not parse.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let mut err = field_error(&path, &e.inner().to_string());
                if err.mensagem.starts_with("valor inválido:") {
                    err.mensagem = "valor inválido".into();
                }
                AppError::Validation(vec![err])
            })
    }
}

/// A field of a partial update: missing (keep), `null`/`""` (clear), or a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    /// Not sent: keep the stored value.
    #[default]
    Missing,
    /// Sent as `null`.
    Null,
    /// Sent with a value.
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Self::Null,
            Some(v) => Self::Value(v),
        })
    }
}

impl Patch<String> {
    /// Whether the field was sent at all.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Missing)
    }

    /// The sent text, with `null` as `None` (only meaningful when not missing).
    pub fn as_opt(&self) -> Option<&str> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// `limit` (1..=5000) and `offset` of every list endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Pagina {
    /// At most this many items (1..=5000); without it, all of them.
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<i64>,
    /// Skip this many items first.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl Pagina {
    /// Checks the bounds: the part of the list asked for.
    pub fn janela(&self) -> Result<Janela, AppError> {
        let limit = match self.limit {
            None => usize::MAX,
            Some(l @ 1..=5000) => l as usize,
            Some(_) => return Err(AppError::campo("limit", "deve estar entre 1 e 5000")),
        };
        let offset = match self.offset {
            None => 0,
            Some(o) if o >= 0 => o as usize,
            Some(_) => return Err(AppError::campo("offset", "não pode ser negativo")),
        };
        Ok(Janela { offset, limit })
    }
}

/// A page of a list: a plain JSON array, with the filtered total in `x-total-count`.
pub struct Lista<T>(pub Vec<Arc<T>>, pub usize);

impl<T> From<Recorte<T>> for Lista<T> {
    fn from(r: Recorte<T>) -> Self {
        Self(r.itens, r.total)
    }
}

impl<T: Serialize> IntoResponse for Lista<T> {
    fn into_response(self) -> Response {
        let mut res = Json(self.0).into_response();
        res.headers_mut()
            .insert("x-total-count", HeaderValue::from(self.1));
        res
    }
}

/// A path parameter; a segment that does not decode is a 404, never a 500.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    #[allow(clippy::disallowed_types)]
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| AppError::NotFound("Recurso não encontrado.".into()))
    }
}

/// Validates an optional text field where `""` (or `null`) means absent; any other value is
/// checked as sent, as the published schema describes it.
pub fn opcional<T>(
    erros: &mut crate::error::Erros,
    campo: &str,
    v: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, &'static str>,
) -> Option<T> {
    match v.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => erros.check(campo, parse(s)),
    }
}

/// Validates a `Patch` text field: `Some(None)` clears it, `None` keeps it.
pub fn patch_opcional<T>(
    erros: &mut crate::error::Erros,
    campo: &str,
    v: &Patch<String>,
    parse: impl FnOnce(&str) -> Result<T, &'static str>,
) -> Option<Option<T>> {
    if v.is_missing() {
        return None;
    }
    match v.as_opt().filter(|s| !s.is_empty()) {
        None => Some(None),
        Some(s) => erros.check(campo, parse(s)).map(Some),
    }
}

/// An optional filter or id of a query or body, trimmed as stored values are; blank means
/// absent.
pub fn filtro(v: Option<String>) -> Option<String> {
    v.map(|v| crate::domain::trim(&v).to_owned())
        .filter(|v| !v.is_empty())
}

/// The optional `de`/`ate` dates (`AAAA-MM-DD`, both inclusive) of a list filter: each
/// parsed (422 naming the field) and `ate` not before `de`.
pub fn periodo(
    de: Option<&str>,
    ate: Option<&str>,
) -> Result<(Option<jiff::civil::Date>, Option<jiff::civil::Date>), AppError> {
    let mut e = crate::error::Erros::default();
    let de = de.and_then(|d| e.check("de", crate::domain::parse_date(d)));
    let ate = ate.and_then(|d| e.check("ate", crate::domain::parse_date(d)));
    if let (Some(de), Some(ate)) = (de, ate)
        && de > ate
    {
        e.push("ate", "deve ser igual ou posterior a de");
    }
    e.finish()?;
    Ok((de, ate))
}

/// Validates a required `Patch` text field: missing keeps it, `null` is refused.
pub fn patch_obrigatorio<T>(
    erros: &mut crate::error::Erros,
    campo: &str,
    v: &Patch<String>,
    parse: impl FnOnce(&str) -> Result<T, &'static str>,
) -> Option<T> {
    match v {
        Patch::Missing => None,
        Patch::Null => {
            erros.push(campo, "não pode ser vazio");
            None
        }
        Patch::Value(s) => erros.check(campo, parse(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(idem: Option<IdemCtx>) -> Parts {
        let (mut parts, ()) = axum::http::Request::builder()
            .header(REQUEST_ID, "req-1")
            .body(())
            .expect("request")
            .into_parts();
        if let Some(i) = idem {
            parts.extensions.insert(i);
        }
        parts
    }

    #[tokio::test]
    async fn the_context_carries_the_logged_request_id_the_key_and_the_routes_status() {
        let idem = IdemCtx {
            key: "k".into(),
            fingerprint: "f".into(),
        };
        let req = Requisicao::from_request_parts(&mut parts(Some(idem)), &())
            .await
            .expect("context");
        let r = req.responde(StatusCode::CREATED);
        assert_eq!(r.ctx().request_id, "req-1");
        assert_eq!(r.ctx().status, 201, "journaled with the route's status");
        let i = r.ctx().idempotencia.as_ref().expect("key");
        assert_eq!((i.key.as_str(), i.fingerprint.as_str()), ("k", "f"));
        assert_eq!(
            r.json(7).0,
            StatusCode::CREATED,
            "answered with the same status"
        );
        assert_eq!(r.vazia(), StatusCode::CREATED);
    }

    #[tokio::test]
    async fn without_a_key_no_answer_is_kept() {
        let req = Requisicao::from_request_parts(&mut parts(None), &())
            .await
            .expect("context");
        assert!(req.responde(StatusCode::OK).ctx().idempotencia.is_none());
    }
}

#[cfg(test)]
mod field_error_tests {
    use super::field_error;

    /// A value of the wrong type names the type the field takes, in Portuguese.
    #[test]
    fn a_wrong_type_names_the_type_expected() {
        for (msg, tipo) in [
            (
                "invalid type: string \"150,00\", expected f64 at line 1 column 40",
                "número",
            ),
            ("invalid type: string \"x\", expected u16", "número inteiro"),
            (
                "invalid type: floating point `1.5`, expected i64",
                "número inteiro",
            ),
            (
                "invalid type: string \"sim\", expected a boolean",
                "verdadeiro ou falso (true/false)",
            ),
            ("invalid type: integer `1`, expected a string", "texto"),
            ("invalid type: string \"a\", expected a sequence", "lista"),
        ] {
            let e = field_error("campo", msg);
            assert_eq!(
                e.mensagem,
                format!("tipo inválido: esperado {tipo}"),
                "{msg}"
            );
        }
    }
}
