//! The front desk's operations on an appointment (SPEC-2 §11): `cancelar` and `remarcar`,
//! each decided in one write under the store's write lock and announced once durable.

use super::*;
use crate::models::{Consulta, StatusConsulta};
use crate::services::{consultas, pagamento, regras};

/// The appointment `id` as `ctx`'s caller may act on it: 404 when unknown or outside what
/// they may see (SPEC-2 §10).
fn alvo<'a>(db: &'a Db, ctx: &Contexto, id: &str) -> Result<&'a Arc<Consulta>, AppError> {
    let escopo = ctx
        .chamador
        .as_ref()
        .map_or(Escopo::Tudo, crate::services::Chamador::escopo);
    db.consultas
        .get(id)
        .filter(|c| consultas::visivel(c, &escopo))
        .ok_or_else(|| AppError::not_found("Consulta"))
}

/// 409 when the appointment is no longer `agendada`/`confirmada`.
fn ativa(c: &Consulta, acao: &str) -> Result<(), AppError> {
    match c.status {
        StatusConsulta::Agendada | StatusConsulta::Confirmada => Ok(()),
        StatusConsulta::Cancelada => Err(AppError::conflict(
            "already_cancelled",
            format!("A consulta já foi cancelada e não pode ser {acao}."),
        )),
        StatusConsulta::Concluida | StatusConsulta::Faltou => Err(AppError::conflict(
            "appointment_finished",
            format!(
                "A consulta já foi encerrada ({}) e não pode ser {acao}.",
                c.status.as_str()
            ),
        )),
    }
}

/// 409 `prazo_cancelamento` when a patient acts on an appointment that already started: an
/// appointment that began (or that they missed) is past any cutoff, whatever the clinic's
/// rule says, as its public link already is. Staff may still cancel or move it (a missed
/// appointment rebooked by the front desk).
fn comecou(
    ctx: &Contexto,
    agora: Timestamp,
    inicio: Timestamp,
    local: DateTime,
) -> Result<(), AppError> {
    let paciente = ctx
        .chamador
        .as_ref()
        .is_some_and(|c| c.papel == crate::models::Papel::Paciente);
    if paciente && agora >= inicio {
        return Err(AppError::conflict(
            "prazo_cancelamento",
            format!(
                "A consulta de {} já começou: não pode mais ser cancelada nem remarcada pela agenda; fale com a recepção.",
                crate::domain::format_datetime(local)
            ),
        ));
    }
    Ok(())
}

/// `POST /consultas/{id}/cancelar`: the appointment becomes `cancelada` with its reason, in
/// one write with its history entry; its slots are freed ([`vaga_liberada`],
/// `motivo: "cancelada"`). 409 when it is already cancelled or finished, or starts within
/// the clinic's cancellation cutoff.
pub async fn cancelar(
    app: &App,
    ctx: &Contexto,
    id: &str,
    motivo: Option<String>,
) -> Result<Arc<Consulta>, AppError> {
    let now = Timestamp::now();
    let minutes = app.config.slot_minutes;
    let tz = app.clock.tz();
    let stamp = app.clock.stamp();
    let (c, freed) = app
        .commit_reply(
            ctx,
            |db| {
                let old = alvo(db, ctx, id)?;
                ativa(old, "cancelada")?;
                let iv = old.intervalo(tz);
                comecou(ctx, now, iv.inicio_em, old.inicio)?;
                regras::prazo_cancelamento(&regras::atuais(db), now, iv.inicio_em, old.inicio)?;
                let freed = covered_slots(db, &old.medico_id, old.inicio, old.fim, minutes);
                let c = Arc::new(Consulta {
                    status: StatusConsulta::Cancelada,
                    motivo_cancelamento: motivo,
                    updated_at: stamp,
                    ..Consulta::clone(old)
                });
                Ok((vec![Op::PutConsulta(c.clone())], (c, freed)))
            },
            |(c, _)| c,
        )
        .await?;
    tracing::info!(target: "agendamento::agenda", consulta_id = %c.id, "appointment cancelled");
    consultas::announce_freed(app, &c.medico_id, &freed, Liberacao::Cancelada);
    consultas::announce(app, &c);
    // The waiting list (SPEC-2 §11): the freed slots go to the oldest matching entry.
    lista_espera::vaga_liberada(app, &c.medico_id, &freed).await;
    Ok(c)
}

