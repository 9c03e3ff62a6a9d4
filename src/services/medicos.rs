//! Doctors: unique CRM (ignoring punctuation and case); deleting one also deletes their
//! horários, and is refused while future active appointments exist.

use std::sync::Arc;

use super::{App, Contexto, Janela, Recorte, new_id};
use crate::domain::{Crm, fold};
use crate::error::AppError;
use crate::models::Medico;
use crate::repositories::{Db, Op};

/// A validated new doctor.
#[derive(Debug)]
pub struct NovoMedico {
    /// Trimmed name.
    pub nome: String,
    /// Council registration.
    pub crm: String,
    /// Speciality, non-empty.
    pub especialidade: String,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub telefone: Option<String>,
}

/// A validated partial update: `None` keeps a field, `Some(None)` clears an optional one.
#[derive(Debug, Default)]
pub struct AlteraMedico {
    /// New name.
    pub nome: Option<String>,
    /// New speciality.
    pub especialidade: Option<String>,
    /// New e-mail.
    pub email: Option<Option<String>>,
    /// New phone.
    pub telefone: Option<Option<String>>,
}

/// Finds one doctor.
pub fn find(app: &App, id: &str) -> Result<Arc<Medico>, AppError> {
    let found = app.store.read().medicos.get(id).cloned();
    found.ok_or_else(|| AppError::not_found("Médico"))
}

/// One page of [`list`].
pub fn page(app: &App, especialidade: Option<&str>, janela: Janela) -> Recorte<Medico> {
    let all = list(&app.store.read(), especialidade);
    janela.de(&all)
}

/// Lists doctors by name, optionally of one speciality (ignoring case and accents).
pub fn list(db: &Db, especialidade: Option<&str>) -> Vec<Arc<Medico>> {
    match especialidade.map(str::trim).filter(|e| !e.is_empty()) {
        None => db.medicos.iter().cloned().collect(),
        Some(e) => {
            let e = fold(e);
            db.medicos
                .iter()
                .filter(|m| fold(&m.especialidade) == e)
                .cloned()
                .collect()
        }
    }
}

/// Creates a doctor (409 on a duplicate CRM).
pub async fn create(app: &App, ctx: &Contexto, novo: NovoMedico) -> Result<Arc<Medico>, AppError> {
    let now = app.clock.stamp();
    app.commit(ctx, |db| {
        if let Some(other) = db.medicos.id_by_unique(&Crm::key(&novo.crm)) {
            return Err(AppError::conflict(
                "duplicate_crm",
                format!("Já existe um médico com este CRM (id {other})."),
            ));
        }
        let m = Arc::new(Medico {
            id: new_id(),
            nome: novo.nome,
            crm: novo.crm,
            especialidade: novo.especialidade,
            email: novo.email,
            telefone: novo.telefone,
            created_at: now.clone(),
            updated_at: now,
        });
        Ok((vec![Op::PutMedico(m.clone())], m))
    })
    .await
}

/// Applies a partial update (404 unknown id).
pub async fn update(
    app: &App,
    ctx: &Contexto,
    id: &str,
    alt: AlteraMedico,
) -> Result<Arc<Medico>, AppError> {
    let now = app.clock.stamp();
    app.commit(ctx, |db| {
        let old = db
            .medicos
            .get(id)
            .ok_or_else(|| AppError::not_found("Médico"))?;
        let mut m = Medico::clone(old);
        if let Some(nome) = alt.nome {
            m.nome = nome;
        }
        if let Some(e) = alt.especialidade {
            m.especialidade = e;
        }
        if let Some(v) = alt.email {
            m.email = v;
        }
        if let Some(v) = alt.telefone {
            m.telefone = v;
        }
        if m == **old {
            return Ok((vec![], old.clone()));
        }
        m.updated_at = now;
        let m = Arc::new(m);
        Ok((vec![Op::PutMedico(m.clone())], m))
    })
    .await
}

/// Deletes a doctor and their horários; 409 while future active appointments exist.
pub async fn delete(app: &App, ctx: &Contexto, id: &str) -> Result<(), AppError> {
    let now = app.clock.now_local();
    app.commit(ctx, |db| {
        if db.medicos.get(id).is_none() {
            return Err(AppError::not_found("Médico"));
        }
        if let Some(c) = super::consultas::first_active_after(db, true, id, now) {
            return Err(AppError::conflict(
                "record_in_use",
                format!("O médico tem consultas futuras agendadas ou confirmadas (por exemplo {}); cancele-as antes de excluí-lo.", c.id),
            ));
        }
        let mut ops: Vec<Op> = super::horarios::of_medico(db, id)
            .map(|h| Op::DelHorario(h.id.clone()))
            .collect();
        let had_horarios = ops.len();
        ops.push(Op::DelMedico(id.to_owned()));
        Ok((ops, had_horarios))
    })
    .await
    .map(|had_horarios| {
        if had_horarios > 0 {
            super::horarios::announce(app, id);
        }
    })
}
