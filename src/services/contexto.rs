//! The explicit context of a request's writes (ARCHITECTURE "The caller is explicit"):
//! built once per request by the controllers' extractor and passed to every service call
//! that writes, so nothing reaches a write through hidden state (a task-local does not cross
//! `spawn_blocking`, a parameter does). SPEC-2 §10 adds the caller (user and role) here.

use super::idempotency::IdemCtx;
use crate::models::Papel;

/// The signed-in caller of a request (SPEC-2 §10), or the system itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chamador {
    /// The user; `None` for the system (internal writes, single-user mode `--auth off`).
    pub usuario_id: Option<String>,
    /// What the caller may do.
    pub papel: Papel,
    /// The doctor a `medico` user is.
    pub medico_id: Option<String>,
    /// The patient a `paciente` user is.
    pub paciente_id: Option<String>,
    /// The session (SHA-256 of its token) the request came with.
    pub sessao: Option<String>,
}

/// Which records a caller may see (SPEC-2 §10's table, record by record): staff see all,
/// a `medico` their own appointments and the patients they have one with, a `paciente`
/// their own record and appointments. Outside it a record is 404, as if it did not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Escopo {
    /// Every record (staff, the system).
    Tudo,
    /// What concerns this doctor.
    Medico(String),
    /// What concerns this patient.
    Paciente(String),
    /// Nothing (a `medico`/`paciente` user without its record).
    Nada,
}

impl Chamador {
    /// The records this caller may see.
    pub fn escopo(&self) -> Escopo {
        match (self.papel, &self.medico_id, &self.paciente_id) {
            (Papel::Admin | Papel::Recepcao, _, _) => Escopo::Tudo,
            (Papel::Medico, Some(m), _) => Escopo::Medico(m.clone()),
            (Papel::Paciente, _, Some(p)) => Escopo::Paciente(p.clone()),
            (Papel::Medico | Papel::Paciente, _, _) => Escopo::Nada,
        }
    }

    /// The system: an administrator without a user (internal writes, `--auth off`).
    pub fn sistema() -> Self {
        Self {
            usuario_id: None,
            papel: Papel::Admin,
            medico_id: None,
            paciente_id: None,
            sessao: None,
        }
    }
}

/// Who asked for a write and how its answer is kept.
#[derive(Debug, Clone)]
pub struct Contexto {
    /// The request id the per-request log line carries (`x-request-id`), or what started an
    /// internal write (`"interno:…"`).
    pub request_id: String,
    /// The request's `Idempotency-Key` and body fingerprint, when it sent one.
    pub idempotencia: Option<IdemCtx>,
    /// The status the route answers on success, stated once by its controller: the
    /// answer journaled for an `Idempotency-Key` is replayed with it.
    pub status: u16,
    /// Who asked: `None` for a public route's anonymous caller.
    pub chamador: Option<Chamador>,
    /// The client's address, for the audit trail (`None` for internal writes and
    /// in-process requests).
    pub ip: Option<String>,
}

impl Contexto {
    /// The context of a write no request asked for (demo data, scheduled backups): no
    /// idempotency answer is kept.
    pub fn interno(origem: &str) -> Self {
        Self {
            request_id: format!("interno:{origem}"),
            idempotencia: None,
            status: 200,
            chamador: Some(Chamador::sistema()),
            ip: None,
        }
    }
}

/// A filter by doctor as `escopo` may ask it (reports and statistics, SPEC-2 §10: staff any
/// doctor or none, a `medico` their own): a `medico`'s is set to their own; another doctor's
/// id, or a caller with no doctor, is 404 `Médico`, as if it did not exist.
pub fn so_o_proprio_medico(
    medico_id: &mut Option<String>,
    escopo: &Escopo,
) -> Result<(), crate::error::AppError> {
    match escopo {
        Escopo::Tudo => Ok(()),
        Escopo::Medico(m) if medico_id.as_ref().is_none_or(|x| x == m) => {
            *medico_id = Some(m.clone());
            Ok(())
        }
        _ => Err(crate::error::AppError::not_found("Médico")),
    }
}
