//! The payment check of a booking (SPEC-2 §12), in one function for every booking path:
//! the synchronous acceptance (422 with the code) and the worker's re-check under the write
//! lock (the task fails with the code).

use jiff::civil::Date;

use crate::error::AppError;
use crate::models::{ErroTarefa, FormaPagamento, Pagamento, StatusPagamento};
use crate::repositories::Db;

/// The form of payment a booking uses: the one asked for, else `convenio` when the
/// patient has a `convenio_id`, else `particular`.
pub fn forma_padrao(db: &Db, paciente_id: &str, forma: Option<FormaPagamento>) -> FormaPagamento {
    forma.unwrap_or_else(|| {
        match db
            .pacientes
            .get(paciente_id)
            .and_then(|p| p.convenio_id.as_ref())
        {
            Some(_) => FormaPagamento::Convenio,
            None => FormaPagamento::Particular,
        }
    })
}

/// Whether `paciente_id` may book `medico_id` on clinic-local day `dia` paying by `forma`
/// (`None`: [`forma_padrao`]); the appointment's `pagamento` (status `pendente`) when so.
/// Refusals, as `{code, detail}`: `convenio_inativo` (the patient has no plan, or it is
/// inactive or gone), `convenio_nao_aceito` (the doctor does not take it),
/// `carteirinha_vencida` (the card's validity is before `dia`; valid through `dia` is
/// fine) and `particular_nao_aceito`. The patient and doctor must exist (checked before).
pub fn checar(
    db: &Db,
    paciente_id: &str,
    medico_id: &str,
    forma: Option<FormaPagamento>,
    dia: Date,
) -> Result<Pagamento, ErroTarefa> {
    let recusa = |code: &str, detail: String| ErroTarefa {
        code: code.into(),
        detail,
        conflitos: Vec::new(),
    };
    let forma = forma_padrao(db, paciente_id, forma);
    let paciente = db.pacientes.get(paciente_id);
    let medico = db.medicos.get(medico_id);
    match forma {
        FormaPagamento::Particular => {
            if medico.is_some_and(|m| !m.aceita_particular) {
                return Err(recusa(
                    "particular_nao_aceito",
                    "O médico não atende particular.".into(),
                ));
            }
            Ok(Pagamento {
                forma,
                convenio_id: None,
                valor_centavos: medico.and_then(|m| m.valor_particular_centavos),
                status: StatusPagamento::Pendente,
            })
        }
        FormaPagamento::Convenio => {
            let Some(cid) = paciente.and_then(|p| p.convenio_id.clone()) else {
                return Err(recusa(
                    "convenio_inativo",
                    "O paciente não tem convênio cadastrado; use forma_pagamento particular."
                        .into(),
                ));
            };
            match db.convenios.get(&cid) {
                Some(c) if c.ativo => {}
                Some(c) => {
                    return Err(recusa(
                        "convenio_inativo",
                        format!("O convênio {} está inativo.", c.nome),
                    ));
                }
                None => {
                    return Err(recusa(
                        "convenio_inativo",
                        format!("O convênio {cid} não existe."),
                    ));
                }
            }
            if !medico.is_some_and(|m| m.convenios_aceitos.contains(&cid)) {
                return Err(recusa(
                    "convenio_nao_aceito",
                    "O médico não atende pelo convênio do paciente.".into(),
                ));
            }
            if let Some(v) = paciente.and_then(|p| p.validade_carteirinha)
                && v < dia
            {
                return Err(recusa(
                    "carteirinha_vencida",
                    format!("A carteirinha do convênio vale até {v}, antes da consulta em {dia}."),
                ));
            }
            Ok(Pagamento {
                forma,
                convenio_id: Some(cid),
                valor_centavos: None,
                status: StatusPagamento::Pendente,
            })
        }
    }
}

