//! One error type for the whole API, answered as RFC 9457 problem details (SPEC §1):
//! `{type, title, status, detail, code, errors?}` with a Portuguese `detail` and a stable
//! English `code`. Free of HTTP types: statuses are plain numbers here, and the answer is
//! built in `controllers::problema`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::infra::store::StoreError;

/// One field's problem, e.g. `{"campo": "cpf", "mensagem": "CPF inválido"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CampoErro {
    /// The field (dotted path for nested ones).
    pub campo: String,
    /// What is wrong with it, in Portuguese.
    pub mensagem: String,
}

impl CampoErro {
    /// A field problem.
    pub fn new(campo: impl Into<String>, mensagem: impl Into<String>) -> Self {
        Self {
            campo: campo.into(),
            mensagem: mensagem.into(),
        }
    }
}

/// The problem+json body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problema {
    /// A URI naming the problem type: `urn:agendamento:problema:<code>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:agendamento:problema:validation_failed")]
    pub tipo: String,
    /// The status in a few Portuguese words (e.g. "Não encontrado").
    #[schema(example = "Dados inválidos")]
    pub title: String,
    /// The HTTP status.
    #[schema(example = 422)]
    pub status: u16,
    /// A sentence for people, in Portuguese.
    #[schema(example = "Dados inválidos: cpf: CPF inválido.")]
    pub detail: String,
    /// A stable snake_case key for programs.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// Field problems, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<CampoErro>>,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the body is not JSON.
    #[error("invalid json: {0}")]
    InvalidJson(String),
    /// 415: the body is not declared as JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 413: the body is over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 422: fields fail validation.
    #[error("validation failed")]
    Validation(Vec<CampoErro>),
    /// 422 with its own code and sentence.
    #[error("unprocessable: {code}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// Portuguese sentence.
        detail: String,
    },
    /// 401: no valid session (`nao_autenticado`) or a failed login (`credenciais_invalidas`);
    /// answered with `WWW-Authenticate: Bearer`.
    #[error("unauthorized: {code}")]
    Unauthorized {
        /// Stable code.
        code: &'static str,
        /// Portuguese sentence.
        detail: String,
    },
    /// 403 `sem_permissao`: signed in, but the role may not do this (SPEC-2 §10).
    #[error("forbidden")]
    Forbidden,
    /// 404: an unknown id in the path, or an unknown route.
    #[error("not found")]
    NotFound(String),
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 with its code and sentence.
    #[error("conflict: {code}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Portuguese sentence.
        detail: String,
    },
    /// 503: the disk refused the write; nothing changed.
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// 500: a bug. The text is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
    /// 429 or 503 with `Retry-After`: a limit was reached (queue full, too many stored
    /// answers) or the request ran out of time; nothing changed, try again later.
    #[error("busy: {code}")]
    Busy {
        /// 429 (a limit) or 503 (a timeout).
        status: u16,
        /// English snake_case key.
        code: &'static str,
        /// Portuguese sentence.
        detail: String,
        /// Seconds the client should wait (`Retry-After`).
        retry_after_secs: u64,
    },
}

impl AppError {
    /// A 422 for one field.
    pub fn campo(campo: &str, mensagem: impl Into<String>) -> Self {
        Self::Validation(vec![CampoErro::new(campo, mensagem)])
    }

    /// A 404 naming what was not found, with the right gender: "Consulta não encontrada.",
    /// "Médico não encontrado.".
    pub fn not_found(what: &str) -> Self {
        let feminino = matches!(
            what,
            "Consulta"
                | "Tarefa"
                | "Reserva"
                | "Série"
                | "Entrada da lista de espera"
                | "Notificação"
        );
        let fim = if feminino { "a" } else { "o" };
        Self::NotFound(format!("{what} não encontrad{fim}."))
    }

