//! `POST /lista-espera/{id}/aceitar` (SPEC-2 §11): an entry accepts the slot held for it,
//! which is booked through the booking queue like `POST /consultas/agendar`.

use super::*;
use crate::models::{EntradaEspera, StatusEspera};
use crate::services::pagamento;

/// Accepts the pending offer of entry `id`: in one write the booking task is journaled
/// (the hold stays the entry's, so nobody else can book the slot meanwhile, and it does
/// not lapse while the task waits) and the entry records the task; then the worker books
/// it (`decidir`), and the entry becomes `agendada` in the same write as the appointment.
/// 404 outside the caller's scope, 409 `sem_oferta` / `oferta_aceita` / `oferta_expirada`,
/// 422 `antecedencia_minima` / `fora_do_horizonte` when the clinic's rules now forbid it.
/// The payment check (SPEC-2 §12, `forma`: `None` = the default form) runs for the slot's
/// date: 422 with its code, and the offer stays pending; the worker checks it again.
pub async fn aceitar(
    app: &App,
    ctx: &Contexto,
    id: &str,
    escopo: &Escopo,
    forma: Option<crate::models::FormaPagamento>,
) -> Result<Agendado, AppError> {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let criado = app.clock.stamp();
    let tz = app.clock.tz();
    let (out, tarefa) = app
        .commit_reply(
            ctx,
            |db| {
                let e = db
                    .lista_espera
                    .get(id)
                    .filter(|e| lista_espera::visivel(e, escopo))
                    .ok_or_else(|| AppError::not_found("Entrada da lista de espera"))?;
                let o = match (&e.status, &e.oferta) {
                    (StatusEspera::Oferecida, Some(o)) => o.clone(),
                    _ => {
                        return Err(AppError::conflict(
                            "sem_oferta",
                            format!(
                                "A entrada {} não tem oferta pendente (status: {}).",
                                e.id,
                                e.status.as_str()
                            ),
                        ));
                    }
                };
                if let Some(t) = &e.tarefa_id {
                    return Err(AppError::conflict(
                        "oferta_aceita",
                        format!(
                            "A oferta da entrada {} já foi aceita; acompanhe a tarefa {t}.",
                            e.id
                        ),
                    ));
                }
                let hold = db
                    .reservas
                    .get(&Reserva::key(&o.medico_id, o.slot))
                    .filter(|r| r.lista_espera_id.as_deref() == Some(id) && r.expira_em > now)
                    .cloned();
                let Some(hold) = hold else {
                    return Err(AppError::conflict(
                        "oferta_expirada",
                        format!("A oferta do horário {} expirou.", format_datetime(o.slot)),
                    ));
                };
                // The doctor's own slot length, as the offer was made (SPEC-2 §11).
                let (len, _) =
                    crate::services::horarios::grade_do_medico(db, &o.medico_id, minutes);
                let iv = Intervalo::slot(o.slot, len, tz);
                // The clinic's rules apply as to `agendar`: 422, and the offer stays.
                let r = crate::services::regras::atuais(db);
                crate::services::regras::marcacao(&r, now, tz, iv.inicio_em, iv.inicio)?;
                let forma = pagamento::forma_padrao(db, &e.paciente_id, forma);
                pagamento::checar(
                    db,
                    &e.paciente_id,
                    &o.medico_id,
                    Some(forma),
                    iv.inicio.date(),
                )
                .map_err(pagamento::erro_api)?;
                let (inicio_offset, fim_offset) = iv.offsets(tz);
                let params = ParamsAgendar {
                    consulta_id: new_id(),
                    paciente_id: e.paciente_id.clone(),
                    medico_id: o.medico_id.clone(),
                    inicio: iv.inicio,
                    fim: iv.fim,
                    inicio_offset,
                    fim_offset,
                    observacoes: None,
                    lista_espera_id: Some(e.id.clone()),
                    forma_pagamento: Some(forma),
                };
                let mut t = tarefas::nova(TipoTarefa::AgendarConsulta, &params, criado.clone())?;
                if let Some(c) = ctx.chamador.as_ref() {
                    Arc::make_mut(&mut t).usuario_id = c.usuario_id.clone();
                }
                let novo = Arc::new(EntradaEspera {
                    tarefa_id: Some(t.id.clone()),
                    updated_at: criado.clone(),
                    ..EntradaEspera::clone(e)
                });
                let out = Agendado {
                    status: "pendente".into(),
                    task_id: t.id.clone(),
                    slot: format_datetime(o.slot),
                    mensagem: "Consulta em processamento.".into(),
                };
                // The hold lasts at least a booking's hold from now, so it never looks lapsed
                // to others while the task waits for the worker.
                let ate = now
                    .saturating_add(SignedDuration::from_secs(
                        i64::try_from(app.config.hold_ttl_secs).unwrap_or(i64::MAX),
                    ))
                    .unwrap_or(now)
                    .max(hold.expira_em);
                let hold = Arc::new(Reserva {
                    expira_em: ate,
                    ..Reserva::clone(&hold)
                });
                Ok((
                    vec![
                        Op::PutTarefa(t.clone()),
                        Op::PutReserva(hold),
                        Op::PutEspera(novo),
                    ],
                    (out, t),
                ))
            },
            |(out, _)| out,
        )
        .await?;
    tarefas::accepted(app, &tarefa);
    Ok(out)
}