/// `POST /consultas/{id}/remarcar`: the same appointment (same id) at `inicio` (ending at
/// `fim`, or after the same duration). The new time passes the same checks as `agendar`
/// ([`check_alvo`]: grid, working hours, free, no one else's hold, the clinic's notice and
/// horizon) and the old one the cancellation cutoff; then, in one write, the new slots are
/// taken (consuming the caller's own holds on them) and the old ones freed, or nothing
/// changes. Events: `horario_disponivel` (`motivo: "remarcada"`) for the slots left,
/// `horario_ocupado` for the slots taken. The payment check runs for the new date
/// ([`pagamento::ao_remarcar`]: 422 with its code; the appointment keeps its `pagamento`
/// unless `forma` changes it).
pub async fn remarcar(
    app: &App,
    ctx: &Contexto,
    id: &str,
    inicio: Momento,
    fim: Option<Momento>,
    forma: Option<crate::models::FormaPagamento>,
) -> Result<Arc<Consulta>, AppError> {
    let now = Timestamp::now();
    let minutes = app.config.slot_minutes;
    let tz = app.clock.tz();
    let stamp = app.clock.stamp();
    let (c, mudou) = app
        .commit_reply(
            ctx,
            |db| {
                let old = alvo(db, ctx, id)?;
                ativa(old, "remarcada")?;
                let was = old.intervalo(tz);
                let fim = fim.unwrap_or_else(|| {
                    let dur = was.fim_em.duration_since(was.inicio_em);
                    Momento::at(
                        inicio
                            .instante
                            .saturating_add(dur)
                            .unwrap_or(inicio.instante),
                        tz,
                    )
                });
                let iv = Intervalo::new(inicio, fim).map_err(|m| AppError::campo("fim", m))?;
                comecou(ctx, now, was.inicio_em, old.inicio)?;
                regras::prazo_cancelamento(&regras::atuais(db), now, was.inicio_em, old.inicio)?;
                let novos = check_alvo(
                    app,
                    db,
                    ctx,
                    &old.medico_id,
                    &old.paciente_id,
                    iv,
                    Some(id),
                    now,
                )?;
                let pagamento = pagamento::ao_remarcar(db, old, forma, iv.inicio.date())?;
                let antigos = covered_slots(db, &old.medico_id, old.inicio, old.fim, minutes);
                if iv.inicio_em == was.inicio_em
                    && iv.fim_em == was.fim_em
                    && (forma.is_none() || pagamento == old.pagamento)
                {
                    return Ok((vec![], (old.clone(), None)));
                }
                let (inicio_offset, fim_offset) = iv.offsets(tz);
                let c = Arc::new(Consulta {
                    inicio: iv.inicio,
                    fim: iv.fim,
                    inicio_offset,
                    fim_offset,
                    pagamento,
                    updated_at: stamp,
                    ..Consulta::clone(old)
                });
                let mut ops = vec![Op::PutConsulta(c.clone())];
                // The caller's own holds on the new slots are consumed by the move.
                ops.extend(
                    novos
                        .iter()
                        .map(|s| Reserva::key(&old.medico_id, *s))
                        .filter(|k| db.reservas.get(k).is_some())
                        .map(Op::DelReserva),
                );
                let freed: Vec<DateTime> = antigos
                    .iter()
                    .filter(|s| !novos.contains(s))
                    .copied()
                    .collect();
                let taken: Vec<DateTime> = novos
                    .iter()
                    .filter(|s| !antigos.contains(s))
                    .copied()
                    .collect();
                Ok((ops, (c, Some((freed, taken)))))
            },
            |(c, _)| c,
        )
        .await?;
    // Moved to where it already was: nothing changed, nothing to announce.
    let Some((freed, taken)) = mudou else {
        return Ok(c);
    };
    tracing::info!(target: "agendamento::agenda", consulta_id = %c.id, "appointment moved");
    consultas::announce_freed(app, &c.medico_id, &freed, Liberacao::Remarcada);
    if taken.is_empty() {
        consultas::announce(app, &c);
    } else {
        consultas::announce_taken(app, &c, &taken);
    }
    lista_espera::vaga_liberada(app, &c.medico_id, &freed).await;
    Ok(c)
}
