//! Slot states and the slot listing of `GET /agenda/slots` (SPEC §3): which grid slots are
//! free, held or taken, computed without a per-slot lookup.

use super::*;

/// Whether a live hold covers the doctor's slot.
pub(super) fn held(db: &Db, medico_id: &str, slot: DateTime, now: Timestamp) -> bool {
    db.reservas
        .get(&Reserva::key(medico_id, slot))
        .is_some_and(|r| r.expira_em > now)
}

/// Whether the caller of `ctx` may book or release hold `r` (SPEC-2 §10): its holder, or
/// staff (the system of single-user mode is an administrator, as in part 1). A waiting-list
/// offer's hold (no user) is the entry's: its patient answers through `/lista-espera`, and
/// staff who book or release it withdraw the offer (`lista_espera::ofertas_retiradas`).
pub(super) fn dono(r: &Reserva, ctx: &Contexto) -> bool {
    match &ctx.chamador {
        Some(c) if c.papel.staff() => true,
        Some(c) => c.usuario_id.is_some() && c.usuario_id == r.usuario_id,
        None => r.usuario_id.is_none(),
    }
}

/// Whether `slot` is held, live, by someone the caller of `ctx` is not (409
/// `horario_reservado` for a booking onto it). An offer its patient already accepted (its
/// booking task queued) is nobody else's to take, staff included.
pub(super) fn held_by_other(
    db: &Db,
    medico_id: &str,
    slot: DateTime,
    now: Timestamp,
    ctx: &Contexto,
) -> bool {
    db.reservas
        .get(&Reserva::key(medico_id, slot))
        .is_some_and(|r| r.expira_em > now && (!dono(r, ctx) || oferta_aceita(db, r)))
}

/// Whether hold `r` is a waiting-list offer its patient accepted.
fn oferta_aceita(db: &Db, r: &Reserva) -> bool {
    r.lista_espera_id
        .as_ref()
        .and_then(|id| db.lista_espera.get(id))
        .is_some_and(|e| e.tarefa_id.is_some())
}

/// Whether a live hold other than a waiting-list offer's covers the doctor's slot (an
/// offer's is one staff may take over, SPEC-2 §10).
pub(super) fn held_apart_from_offers(
    db: &Db,
    medico_id: &str,
    slot: DateTime,
    now: Timestamp,
) -> bool {
    db.reservas
        .get(&Reserva::key(medico_id, slot))
        .is_some_and(|r| r.expira_em > now && r.lista_espera_id.is_none())
}

/// 409 `horario_reservado`: another user holds the slot.
pub(super) fn reservado_por_outro(slot: DateTime) -> AppError {
    AppError::conflict(
        "horario_reservado",
        format!(
            "O horário {} está reservado por outro usuário.",
            format_datetime(slot)
        ),
    )
}

/// The state of one slot (overlaps judged as instants in the clinic's zone `tz`; the slot
/// is the doctor's own length, and an appointment within their buffer of it takes it).
pub fn slot_state(
    db: &Db,
    medico_id: &str,
    slot: DateTime,
    minutes: u16,
    now: Timestamp,
    tz: &TimeZone,
) -> Estado {
    let (len, buffer) = horarios::grade_do_medico(db, medico_id, minutes);
    let iv = com_intervalo(Intervalo::slot(slot, len, tz), buffer, tz);
    if db
        .consultas
        .conflict(true, medico_id, iv, None, tz)
        .is_some()
    {
        Estado::Ocupado
    } else if held(db, medico_id, slot, now) {
        Estado::Reservado
    } else {
        Estado::Disponivel
    }
}

