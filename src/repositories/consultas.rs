//! Appointments with the indexes that keep every query a range scan: by start time (the
//! listing order), and by doctor and by patient (overlap checks, filters, delete rules).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use jiff::SignedDuration;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::{Record, Table};
use crate::domain::{Intervalo, overlaps};
use crate::models::Consulta;

impl Record for Consulta {
    type Order = DateTime;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> DateTime {
        self.inicio
    }
}

/// The most a clinic-local time can be ahead of or behind the order of instants, in hours:
/// any real zone's offset change (daylight saving moves clocks by one hour, rarely two).
pub const SLACK_HORAS: i64 = 3;

/// The times of an appointment the agenda sweep reads, kept inline in the time indexes: a
/// sweep over a doctor's thousands of appointments then reads contiguous index nodes instead
/// of following a pointer to each record (a cache miss apiece: most of the sweep's cost).
#[derive(Debug, Clone, Copy)]
pub struct Trecho {
    /// Clinic-local start.
    pub inicio: DateTime,
    /// UTC offset of `inicio`, when stored (see [`Consulta::inicio_offset`]).
    pub inicio_offset: Option<Offset>,
    /// Clinic-local end.
    pub fim: DateTime,
    /// UTC offset of `fim`, when stored.
    pub fim_offset: Option<Offset>,
    /// Whether it takes the doctor's time ([`Consulta::blocks_time`]).
    pub ocupa: bool,
}

impl Trecho {
    fn of(c: &Consulta) -> Self {
        Self {
            inicio: c.inicio,
            inicio_offset: c.inicio_offset,
            fim: c.fim,
            fim_offset: c.fim_offset,
            ocupa: c.blocks_time(),
        }
    }
}

/// (owner id, start, consulta id) → the appointment's times and the record: a per-doctor or
/// per-patient time index that holds the records, so a range scan needs no lookups (the
/// agenda sweeps thousands).
type OwnerIndex = BTreeMap<(String, DateTime, String), (Trecho, Arc<Consulta>)>;

/// Appointments, with per-doctor and per-patient time indexes.
#[derive(Debug, Default)]
pub struct Consultas {
    table: Table<Consulta>,
    by_medico: OwnerIndex,
    by_paciente: OwnerIndex,
}

/// The entries of `index` for `owner` starting in `[from, to)`.
fn owner_range<'a>(
    index: &'a OwnerIndex,
    owner: &str,
    from: DateTime,
    to: DateTime,
) -> impl DoubleEndedIterator<Item = &'a (Trecho, Arc<Consulta>)> + 'a {
    let lo = (owner.to_owned(), from, String::new());
    // An empty or reversed window is empty (BTreeMap::range would panic on it).
    let hi = (owner.to_owned(), to.max(from), String::new());
    index.range(lo..hi).map(|(_, e)| e)
}

impl Consultas {
    /// The appointment with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Consulta>> {
        self.table.get(id)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// All appointments by start time.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Consulta>> + '_ {
        self.table.iter()
    }

    /// Appointments starting in `[from, to)`, by start time.
    pub fn starting_between(
        &self,
        from: Bound<DateTime>,
        to: Bound<DateTime>,
    ) -> impl DoubleEndedIterator<Item = &Arc<Consulta>> + '_ {
        self.table.range(from, to)
    }

    /// A doctor's appointments starting in `[from, to)`, by start time.
    pub fn of_medico(
        &self,
        medico_id: &str,
        from: DateTime,
        to: DateTime,
    ) -> impl DoubleEndedIterator<Item = &Arc<Consulta>> + '_ {
        owner_range(&self.by_medico, medico_id, from, to).map(|(_, c)| c)
    }

    /// The times of a doctor's appointments starting in `[from, to)`, by start, without
    /// touching the records (the agenda sweep).
    pub fn trechos_of_medico(
        &self,
        medico_id: &str,
        from: DateTime,
        to: DateTime,
    ) -> impl DoubleEndedIterator<Item = &Trecho> + '_ {
        owner_range(&self.by_medico, medico_id, from, to).map(|(t, _)| t)
    }

    /// A patient's appointments starting in `[from, to)`, by start time.
    pub fn of_paciente(
        &self,
        paciente_id: &str,
        from: DateTime,
        to: DateTime,
    ) -> impl DoubleEndedIterator<Item = &Arc<Consulta>> + '_ {
        owner_range(&self.by_paciente, paciente_id, from, to).map(|(_, c)| c)
    }

    /// The first time-blocking appointment of the doctor (`by_medico`) or patient that
    /// overlaps `iv` as instants in the clinic's zone `tz`, ignoring `except`.
    ///
    /// The index is by clinic-local start; a local time differs from the instant's order by
    /// at most the zone's offset change (an hour for daylight saving; [`SLACK_HORAS`] covers
    /// any real one), and none lasts longer than 24 h. So only appointments starting in
    /// `(iv.inicio - 24 h - slack, max(iv.inicio, iv.fim) + slack)` can overlap: a range scan,
    /// O(log n + k), then an exact comparison of instants.
    pub fn conflict(
        &self,
        by_medico: bool,
        owner: &str,
        iv: Intervalo,
        except: Option<&str>,
        tz: &TimeZone,
    ) -> Option<&Arc<Consulta>> {
        let slack = SignedDuration::from_hours(SLACK_HORAS);
        let from = iv
            .inicio
            .saturating_sub(SignedDuration::from_hours(Intervalo::MAX_HORAS))
            .saturating_sub(slack);
        let to = iv.inicio.max(iv.fim).saturating_add(slack);
        let index = if by_medico {
            &self.by_medico
        } else {
            &self.by_paciente
        };
        owner_range(index, owner, from, to)
            .map(|(_, c)| c)
            .find(|c| {
                c.blocks_time()
                    && Some(c.id.as_str()) != except
                    && c.fim.saturating_add(slack) > iv.inicio
                    && {
                        let other = c.intervalo(tz);
                        overlaps(other.inicio_em, other.fim_em, iv.inicio_em, iv.fim_em)
                    }
            })
    }

    /// Inserts or replaces, keeping every index; returns the previous version.
    pub fn put(&mut self, c: Arc<Consulta>) -> Option<Arc<Consulta>> {
        let old = self.remove(&c.id);
        let t = Trecho::of(&c);
        self.by_medico.insert(
            (c.medico_id.clone(), c.inicio, c.id.clone()),
            (t, c.clone()),
        );
        self.by_paciente.insert(
            (c.paciente_id.clone(), c.inicio, c.id.clone()),
            (t, c.clone()),
        );
        self.table.put(c);
        old
    }

    /// Removes, keeping every index; returns it.
    pub fn remove(&mut self, id: &str) -> Option<Arc<Consulta>> {
        let old = self.table.remove(id)?;
        self.by_medico
            .remove(&(old.medico_id.clone(), old.inicio, old.id.clone()));
        self.by_paciente
            .remove(&(old.paciente_id.clone(), old.inicio, old.id.clone()));
        Some(old)
    }
}
