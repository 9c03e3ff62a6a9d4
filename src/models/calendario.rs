//! Calendar feeds (SPEC-2 §14): the token a calendar app subscribes with, stored only as
//! its SHA-256, one per doctor or patient (a new one replaces the previous).

use serde::{Deserialize, Serialize};

/// The live feed token of one doctor or patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenCalendario {
    /// `medico:<id>` or `paciente:<id>`: whose feed.
    pub id: String,
    /// SHA-256 of the token, hex (the token itself is shown once, in the feed's URL).
    pub hash: String,
    /// When it was issued (RFC 3339, clinic offset).
    pub created_at: String,
}

/// Answer of `POST /calendario/token`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UrlCalendario {
    /// The feed's address with its new token (absolute with `--url-publica`, else a path);
    /// shown only here. The previous token stops working.
    #[schema(
        example = "https://agenda.clinica.example/calendario/medico/0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b.ics?token=3f9a…"
    )]
    pub url: String,
}

/// What a public link (`/c/{token}`, SPEC-2 §13) shows of an appointment, as JSON: no CPF,
/// phone or birth date, the patient's first name at most.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsultaPublica {
    /// Start, clinic-local.
    #[schema(example = "2026-03-02T08:00:00")]
    pub inicio: String,
    /// End, clinic-local.
    #[schema(example = "2026-03-02T08:30:00")]
    pub fim: String,
    /// Status.
    pub status: super::StatusConsulta,
    /// The doctor's name.
    #[schema(example = "Dra. Ana Souza")]
    pub medico: Option<String>,
    /// The doctor's speciality.
    #[schema(example = "Cardiologia")]
    pub especialidade: Option<String>,
    /// The patient's first name.
    #[schema(example = "Maria")]
    pub paciente: Option<String>,
    /// What was done or refused, in Portuguese (after a `confirmar`/`cancelar`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mensagem: Option<String>,
}
