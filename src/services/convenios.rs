//! Insurance plans (SPEC-2 §12): `/convenios`. A plan's name is unique ignoring case and
//! accents; a plan is never removed once created (doctors, patients and appointments may
//! name it): `DELETE` deactivates it, and an inactive plan cannot be used for new bookings.

use std::sync::Arc;

use super::{App, Contexto, Janela, Recorte, new_id};
use crate::domain::{fold, trim};
use crate::error::AppError;
use crate::models::Convenio;
use crate::repositories::{Db, Op};

/// Longest plan name, in characters.
pub const MAX_NOME: usize = 100;

/// A validated new plan.
#[derive(Debug, Clone)]
pub struct NovoConvenio {
    /// Trimmed name.
    pub nome: String,
    /// ANS registry number (6 digits).
    pub registro_ans: Option<String>,
    /// Whether it may be used (default `true`).
    pub ativo: bool,
}

/// A validated partial update: `None` keeps a field, `Some(None)` clears `registro_ans`.
#[derive(Debug, Default, Clone)]
pub struct AlteraConvenio {
    /// New name.
    pub nome: Option<String>,
    /// New registry number.
    pub registro_ans: Option<Option<String>>,
    /// Activate or deactivate.
    pub ativo: Option<bool>,
}

/// The filters of `GET /convenios`.
#[derive(Debug, Default, Clone)]
pub struct FiltroConvenios {
    /// Only active (`true`) or inactive (`false`) plans.
    pub ativo: Option<bool>,
    /// Only names containing this (ignoring case and accents).
    pub nome: Option<String>,
}

/// A plan's name: trimmed, 1 to [`MAX_NOME`] characters.
pub fn nome(s: &str) -> Result<String, &'static str> {
    match trim(s) {
        "" => Err("não pode ser vazio"),
        t if t.chars().count() > MAX_NOME => Err("deve ter no máximo 100 caracteres"),
        t => Ok(t.to_owned()),
    }
}

/// An ANS registry number: exactly 6 digits (the operator's registration at the Agência
/// Nacional de Saúde Suplementar).
pub fn registro_ans(s: &str) -> Result<String, &'static str> {
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err("registro ANS deve ter exatamente 6 dígitos (por exemplo 339679)")
    }
}

/// The largest amount accepted, in centavos (R$ 10.000.000,00).
pub const MAX_CENTAVOS: u64 = 1_000_000_000;

/// An amount in integer centavos read from a JSON number: a whole number from 0 to
/// [`MAX_CENTAVOS`] (`12.5` and `-1` are refused; `1500.0` is `1500`, an integer to JSON
/// Schema).
pub fn centavos(v: f64) -> Result<u64, &'static str> {
    if v.fract() == 0.0 && v >= 0.0 && v <= MAX_CENTAVOS as f64 {
        Ok(v as u64)
    } else {
        Err("deve ser um número inteiro de centavos entre 0 e 1000000000 (sem frações)")
    }
}

/// Longest card number, in characters.
pub const MAX_CARTEIRINHA: usize = 30;

/// A plan card's number: 1 to [`MAX_CARTEIRINHA`] ASCII letters and digits, as sent.
pub fn carteirinha(s: &str) -> Result<String, &'static str> {
    if s.is_empty() || s.len() > MAX_CARTEIRINHA || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Err("deve ter de 1 a 30 letras ou dígitos, sem espaços nem pontuação")
    } else {
        Ok(s.to_owned())
    }
}

/// 422 naming `campo` unless every id in `ids` is a registered plan.
pub fn existem(db: &Db, campo: &str, ids: &[String]) -> Result<(), AppError> {
    match ids
        .iter()
        .find(|id| db.convenios.get(id.as_str()).is_none())
    {
        Some(id) => Err(AppError::campo(
            campo,
            format!("convênio {id} não encontrado"),
        )),
        None => Ok(()),
    }
}

/// The rules of a stored plan's own fields, as `(campo, mensagem)`: what a restored backup
/// is checked against (the API's input goes through [`nome`] and [`registro_ans`] too).
pub fn regras(c: &Convenio) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match nome(&c.nome) {
        Err(m) => out.push(("nome", m.to_owned())),
        Ok(t) if t != c.nome => out.push((
            "nome",
            "não pode começar ou terminar com espaços".to_owned(),
        )),
        Ok(_) => {}
    }
    if let Some(r) = &c.registro_ans
        && let Err(m) = registro_ans(r)
    {
        out.push(("registro_ans", m.to_owned()));
    }
    out
}

