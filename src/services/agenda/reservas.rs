//! Holds (SPEC §3): `POST /agenda/reservar`, `POST /agenda/liberar`, and the expiry of
//! lapsed holds.

use super::*;

/// Holds a free slot for the configured TTL.
pub async fn reservar(
    app: &App,
    ctx: &Contexto,
    medico_id: &str,
    slot: DateTime,
) -> Result<Reservado, AppError> {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let expira = now
        .saturating_add(SignedDuration::from_secs(app.config.hold_ttl_secs as i64))
        .unwrap_or(now);
    let out = app
        .commit(ctx, |db| {
            check_slot(app, db, medico_id, slot)?;
            let regras = crate::services::regras::atuais(db);
            let tz = app.clock.tz();
            let instante = Momento::stored(slot, None, tz).instante;
            crate::services::regras::marcacao(&regras, now, tz, instante, slot)?;
            let (len, _) = horarios::grade_do_medico(db, medico_id, minutes);
            match alvo(
                db,
                medico_id,
                Intervalo::slot(slot, len, tz),
                None,
                minutes,
                tz,
            ) {
                Err(Impedimento::Ocupado(_)) | Ok(()) => {}
                Err(e) => return Err(e.erro("slot", slot)),
            }
            match slot_state(db, medico_id, slot, minutes, now, tz) {
                Estado::Ocupado => return Err(slot_taken(slot)),
                Estado::Reservado => {
                    return Err(AppError::conflict(
                        "horario_reservado",
                        format!("O horário {} já está reservado.", format_datetime(slot)),
                    ));
                }
                Estado::Disponivel => {}
            }
            crate::services::regras::limite_reservas(&regras, db, ctx, 1, now)?;
            let r = Arc::new(Reserva {
                id: Reserva::key(medico_id, slot),
                medico_id: medico_id.to_owned(),
                slot,
                expira_em: expira,
                usuario_id: ctx.chamador.as_ref().and_then(|c| c.usuario_id.clone()),
                lista_espera_id: None,
            });
            let out = Reservado {
                status: "reservado".into(),
                slot: format_datetime(slot),
                medico_id: medico_id.to_owned(),
                expira_em: app.clock.stamp_at(expira),
            };
            Ok((vec![Op::PutReserva(r)], out))
        })
        .await?;
    app.events.publish(
        "horario_reservado",
        &serde_json::json!({"medico_id": out.medico_id, "slot": out.slot, "expira_em": out.expira_em}),
    );
    Ok(out)
}

/// Releases a hold: `liberado` if there was one, `disponivel` if the slot was free, 409 if booked.
pub async fn liberar(
    app: &App,
    ctx: &Contexto,
    medico_id: &str,
    slot: DateTime,
) -> Result<Liberado, AppError> {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let out = app
        .commit_reply(
            ctx,
            |db| {
                if db.medicos.get(medico_id).is_none() {
                    return Err(AppError::not_found("Médico"));
                }
                if !on_grid(db, medico_id, slot, minutes) {
                    return Err(AppError::campo(
                        "slot",
                        fora_da_grade(db, medico_id, slot, minutes),
                    ));
                }
                let estado = slot_state(db, medico_id, slot, minutes, now, app.clock.tz());
                if estado == Estado::Ocupado {
                    return Err(slot_taken(slot));
                }
                // Only the holder (or staff) releases a hold (SPEC-2 §10).
                if estado == Estado::Reservado && held_by_other(db, medico_id, slot, now, ctx) {
                    return Err(reservado_por_outro(slot));
                }
                let key = Reserva::key(medico_id, slot);
                // A hold that lapsed but was not swept yet is removed here, announced as expired.
                let lapsed = estado != Estado::Reservado && db.reservas.get(&key).is_some();
                let ops = if estado == Estado::Reservado || lapsed {
                    vec![Op::DelReserva(key)]
                } else {
                    vec![]
                };
                let status = if estado == Estado::Reservado {
                    "liberado"
                } else {
                    "disponivel"
                };
                let out = Liberado {
                    status: status.into(),
                    slot: format_datetime(slot),
                    medico_id: medico_id.to_owned(),
                };
                Ok((ops, (out, lapsed)))
            },
            |(out, _)| out,
        )
        .await?;
    let (out, lapsed) = out;
    if out.status == "liberado" || lapsed {
        let motivo = if lapsed {
            Liberacao::Expirou
        } else {
            Liberacao::Liberado
        };
        vaga_liberada(app, &out.medico_id, slot, motivo);
        lista_espera::vaga_liberada(app, medico_id, &[slot]).await;
    }
    Ok(out)
}

/// Removes the holds that have lapsed and announces each (`motivo: "expirou"`), offering
/// each slot to the waiting list; then lapses the waiting list's offers past their time
/// (`lista_espera::expirar`, which owns the holds of offers).
pub async fn expire_holds(app: &App) -> Result<usize, AppError> {
    let comuns = expire_plain_holds(app).await?;
    Ok(comuns + lista_espera::expirar(app).await?)
}

/// The lapsed holds that are no waiting-list offer's.
async fn expire_plain_holds(app: &App) -> Result<usize, AppError> {
    let now = Timestamp::now();
    let lapsed = |r: &Reserva| r.expira_em <= now && r.lista_espera_id.is_none();
    if !app.store.read().reservas.iter().any(|r| lapsed(r)) {
        return Ok(0);
    }
    let minutes = app.config.slot_minutes;
    let gone = app
        .write(|db| {
            // Whether an appointment took the slot meanwhile (the front desk's `POST
            // /consultas` does not need the hold): then the slot is not announced free.
            let gone: Vec<(Arc<Reserva>, bool)> = db
                .reservas
                .iter()
                .filter(|r| lapsed(r))
                .map(|r| {
                    let estado = slot_state(db, &r.medico_id, r.slot, minutes, now, app.clock.tz());
                    (r.clone(), estado == Estado::Ocupado)
                })
                .collect();
            let ops = gone
                .iter()
                .map(|(r, _)| Op::DelReserva(r.id.clone()))
                .collect();
            Ok((ops, gone))
        })
        .await?;
    for (r, ocupado) in &gone {
        tracing::info!(target: "agendamento::agenda", medico_id = %r.medico_id, slot = %format_datetime(r.slot), "hold expired");
        if *ocupado {
            continue;
        }
        vaga_liberada(app, &r.medico_id, r.slot, Liberacao::Expirou);
        lista_espera::vaga_liberada(app, &r.medico_id, &[r.slot]).await;
    }
    Ok(gone.len())
}
