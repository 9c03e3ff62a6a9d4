//! Appointments' histories (SPEC-2 §11, `GET /consultas/{id}/historico`): each change of an
//! appointment (created, status, moved, cancelled) becomes one entry, derived from the
//! write's own operations and journaled in the same entry as the change, so every path that
//! writes an appointment (the front desk's form, a booking task, `cancelar`, `remarcar`)
//! records its history without saying so.

use std::ops::Bound;
use std::sync::Arc;

use crate::domain::format_datetime;
use crate::models::{AcaoHistorico, Consulta, EntradaHistorico, StatusConsulta};
use crate::repositories::{Db, Op};

/// One entry.
fn entrada(
    c: &Consulta,
    em: &str,
    usuario_id: Option<&str>,
    acao: AcaoHistorico,
    de: Option<String>,
    para: Option<String>,
    motivo: Option<String>,
) -> Op {
    Op::PutHistorico(Arc::new(EntradaHistorico {
        id: uuid::Uuid::now_v7().to_string(),
        consulta_id: c.id.clone(),
        em: em.to_owned(),
        acao,
        de,
        para,
        usuario_id: usuario_id.map(str::to_owned),
        motivo,
    }))
}

/// The history entries of a write's `ops`, decided against `db` before they apply: a new
/// appointment is `criada`; a changed start `remarcada` (`de`/`para` the starts); a change
/// to `cancelada` is `cancelada` (with `motivo_cancelamento`); any other status change is
/// `status`. A deleted appointment takes its history with it.
pub fn derivar(db: &Db, ops: &[Op], em: &str, usuario_id: Option<&str>) -> Vec<Op> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::PutConsulta(c) => match db.consultas.get(&c.id) {
                None => out.push(entrada(
                    c,
                    em,
                    usuario_id,
                    AcaoHistorico::Criada,
                    None,
                    None,
                    None,
                )),
                Some(old) => {
                    // A new end alone is a move too (`de`/`para` are then the same start): the
                    // entry is what makes the `.ics` SEQUENCE grow (SPEC-2 §14).
                    if old.inicio != c.inicio
                        || old.inicio_offset != c.inicio_offset
                        || old.fim != c.fim
                        || old.fim_offset != c.fim_offset
                    {
                        out.push(entrada(
                            c,
                            em,
                            usuario_id,
                            AcaoHistorico::Remarcada,
                            Some(format_datetime(old.inicio)),
                            Some(format_datetime(c.inicio)),
                            None,
                        ));
                    }
                    if old.status != c.status {
                        let (acao, motivo) = if c.status == StatusConsulta::Cancelada {
                            (AcaoHistorico::Cancelada, c.motivo_cancelamento.clone())
                        } else {
                            (AcaoHistorico::Status, None)
                        };
                        out.push(entrada(
                            c,
                            em,
                            usuario_id,
                            acao,
                            Some(old.status.as_str().to_owned()),
                            Some(c.status.as_str().to_owned()),
                            motivo,
                        ));
                    }
                }
            },
            Op::DelConsulta(id) => {
                out.extend(de_consulta(db, id).map(|e| Op::DelHistorico(e.id.clone())))
            }
            _ => {}
        }
    }
    out
}

/// The stored entries of one appointment, oldest first.
fn de_consulta<'a>(
    db: &'a Db,
    consulta_id: &str,
) -> impl Iterator<Item = &'a Arc<EntradaHistorico>> {
    db.historico.range(
        Bound::Included(consulta_id.to_owned()),
        Bound::Included(consulta_id.to_owned()),
    )
}

/// The history of appointment `c`, oldest first. An appointment created before histories
/// were kept starts with a `criada` entry made from its `created_at`.
pub fn de(db: &Db, c: &Consulta) -> Vec<Arc<EntradaHistorico>> {
    let mut out: Vec<Arc<EntradaHistorico>> = de_consulta(db, &c.id).cloned().collect();
    if out.first().is_none_or(|e| e.acao != AcaoHistorico::Criada) {
        out.insert(
            0,
            Arc::new(EntradaHistorico {
                id: format!("{}:criada", c.id),
                consulta_id: c.id.clone(),
                em: c.created_at.clone(),
                acao: AcaoHistorico::Criada,
                de: None,
                para: None,
                usuario_id: None,
                motivo: None,
            }),
        );
    }
    out
}
