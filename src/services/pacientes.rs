//! Patients: unique CPF; deletion refused while future active appointments exist.

use std::sync::Arc;

use jiff::civil::Date;

use super::{App, Contexto, Escopo, Janela, Recorte, new_id};
use crate::domain::{Cpf, fold};
use crate::error::AppError;
use crate::models::Paciente;
use crate::repositories::{Db, Op};

/// A validated new patient.
#[derive(Debug)]
pub struct NovoPaciente {
    /// Trimmed name.
    pub nome: String,
    /// Valid CPF.
    pub cpf: Cpf,
    /// Birth date, not in the future.
    pub data_nascimento: Date,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub telefone: Option<String>,
    /// Insurance plan.
    pub convenio: Option<String>,
    /// The plan in the registry (must exist).
    pub convenio_id: Option<String>,
    /// The plan card's number.
    pub carteirinha: Option<String>,
    /// The card's last valid day.
    pub validade_carteirinha: Option<Date>,
    /// Receives e-mail about appointments (SPEC-2 §13).
    pub notificacoes_email: bool,
}

/// A validated partial update: `None` keeps a field, `Some(None)` clears an optional one.
#[derive(Debug, Default)]
pub struct AlteraPaciente {
    /// New name.
    pub nome: Option<String>,
    /// Corrected CPF (must stay unique).
    pub cpf: Option<Cpf>,
    /// Corrected birth date.
    pub data_nascimento: Option<Date>,
    /// New e-mail.
    pub email: Option<Option<String>>,
    /// New phone.
    pub telefone: Option<Option<String>>,
    /// New insurance plan.
    pub convenio: Option<Option<String>>,
    /// New registered plan.
    pub convenio_id: Option<Option<String>>,
    /// New card number.
    pub carteirinha: Option<Option<String>>,
    /// New card validity.
    pub validade_carteirinha: Option<Option<Date>>,
    /// E-mail opt-in/opt-out (SPEC-2 §13).
    pub notificacoes_email: Option<bool>,
}

fn duplicate_cpf(other_id: &str) -> AppError {
    AppError::conflict(
        "duplicate_cpf",
        format!("Já existe um paciente com este CPF (id {other_id})."),
    )
}

/// Finds one patient.
pub fn find(app: &App, id: &str) -> Result<Arc<Paciente>, AppError> {
    let found = app.store.read().pacientes.get(id).cloned();
    found.ok_or_else(|| AppError::not_found("Paciente"))
}

/// Whether `escopo` may see patient `id`: a doctor sees those with an appointment with
/// them (any status, any date), a patient only themselves.
pub fn visivel(db: &Db, id: &str, escopo: &Escopo) -> bool {
    match escopo {
        Escopo::Tudo => true,
        Escopo::Paciente(p) => p == id,
        Escopo::Medico(m) => db
            .consultas
            .of_paciente(id, jiff::civil::DateTime::MIN, jiff::civil::DateTime::MAX)
            .any(|c| c.medico_id == *m),
        Escopo::Nada => false,
    }
}

/// Finds one patient the caller may see (404 otherwise, as if it did not exist).
pub fn find_visivel(app: &App, id: &str, escopo: &Escopo) -> Result<Arc<Paciente>, AppError> {
    let db = app.store.read();
    db.pacientes
        .get(id)
        .filter(|_| visivel(&db, id, escopo))
        .cloned()
        .ok_or_else(|| AppError::not_found("Paciente"))
}

/// One page of the patients the caller may see, filtered by `q` as [`list`].
pub fn page_visivel(
    app: &App,
    q: Option<&str>,
    escopo: &Escopo,
    janela: Janela,
) -> Recorte<Paciente> {
    let db = app.store.read();
    let all = list(&db, q);
    if *escopo == Escopo::Tudo {
        return janela.de(&all);
    }
    let seen: Vec<Arc<Paciente>> = all
        .into_iter()
        .filter(|p| visivel(&db, &p.id, escopo))
        .collect();
    janela.de(&seen)
}

/// One page of [`list`].
pub fn page(app: &App, q: Option<&str>, janela: Janela) -> Recorte<Paciente> {
    let all = list(&app.store.read(), q);
    janela.de(&all)
}