/// How many grid slots [`slots`] would list at most (started ones included): per doctor,
/// the slots of each weekday's horários times how often that weekday falls in the range.
/// Cheap (doctors × horários + days), so a too-large request is refused before any work.
pub fn grid_size(db: &Db, medico: Option<&str>, de: Date, days: u16, minutes: u16) -> u64 {
    let mut per_weekday = [0u64; 7];
    let mut date = de;
    for _ in 0..days {
        per_weekday[DiaSemana::of(date) as usize] += 1;
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    let of = |id: &str| -> u64 {
        let step = u64::from(horarios::grade_do_medico(db, id, minutes).0);
        horarios::of_medico(db, id)
            .map(|h| {
                let len = u64::from(h.hora_fim.minutes().saturating_sub(h.hora_inicio.minutes()));
                (len / step) * per_weekday[h.dia_semana as usize]
            })
            .sum()
    };
    match medico {
        Some(m) => of(m),
        None => db.medicos.iter().map(|m| of(&m.id)).sum(),
    }
}

/// One doctor's slots in time order.
pub type SlotsMedico = (String, Vec<(DateTime, Estado)>);

/// Seconds since 1970-01-01T00:00 of a civil datetime, in plain integer arithmetic
/// (days-from-civil), so the agenda sweep does no calendar work per slot.
pub(super) fn secs(dt: DateTime) -> i64 {
    let (y, m, d) = (
        i64::from(dt.year()),
        i64::from(dt.month()),
        i64::from(dt.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400
        + i64::from(dt.hour()) * 3600
        + i64::from(dt.minute()) * 60
        + i64::from(dt.second())
}

/// The UTC offset (seconds) of each clinic day from `first`, `None` on a day whose offset
/// changes (a daylight-saving day): civil seconds minus it are Unix seconds, so the sweep
/// converts times to instants with one array lookup, and asks the zone only on those days.
pub(super) struct Offsets<'a> {
    tz: &'a TimeZone,
    first: i64,
    days: Vec<Option<i64>>,
}

impl<'a> Offsets<'a> {
    fn new(tz: &'a TimeZone, first: Date, n: usize) -> Self {
        // A midnight inside a gap or a fold gives `None`, so its day takes the slow path.
        let offset_at = |d: Date| match tz.to_ambiguous_timestamp(d.at(0, 0, 0, 0)).offset() {
            jiff::tz::AmbiguousOffset::Unambiguous { offset } => Some(offset.seconds()),
            _ => None,
        };
        let mut days = Vec::with_capacity(n);
        let mut date = first;
        let mut cur = offset_at(date);
        for _ in 0..n {
            let Ok(next_date) = date.tomorrow() else {
                break;
            };
            let next = offset_at(next_date);
            days.push(if cur == next {
                cur.map(i64::from)
            } else {
                None
            });
            // (Two `None`s compare equal: that day stays `None` too.)
            (date, cur) = (next_date, next);
        }
        Self {
            tz,
            first: secs(first.at(0, 0, 0, 0)),
            days,
        }
    }

    /// The offset of the whole of `date` (`None` on a day the offset changes).
    fn of_day(&self, date: Date) -> Option<i64> {
        let idx = (secs(date.at(0, 0, 0, 0)) - self.first).div_euclid(86_400);
        usize::try_from(idx)
            .ok()
            .and_then(|i| self.days.get(i))
            .copied()
            .flatten()
    }

    /// Unix seconds of a clinic-local datetime (`civil` = [`secs`] of it): `offset` when one
    /// is stored; in a gap, `None` for `strict` (a grid slot that does not exist) else the
    /// compatible instant; in a fold, the earlier occurrence.
    fn instant(
        &self,
        dt: DateTime,
        civil: i64,
        offset: Option<Offset>,
        strict: bool,
    ) -> Option<i64> {
        if let Some(o) = offset {
            return Some(civil - i64::from(o.seconds()));
        }
        let idx = (civil - self.first).div_euclid(86_400);
        if let Some(Some(off)) = usize::try_from(idx).ok().and_then(|i| self.days.get(i)) {
            return Some(civil - off);
        }
        if strict {
            Momento::resolve(dt, self.tz).ok()
        } else {
            Some(Momento::stored(dt, None, self.tz))
        }
        .map(|m| m.instante.as_second())
    }
}

/// The agenda a request asks for (see [`slots`]), now: 404 when `medico` is unknown, and
/// 422 `agenda_too_large` past `--max-slots` slots, refused before anything is built: one
/// 90-day grid of hundreds of doctors is tens of MB in memory, and several at once starve
/// everyone else.
pub fn agenda(
    app: &App,
    medico: Option<&str>,
    de: Date,
    days: u16,
) -> Result<Vec<SlotsMedico>, AppError> {
    let db = app.store.read();
    if let Some(m) = medico
        && db.medicos.get(m).is_none()
    {
        return Err(AppError::not_found("Médico"));
    }
    let size = grid_size(&db, medico, de, days, app.config.slot_minutes);
    if size > app.config.max_slots {
        return Err(AppError::Unprocessable {
            code: "agenda_too_large",
            detail: format!(
                "A agenda pedida teria {size} horários, acima do limite de {}: \
                 peça menos dias (days) ou um médico só (medico_id).",
                app.config.max_slots
            ),
        });
    }
    Ok(slots(
        &db,
        medico,
        de,
        days,
        app.config.slot_minutes,
        Timestamp::now(),
        app.clock.tz(),
    ))
}

/// The agenda from `de` for `days` days: every doctor with horários (or just `medico`),
/// by name. Each doctor's appointments are fetched once (from the per-doctor index, which
/// holds the records) and swept against the grid in integer Unix seconds, so the cost is
/// slots + appointments, not their product.
///
/// Times are compared as instants in the clinic's zone `tz`: a grid time skipped by a
/// daylight-saving change is not a slot; a grid time that happens twice is listed once and
/// means its earlier occurrence. Slots that start before `now` are left out: they can no
/// longer be held or booked (`check_slot`).
pub fn slots(
    db: &Db,
    medico: Option<&str>,
    de: Date,
    days: u16,
    minutes: u16,
    now: Timestamp,
    tz: &TimeZone,
) -> Vec<SlotsMedico> {
    let from = de.at(0, 0, 0, 0);
    let to = from.saturating_add(SignedDuration::from_hours(24 * i64::from(days)));
    let slack = SignedDuration::from_hours(crate::repositories::SLACK_HORAS);
    let reach = SignedDuration::from_hours(Intervalo::MAX_HORAS).saturating_add(slack);
    let reach_secs = Intervalo::MAX_HORAS * 3600;
    let now_secs = now.as_second();
    // One day before the range (appointments reaching into it) and two after.
    let offsets = Offsets::new(tz, de.yesterday().unwrap_or(de), usize::from(days) + 3);
    let medicos: Vec<String> = match medico {
        Some(m) => vec![m.to_owned()],
        None => db
            .medicos
            .iter()
            .filter(|m| horarios::of_medico(db, &m.id).next().is_some())
            .map(|m| m.id.clone())
            .collect(),
    };
    let mut out = Vec::with_capacity(medicos.len());
    for id in medicos {
        let (minutes, buffer) = horarios::grade_do_medico(db, &id, minutes);
        let step_secs = i64::from(minutes) * 60;
        let buffer_secs = i64::from(buffer) * 60;
        // Blocked stretches (the doctor's and the whole clinic's), merged, as civil seconds:
        // a slot that overlaps one is left out.
        let blocked: Vec<(i64, i64)> = bloqueios::uniao(db, &id, from, to)
            .into_iter()
            .map(|(a, b)| (secs(a), secs(b)))
            .collect();
        let mut by_day: [Vec<Arc<Horario>>; 7] = Default::default();
        for h in horarios::of_medico(db, &id) {
            by_day[h.dia_semana as usize].push(h.clone());
        }
        // (start, end) as Unix seconds, by start.
        let mut busy: Vec<(i64, i64)> = db
            .consultas
            .trechos_of_medico(&id, from.saturating_sub(reach), to.saturating_add(slack))
            .filter(|c| c.ocupa)
            .filter_map(|c| {
                // Widened by the buffer on both sides (see `com_intervalo`).
                Some((
                    offsets.instant(c.inicio, secs(c.inicio), c.inicio_offset, false)?
                        - buffer_secs,
                    offsets.instant(c.fim, secs(c.fim), c.fim_offset, false)? + buffer_secs,
                ))
            })
            .collect();
        // Local order is instant order except around a fold.
        if !busy.is_sorted() {
            busy.sort_unstable();
        }
        let holds: HashSet<i64> = db
            .reservas
            .range(
                std::ops::Bound::Included((id.clone(), from)),
                std::ops::Bound::Excluded((id.clone(), to)),
            )
            .filter(|r| r.expira_em > now)
            .map(|r| secs(r.slot))
            .collect();
        let mut list = Vec::new();
        let mut date = de;
        for _ in 0..days {
            let day0 = secs(date.at(0, 0, 0, 0));
            let day_off = offsets.of_day(date);
            // A doctor's horários on one day never overlap and come by start: the
            // slots come out in time order without sorting.
            for h in &by_day[DiaSemana::of(date) as usize] {
                for s in grid(h, date, minutes) {
                    let local = day0 + i64::from(s.hour()) * 3600 + i64::from(s.minute()) * 60;
                    if !blocked.is_empty() {
                        let k = blocked.partition_point(|(a, _)| *a < local + step_secs);
                        if k > 0 && blocked[k - 1].1 > local {
                            continue;
                        }
                    }
                    let start = match day_off {
                        Some(off) => local - off,
                        None => match offsets.instant(s, local, None, true) {
                            Some(t) => t,
                            None => continue,
                        },
                    };
                    if start < now_secs {
                        continue;
                    }
                    let end = start + step_secs;
                    let floor = start - reach_secs - 2 * buffer_secs;
                    // Appointments starting before the slot ends, newest first, within reach.
                    let upto = busy.partition_point(|(i, _)| *i < end);
                    let taken = busy[..upto]
                        .iter()
                        .rev()
                        .take_while(|(i, _)| *i > floor)
                        .any(|(_, f)| *f > start);
                    let estado = if taken {
                        Estado::Ocupado
                    } else if !holds.is_empty() && holds.contains(&local) {
                        Estado::Reservado
                    } else {
                        Estado::Disponivel
                    };
                    list.push((s, estado));
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        out.push((id, list));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn secs_counts_like_jiff(y in 1900i16..2200, doy in 0i64..366, h in 0i8..24, m in 0i8..60, y2 in 1900i16..2200, doy2 in 0i64..366) {
            let a = jiff::civil::date(y, 1, 1).at(h, m, 0, 0).saturating_add(SignedDuration::from_hours(24 * doy));
            let b = jiff::civil::date(y2, 1, 1).at(0, 0, 0, 0).saturating_add(SignedDuration::from_hours(24 * doy2));
            prop_assert_eq!(secs(a) - secs(b), a.duration_since(b).as_secs());
        }
    }

    #[test]
    fn secs_of_the_epoch_is_zero() {
        assert_eq!(secs(jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0)), 0);
        assert_eq!(secs(jiff::civil::date(1970, 1, 2).at(0, 0, 1, 0)), 86_401);
    }
}
