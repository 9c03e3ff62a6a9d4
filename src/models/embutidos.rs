//! Appointments with their patient and doctor embedded (SPEC-2 §11,
//! `GET /consultas?incluir=paciente,medico`): the front desk reads "who is at 9:00" in one call.

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use super::Consulta;

/// The patient of an embedded appointment: what the front desk needs to call them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PacienteResumo {
    /// Identifier (UUID).
    pub id: String,
    /// Full name.
    #[schema(example = "Maria da Conceição")]
    pub nome: String,
    /// Phone number.
    pub telefone: Option<String>,
}

/// The doctor of an embedded appointment.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MedicoResumo {
    /// Identifier (UUID).
    pub id: String,
    /// Full name.
    #[schema(example = "Dra. Ana Lúcia")]
    pub nome: String,
    /// Speciality.
    #[schema(example = "Cardiologia")]
    pub especialidade: String,
}

/// An appointment, and with `incluir` its patient and/or doctor. Without `incluir` it is
/// exactly a `Consulta`. An embedded field is `null` when the record no longer exists (an
/// old appointment of a deleted patient or doctor).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ConsultaDetalhada {
    /// The appointment's own fields.
    #[serde(flatten)]
    #[schema(value_type = Consulta)]
    pub consulta: Arc<Consulta>,
    /// The patient (`incluir=paciente`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PacienteResumo>)]
    pub paciente: Option<Option<PacienteResumo>>,
    /// The doctor (`incluir=medico`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<MedicoResumo>)]
    pub medico: Option<Option<MedicoResumo>>,
}