/// Lists patients by name; `q` matches name or CPF ignoring case and accents.
pub fn list(db: &Db, q: Option<&str>) -> Vec<Arc<Paciente>> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let Some(q) = q else {
        return db.pacientes.iter().cloned().collect();
    };
    let needle = fold(q);
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let only_cpf_chars = q
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | ' '));
    db.pacientes
        .iter()
        .filter(|p| {
            fold(&p.nome).contains(&needle)
                || (only_cpf_chars && !digits.is_empty() && p.cpf.contains(&digits))
        })
        .cloned()
        .collect()
}

/// Creates a patient (409 on a duplicate CPF).
pub async fn create(
    app: &App,
    ctx: &Contexto,
    novo: NovoPaciente,
) -> Result<Arc<Paciente>, AppError> {
    let now = app.clock.stamp();
    app.commit(ctx, |db| {
        if let Some(other) = db.pacientes.id_by_unique(novo.cpf.as_str()) {
            return Err(duplicate_cpf(other));
        }
        if let Some(c) = &novo.convenio_id {
            super::convenios::existem(db, "convenio_id", std::slice::from_ref(c))?;
        }
        let p = Arc::new(Paciente {
            id: new_id(),
            nome: novo.nome,
            cpf: novo.cpf.as_str().to_owned(),
            data_nascimento: novo.data_nascimento,
            email: novo.email,
            telefone: novo.telefone,
            convenio: novo.convenio,
            notificacoes_email: novo.notificacoes_email,
            created_at: now.clone(),
            updated_at: now,
            convenio_id: novo.convenio_id,
            carteirinha: novo.carteirinha,
            validade_carteirinha: novo.validade_carteirinha,
        });
        Ok((vec![Op::PutPaciente(p.clone())], p))
    })
    .await
}

/// Applies a partial update (404 unknown id, 409 a CPF another patient has).
pub async fn update(
    app: &App,
    ctx: &Contexto,
    id: &str,
    alt: AlteraPaciente,
) -> Result<Arc<Paciente>, AppError> {
    let now = app.clock.stamp();
    app.commit(ctx, |db| {
        let old = db
            .pacientes
            .get(id)
            .ok_or_else(|| AppError::not_found("Paciente"))?;
        let mut p = Paciente::clone(old);
        if let Some(nome) = alt.nome {
            p.nome = nome;
        }
        if let Some(cpf) = alt.cpf {
            if let Some(other) = db.pacientes.id_by_unique(cpf.as_str())
                && other != id
            {
                return Err(duplicate_cpf(other));
            }
            p.cpf = cpf.as_str().to_owned();
        }
        if let Some(d) = alt.data_nascimento {
            p.data_nascimento = d;
        }
        if let Some(v) = alt.email {
            p.email = v;
        }
        if let Some(v) = alt.telefone {
            p.telefone = v;
        }
        if let Some(v) = alt.convenio {
            p.convenio = v;
        }
        if let Some(v) = alt.convenio_id {
            if let Some(c) = &v {
                super::convenios::existem(db, "convenio_id", std::slice::from_ref(c))?;
            }
            p.convenio_id = v;
        }
        if let Some(v) = alt.carteirinha {
            p.carteirinha = v;
        }
        if let Some(v) = alt.validade_carteirinha {
            p.validade_carteirinha = v;
        }
        if let Some(v) = alt.notificacoes_email {
            p.notificacoes_email = v;
        }
        if p == **old {
            return Ok((vec![], old.clone()));
        }
        p.updated_at = now;
        let p = Arc::new(p);
        Ok((vec![Op::PutPaciente(p.clone())], p))
    })
    .await
}

/// Deletes a patient; 409 while they have appointments not yet over that are `agendada`
/// or `confirmada`. Past appointments stay as history.
pub async fn delete(app: &App, ctx: &Contexto, id: &str) -> Result<(), AppError> {
    let now = app.clock.now_local();
    app.commit(ctx, |db| {
        if db.pacientes.get(id).is_none() {
            return Err(AppError::not_found("Paciente"));
        }
        if let Some(c) = super::consultas::first_active_after(db, false, id, now) {
            return Err(AppError::conflict(
                "record_in_use",
                format!("O paciente tem consultas futuras agendadas ou confirmadas (por exemplo {}); cancele-as antes de excluí-lo.", c.id),
            ));
        }
        Ok((vec![Op::DelPaciente(id.to_owned())], ()))
    })
    .await
}