/// What the front desk's `POST /consultas` records: [`checar`]'s answer, or, where it
/// would refuse (the desk is exempt, like the §11 rules), the form asked for with the
/// patient's plan or the doctor's price as they are, `pendente`.
pub fn registrar(
    db: &Db,
    paciente_id: &str,
    medico_id: &str,
    forma: Option<FormaPagamento>,
    dia: Date,
) -> Pagamento {
    checar(db, paciente_id, medico_id, forma, dia).unwrap_or_else(|_| {
        let forma = forma_padrao(db, paciente_id, forma);
        Pagamento {
            forma,
            convenio_id: match forma {
                FormaPagamento::Convenio => db
                    .pacientes
                    .get(paciente_id)
                    .and_then(|p| p.convenio_id.clone()),
                FormaPagamento::Particular => None,
            },
            valor_centavos: match forma {
                FormaPagamento::Particular => db
                    .medicos
                    .get(medico_id)
                    .and_then(|m| m.valor_particular_centavos),
                FormaPagamento::Convenio => None,
            },
            status: StatusPagamento::Pendente,
        }
    })
}

/// [`checar`] for each of a series' days (`POST /consultas/agendar-serie`, all or nothing):
/// each day's `pagamento`, or the first refusal with every refused day. Its `detail` names
/// those days, e.g. a card that expires mid-series refuses the occurrences after its
/// validity, and then the whole series.
pub fn checar_dias(
    db: &Db,
    paciente_id: &str,
    medico_id: &str,
    forma: Option<FormaPagamento>,
    dias: &[Date],
) -> Result<Vec<Pagamento>, (ErroTarefa, Vec<Date>)> {
    let mut ok = Vec::with_capacity(dias.len());
    let mut primeira: Option<ErroTarefa> = None;
    let mut recusados = Vec::new();
    for dia in dias {
        match checar(db, paciente_id, medico_id, forma, *dia) {
            Ok(p) => ok.push(p),
            Err(e) => {
                recusados.push(*dia);
                primeira.get_or_insert(e);
            }
        }
    }
    match primeira {
        None => Ok(ok),
        Some(mut e) => {
            let datas: Vec<String> = recusados.iter().map(ToString::to_string).collect();
            e.detail = format!(
                "{} Nenhuma consulta da série foi agendada; {} de {} datas recusadas: {}.",
                e.detail,
                recusados.len(),
                dias.len(),
                datas.join(", ")
            );
            e.conflitos = datas;
            Err((e, recusados))
        }
    }
}

/// The payment of appointment `c` moved to clinic-local day `dia` (`POST
/// /consultas/{id}/remarcar`), paying by `forma` (`None`: the form it has, else
/// [`forma_padrao`]). [`checar`] runs for the new date (422 with the code). The appointment
/// keeps its `pagamento` as it is (plan, price copied at booking, status) when the form
/// stays the same, except that a pending plan payment takes the plan the check approved
/// (the patient's plan now, the one the move was checked against); a new form, or an
/// appointment booked before payments existed, gets the check's fresh `pagamento`
/// (`pendente`). A new form on a payment that is no longer
/// `pendente` is 409 `pagamento_nao_pendente` (settle it first, e.g. `pago` → `estornado`).
pub fn ao_remarcar(
    db: &Db,
    c: &crate::models::Consulta,
    forma: Option<FormaPagamento>,
    dia: Date,
) -> Result<Option<Pagamento>, AppError> {
    let atual = c.pagamento.as_ref();
    let forma = forma.or(atual.map(|p| p.forma));
    let novo = checar(db, &c.paciente_id, &c.medico_id, forma, dia).map_err(erro_api)?;
    match atual {
        Some(p)
            if p.forma == novo.forma
                && p.status == StatusPagamento::Pendente
                && p.convenio_id != novo.convenio_id =>
        {
            Ok(Some(Pagamento {
                convenio_id: novo.convenio_id,
                ..p.clone()
            }))
        }
        Some(p) if p.forma == novo.forma => Ok(Some(p.clone())),
        Some(p) if p.status != StatusPagamento::Pendente => Err(AppError::conflict(
            "pagamento_nao_pendente",
            format!(
                "O pagamento da consulta está {}: a forma de pagamento só muda enquanto ele está pendente.",
                nome(p.status)
            ),
        )),
        _ => Ok(Some(novo)),
    }
}

