//! Users and their sessions (SPEC-2 §10). The password hash lives only in [`Usuario`]'s
//! stored form; what clients see is [`UsuarioPublico`], which has no field for it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a user may do (SPEC-2 §10's table); staff = `admin` and `recepcao`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Papel {
    /// Everything, including backups, restore, logs and users.
    Admin,
    /// The front desk: every clinical record, nothing of the system's administration.
    Recepcao,
    /// A doctor (names a `medico`).
    Medico,
    /// A patient (names a `paciente`).
    Paciente,
}

impl Papel {
    /// Every role, in the order of SPEC-2 §10's table.
    pub const ALL: [Papel; 4] = [
        Papel::Admin,
        Papel::Recepcao,
        Papel::Medico,
        Papel::Paciente,
    ];

    /// Its name as in the API.
    pub const fn nome(self) -> &'static str {
        match self {
            Papel::Admin => "admin",
            Papel::Recepcao => "recepcao",
            Papel::Medico => "medico",
            Papel::Paciente => "paciente",
        }
    }

    /// Admin or recepcao.
    pub const fn staff(self) -> bool {
        matches!(self, Papel::Admin | Papel::Recepcao)
    }
}

/// A user as stored: the public fields plus the argon2id hash of the password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usuario {
    /// Identifier (UUID).
    pub id: String,
    /// Display name.
    pub nome: String,
    /// E-mail, as given (compared case-insensitively).
    pub email: String,
    /// Role.
    pub papel: Papel,
    /// The doctor a `medico` user is.
    pub medico_id: Option<String>,
    /// The patient a `paciente` user is.
    pub paciente_id: Option<String>,
    /// False once deactivated (`DELETE /usuarios/{id}`): cannot log in.
    pub ativo: bool,
    /// argon2id PHC string; never leaves the server.
    pub senha_hash: String,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it was last changed (RFC 3339, clinic offset).
    pub updated_at: String,
}

/// A user as clients see it: no password hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsuarioPublico {
    /// Identifier (UUID).
    pub id: String,
    /// Display name.
    #[schema(example = "Ana Recepção")]
    pub nome: String,
    /// E-mail (unique, case-insensitive).
    #[schema(example = "ana@clinica.example")]
    pub email: String,
    /// Role.
    pub papel: Papel,
    /// The doctor a `medico` user is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medico_id: Option<String>,
    /// The patient a `paciente` user is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paciente_id: Option<String>,
    /// False once deactivated.
    pub ativo: bool,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it was last changed (RFC 3339, clinic offset).
    pub updated_at: String,
}

impl From<&Usuario> for UsuarioPublico {
    fn from(u: &Usuario) -> Self {
        Self {
            id: u.id.clone(),
            nome: u.nome.clone(),
            email: u.email.clone(),
            papel: u.papel,
            medico_id: u.medico_id.clone(),
            paciente_id: u.paciente_id.clone(),
            ativo: u.ativo,
            created_at: u.created_at.clone(),
            updated_at: u.updated_at.clone(),
        }
    }
}

/// A session: the SHA-256 of its token (the token itself is never stored), whose it is and
/// until when it is valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sessao {
    /// Hex SHA-256 of the bearer token.
    pub id: String,
    /// The user.
    pub usuario_id: String,
    /// Expiry, Unix seconds.
    pub expira_em: i64,
}