/// The name reports and statistics give a payment by plan `id`: the plan's name; "Convênio
/// não informado" when the appointment names no plan (the front desk may record one without
/// it); the id of a plan not on record (plans are never deleted, but a restored backup may
/// predate one).
pub fn nome_do_plano(db: &Db, id: Option<&str>) -> String {
    match id.filter(|id| !id.is_empty()) {
        None => "Convênio não informado".to_owned(),
        Some(id) => db.convenios.get(id).map_or_else(
            || format!("(convênio não encontrado) {id}"),
            |cv| cv.nome.clone(),
        ),
    }
}

/// Finds one plan.
pub fn find(app: &App, id: &str) -> Result<Arc<Convenio>, AppError> {
    let found = app.store.read().convenios.get(id).cloned();
    found.ok_or_else(|| AppError::not_found("Convênio"))
}

/// One page of the plans that pass `f`, by name.
pub fn page(app: &App, f: &FiltroConvenios, janela: Janela) -> Recorte<Convenio> {
    let db = app.store.read();
    let nome = f.nome.as_deref().map(fold);
    let keep = |c: &&Arc<Convenio>| {
        f.ativo.is_none_or(|a| c.ativo == a)
            && nome.as_deref().is_none_or(|n| fold(&c.nome).contains(n))
    };
    if f.ativo.is_none() && nome.is_none() {
        return janela.recortar(db.convenios.iter(), Some(db.convenios.len()));
    }
    janela.recortar(db.convenios.iter().filter(keep), None)
}

/// 409 `duplicate_convenio` when another plan (not `id`) has this name.
fn unico(db: &Db, nome: &str, id: Option<&str>) -> Result<(), AppError> {
    match db.convenios.id_by_unique(&fold(nome)) {
        Some(other) if Some(other) != id => Err(AppError::conflict(
            "duplicate_convenio",
            format!("Já existe um convênio com este nome (id {other})."),
        )),
        _ => Ok(()),
    }
}

/// Creates a plan (409 `duplicate_convenio` on a name already taken).
pub async fn create(
    app: &App,
    ctx: &Contexto,
    novo: NovoConvenio,
) -> Result<Arc<Convenio>, AppError> {
    let now = app.clock.stamp();
    app.commit(ctx, |db| {
        unico(db, &novo.nome, None)?;
        let c = Arc::new(Convenio {
            id: new_id(),
            nome: novo.nome,
            registro_ans: novo.registro_ans,
            ativo: novo.ativo,
            created_at: now.clone(),
            updated_at: now,
        });
        Ok((vec![Op::PutConvenio(c.clone())], c))
    })
    .await
}

/// Applies a partial update (404 unknown id, 409 on a name already taken).
pub async fn update(
    app: &App,
    ctx: &Contexto,
    id: &str,
    alt: AlteraConvenio,
) -> Result<Arc<Convenio>, AppError> {
    let now = app.clock.stamp();
    app.commit(ctx, |db| {
        let old = db
            .convenios
            .get(id)
            .ok_or_else(|| AppError::not_found("Convênio"))?;
        let mut c = Convenio::clone(old);
        if let Some(n) = alt.nome {
            unico(db, &n, Some(id))?;
            c.nome = n;
        }
        if let Some(r) = alt.registro_ans {
            c.registro_ans = r;
        }
        if let Some(a) = alt.ativo {
            c.ativo = a;
        }
        if c == **old {
            return Ok((vec![], old.clone()));
        }
        c.updated_at = now;
        let c = Arc::new(c);
        Ok((vec![Op::PutConvenio(c.clone())], c))
    })
    .await
}

/// Deactivates a plan (404 unknown id): it stays, so that the doctors, patients and
/// appointments naming it keep a valid reference, but new bookings cannot use it.
/// Deactivating an inactive plan changes nothing.
pub async fn deactivate(app: &App, ctx: &Contexto, id: &str) -> Result<(), AppError> {
    update(
        app,
        ctx,
        id,
        AlteraConvenio {
            ativo: Some(false),
            ..AlteraConvenio::default()
        },
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registro_ans_is_six_digits() {
        assert!(registro_ans("339679").is_ok());
        for bad in ["33967", "3396790", "33967a", " 339679", "", "３３９６７９"] {
            assert!(registro_ans(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nome_is_trimmed_and_bounded() {
        assert_eq!(nome("  Unimed ").as_deref(), Ok("Unimed"));
        assert!(nome("   ").is_err());
        assert!(nome(&"a".repeat(MAX_NOME + 1)).is_err());
    }
}