/// A refusal of [`checar`] as the synchronous answer: 422 with its code.
pub fn erro_api(e: ErroTarefa) -> AppError {
    let code = match e.code.as_str() {
        "convenio_inativo" => "convenio_inativo",
        "convenio_nao_aceito" => "convenio_nao_aceito",
        "carteirinha_vencida" => "carteirinha_vencida",
        "particular_nao_aceito" => "particular_nao_aceito",
        _ => "pagamento_recusado",
    };
    AppError::Unprocessable {
        code,
        detail: e.detail,
    }
}

/// Whether a payment may go from `de` to `para`: `pendente` → `pago` | `isento`,
/// `pago` → `estornado`; nothing else (`isento` and `estornado` are final).
pub fn pode_mudar(de: StatusPagamento, para: StatusPagamento) -> bool {
    use StatusPagamento::*;
    matches!((de, para), (Pendente, Pago | Isento) | (Pago, Estornado))
}

/// `POST /consultas/{id}/pagamento`: moves the appointment's payment to `para` (404 unknown
/// appointment; 409 `pagamento_ausente` for one booked before payments existed, 409
/// `transicao_pagamento_invalida` for a move [`pode_mudar`] refuses). Moving to `pago`
/// records the amount received: `valor` when given, else the amount the appointment has
/// (the private-pay price copied at booking), else, for private pay, the doctor's price
/// today (an appointment booked before the doctor had a price would otherwise count as
/// nothing received). Audited as a change of the appointment.
pub async fn alterar_status(
    app: &crate::services::App,
    ctx: &crate::services::Contexto,
    id: &str,
    para: StatusPagamento,
    valor: Option<u64>,
) -> Result<std::sync::Arc<crate::models::Consulta>, AppError> {
    let now = app.clock.stamp();
    app.commit(ctx, |db| {
        let old = db
            .consultas
            .get(id)
            .ok_or_else(|| AppError::not_found("Consulta"))?;
        let Some(pag) = old.pagamento.as_ref() else {
            return Err(AppError::conflict(
                "pagamento_ausente",
                "A consulta foi agendada antes dos pagamentos existirem e não tem pagamento.",
            ));
        };
        if !pode_mudar(pag.status, para) {
            return Err(AppError::conflict(
                "transicao_pagamento_invalida",
                format!(
                    "O pagamento está {} e não pode passar a {} (permitido: pendente → pago ou isento; pago → estornado).",
                    nome(pag.status),
                    nome(para)
                ),
            ));
        }
        let mut c = crate::models::Consulta::clone(old);
        let preco = db
            .medicos
            .get(&old.medico_id)
            .and_then(|m| m.valor_particular_centavos);
        if let Some(p) = c.pagamento.as_mut() {
            p.status = para;
            if para == StatusPagamento::Pago {
                p.valor_centavos = valor.or(p.valor_centavos).or(match p.forma {
                    FormaPagamento::Particular => preco,
                    FormaPagamento::Convenio => None,
                });
            }
        }
        c.updated_at = now;
        let c = std::sync::Arc::new(c);
        Ok((vec![crate::repositories::Op::PutConsulta(c.clone())], c))
    })
    .await
}

/// The status's name in JSON.
fn nome(s: StatusPagamento) -> &'static str {
    match s {
        StatusPagamento::Pendente => "pendente",
        StatusPagamento::Pago => "pago",
        StatusPagamento::Isento => "isento",
        StatusPagamento::Estornado => "estornado",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_moves_are_allowed() {
        use StatusPagamento::*;
        let all = [Pendente, Pago, Isento, Estornado];
        let mut ok = Vec::new();
        for de in all {
            for para in all {
                if pode_mudar(de, para) {
                    ok.push((de, para));
                }
            }
        }
        assert_eq!(
            ok,
            [(Pendente, Pago), (Pendente, Isento), (Pago, Estornado)]
        );
    }
}