    /// The 401 of a request without a valid session.
    pub fn nao_autenticado() -> Self {
        Self::Unauthorized {
            code: "nao_autenticado",
            detail: "Autenticação necessária: envie um token válido em Authorization: Bearer."
                .into(),
        }
    }

    /// A 409.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidJson(_) => 400,
            Self::UnsupportedMediaType => 415,
            Self::PayloadTooLarge => 413,
            Self::Validation(_) | Self::Unprocessable { .. } => 422,
            Self::NotFound(_) => 404,
            Self::Unauthorized { .. } => 401,
            Self::Forbidden => 403,
            Self::MethodNotAllowed => 405,
            Self::Conflict { .. } => 409,
            Self::Storage(_) => 503,
            Self::Internal(_) => 500,
            Self::Busy { status, .. } => *status,
        }
    }

    /// The problem body.
    pub fn problema(&self) -> Problema {
        let (code, detail, errors): (&str, String, Option<Vec<CampoErro>>) = match self {
            Self::InvalidJson(msg) => ("invalid_json", format!("O corpo da requisição não é um JSON válido: {msg}."), None),
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                "O corpo da requisição deve ser JSON (Content-Type: application/json).".into(),
                None,
            ),
            Self::PayloadTooLarge => ("payload_too_large", "O corpo da requisição excede o tamanho máximo permitido.".into(), None),
            Self::Validation(errs) => {
                let detail = match errs.as_slice() {
                    [one] => format!("Dados inválidos: {}: {}.", one.campo, one.mensagem),
                    _ => "Dados inválidos: verifique os campos indicados.".into(),
                };
                ("validation_failed", detail, Some(errs.clone()))
            }
            Self::Unprocessable { code, detail } => (code, detail.clone(), None),
            Self::NotFound(detail) => ("not_found", detail.clone(), None),
            Self::Unauthorized { code, detail } => (code, detail.clone(), None),
            Self::Forbidden => ("sem_permissao", "Seu perfil não tem permissão para esta operação.".into(), None),
            Self::MethodNotAllowed => ("method_not_allowed", "Método não permitido para este recurso.".into(), None),
            Self::Conflict { code, detail } => (code, detail.clone(), None),
            Self::Storage(_) => (
                "storage_unavailable",
                "Não foi possível gravar os dados no disco; nada foi alterado. Tente novamente em instantes.".into(),
                None,
            ),
            Self::Internal(_) => ("internal_error", "Erro interno no servidor.".into(), None),
            Self::Busy { code, detail, .. } => (code, detail.clone(), None),
        };
        let status = self.status();
        Problema {
            tipo: format!("urn:agendamento:problema:{code}"),
            title: titulo(status).to_owned(),
            status,
            detail,
            code: code.to_owned(),
            errors,
        }
    }
}

/// The problem `title`: the status in a few Portuguese words.
pub fn titulo(status: u16) -> &'static str {
    match status {
        400 => "Requisição inválida",
        401 => "Não autenticado",
        403 => "Sem permissão",
        404 => "Não encontrado",
        405 => "Método não permitido",
        409 => "Conflito",
        413 => "Corpo grande demais",
        415 => "Tipo de conteúdo não suportado",
        422 => "Dados inválidos",
        429 => "Requisições demais",
        500 => "Erro interno",
        503 => "Serviço indisponível",
        s if s >= 500 => "Erro no servidor",
        _ => "Erro na requisição",
    }
}

/// Collects field problems, then fails with all of them at once.
#[derive(Debug, Default)]
pub struct Erros(Vec<CampoErro>);

impl Erros {
    /// Records `r`'s error under `campo`, returning its value if it was fine.
    pub fn check<T, E: std::fmt::Display>(&mut self, campo: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(CampoErro::new(campo, e.to_string()));
                None
            }
        }
    }

    /// Records a problem.
    pub fn push(&mut self, campo: &str, mensagem: impl Into<String>) {
        self.0.push(CampoErro::new(campo, mensagem));
    }

    /// Ok when nothing was recorded.
    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}
