//! Doctors: unique CRM (ignoring punctuation and case); deleting one also deletes their
//! horários, and is refused while future active appointments exist.

use std::sync::Arc;

use super::{App, Contexto, Janela, Recorte, new_id};
use crate::domain::{Crm, fold};
use crate::error::AppError;
use crate::models::{Medico, Papel};
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
    /// Slot length in minutes (`None`: `--slot-minutes`).
    pub duracao_consulta_minutos: Option<u16>,
    /// Minutes kept free after each appointment (`None`: 0).
    pub intervalo_minutos: Option<u16>,
    /// Accepted insurance plans (ids, no repeats; each must exist).
    pub convenios_aceitos: Vec<String>,
    /// Whether private-pay bookings are taken.
    pub aceita_particular: bool,
    /// Private-pay price in centavos.
    pub valor_particular_centavos: Option<u64>,
}

/// Bounds of `duracao_consulta_minutos` (SPEC-2 §11): 5 minutes to 8 hours.
pub const DURACAO_MINUTOS: std::ops::RangeInclusive<u16> = 5..=480;
/// Bounds of `intervalo_minutos`: none to 4 hours.
pub const INTERVALO_MINUTOS: std::ops::RangeInclusive<u16> = 0..=240;

/// `m` as answered: a record stored before the grid fields existed shows the defaults
/// (`--slot-minutes`, no buffer) it is scheduled with.
pub fn com_padroes(m: Arc<Medico>, slot_minutes: u16) -> Arc<Medico> {
    if m.duracao_consulta_minutos.is_some() && m.intervalo_minutos.is_some() {
        return m;
    }
    let mut v = Medico::clone(&m);
    v.duracao_consulta_minutos.get_or_insert(slot_minutes);
    v.intervalo_minutos.get_or_insert(0);
    Arc::new(v)
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
    /// New slot length.
    pub duracao_consulta_minutos: Option<u16>,
    /// New buffer.
    pub intervalo_minutos: Option<u16>,
    /// New list of accepted plans (replaces the old one; existing appointments keep theirs).
    pub convenios_aceitos: Option<Vec<String>>,
    /// New private-pay flag.
    pub aceita_particular: Option<bool>,
    /// New private-pay price (`Some(None)` clears it; booked appointments keep their amount).
    pub valor_particular_centavos: Option<Option<u64>>,
}

/// A doctor as `papel` sees them: a patient gets no e-mail or phone (SPEC-2 §10: a patient
/// reads a doctor's name, speciality and hours; what booking needs — plans, private price,
/// slot length — and the CRM, a public registry, stay).
fn visto_por(m: Arc<Medico>, papel: Papel) -> Arc<Medico> {
    if papel != Papel::Paciente || (m.email.is_none() && m.telefone.is_none()) {
        return m;
    }
    let mut m = Medico::clone(&m);
    m.email = None;
    m.telefone = None;
    Arc::new(m)
}

/// Finds one doctor, as `papel` sees them.
pub fn find(app: &App, id: &str, papel: Papel) -> Result<Arc<Medico>, AppError> {
    let found = app.store.read().medicos.get(id).cloned();
    found
        .map(|m| visto_por(com_padroes(m, app.config.slot_minutes), papel))
        .ok_or_else(|| AppError::not_found("Médico"))
}

/// One page of [`list`], as `papel` sees it.
pub fn page(
    app: &App,
    especialidade: Option<&str>,
    janela: Janela,
    papel: Papel,
) -> Recorte<Medico> {
    let all: Vec<Arc<Medico>> = list(&app.store.read(), especialidade)
        .into_iter()
        .map(|m| visto_por(com_padroes(m, app.config.slot_minutes), papel))
        .collect();
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
        super::convenios::existem(db, "convenios_aceitos", &novo.convenios_aceitos)?;
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
            duracao_consulta_minutos: Some(
                novo.duracao_consulta_minutos
                    .unwrap_or(app.config.slot_minutes),
            ),
            intervalo_minutos: Some(novo.intervalo_minutos.unwrap_or(0)),
            convenios_aceitos: novo.convenios_aceitos,
            aceita_particular: novo.aceita_particular,
            valor_particular_centavos: novo.valor_particular_centavos,
        });
        Ok((vec![Op::PutMedico(m.clone())], m))
    })
    .await
}

/// Applies a partial update (404 unknown id). A changed slot length or buffer changes the
/// doctor's whole grid (SPEC-2 §11): `horario_atualizado` tells open agendas to read it again.
pub async fn update(
    app: &App,
    ctx: &Contexto,
    id: &str,
    alt: AlteraMedico,
) -> Result<Arc<Medico>, AppError> {
    let now = app.clock.stamp();
    let minutos = app.config.slot_minutes;
    let (m, grade_mudou) = app
        .commit(ctx, |db| {
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
            if let Some(v) = alt.duracao_consulta_minutos {
                m.duracao_consulta_minutos = Some(v);
            }
            if let Some(v) = alt.intervalo_minutos {
                m.intervalo_minutos = Some(v);
            }
            if let Some(v) = alt.convenios_aceitos {
                super::convenios::existem(db, "convenios_aceitos", &v)?;
                m.convenios_aceitos = v;
            }
            if let Some(v) = alt.aceita_particular {
                m.aceita_particular = v;
            }
            if let Some(v) = alt.valor_particular_centavos {
                m.valor_particular_centavos = v;
            }
            if m == **old {
                return Ok((vec![], (com_padroes(old.clone(), minutos), false)));
            }
            let grade = |x: &Medico| super::horarios::grade_de(x, minutos);
            let grade_mudou = grade(&m) != grade(old);
            m.updated_at = now;
            let m = Arc::new(m);
            Ok((
                vec![Op::PutMedico(m.clone())],
                (com_padroes(m, minutos), grade_mudou),
            ))
        })
        .await?;
    if grade_mudou {
        super::horarios::announce(app, id);
    }
    Ok(m)
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
        // Their blocks go with them (SPEC-2 §11; a restore refuses a block without its doctor).
        ops.extend(
            db.bloqueios
                .range(
                    std::ops::Bound::Included((id.to_owned(), jiff::civil::DateTime::MIN)),
                    std::ops::Bound::Included((id.to_owned(), jiff::civil::DateTime::MAX)),
                )
                .map(|b| Op::DelBloqueio(b.id.clone())),
        );
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
