//! Typed collections over the store: the in-memory database of pacientes, médicos,
//! horários, consultas and idempotency records, with the indexes the queries need
//! (ARCHITECTURE "Reads never touch disk"), and the operations the journal records.

mod consultas;
mod table;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use consultas::{Consultas, SLACK_HORAS};
pub use table::{Record, Table};

use crate::domain::{Crm, DiaSemana, Hora, fold};
use crate::infra::store::{Change, StoreState, parse_snapshot};
use crate::models::{Consulta, Horario, Medico, Paciente, Reserva, Tarefa};

impl Record for Paciente {
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        fold(&self.nome)
    }
    fn unique(&self) -> Option<String> {
        Some(self.cpf.clone())
    }
}

impl Record for Medico {
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        fold(&self.nome)
    }
    fn unique(&self) -> Option<String> {
        Some(Crm::key(&self.crm))
    }
}

impl Record for Horario {
    /// By doctor, weekday and start (SPEC §1), which also makes "a doctor's horários" a range.
    type Order = (String, DiaSemana, Hora);
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> Self::Order {
        (self.medico_id.clone(), self.dia_semana, self.hora_inicio)
    }
}

impl Record for Reserva {
    /// By doctor and slot, so a doctor's holds are a range.
    type Order = (String, jiff::civil::DateTime);
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> Self::Order {
        (self.medico_id.clone(), self.slot)
    }
}

impl Record for Tarefa {
    /// UUID v7 ids sort by creation time.
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        self.id.clone()
    }
}

/// The first answer to a POST sent with an `Idempotency-Key`, kept 24 h (SPEC §1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdemEntry {
    /// The client's key.
    pub key: String,
    /// sha256 of method, path and canonical body.
    pub fingerprint: String,
    /// HTTP status of the first answer.
    pub status: u16,
    /// JSON body of the first answer.
    pub body: String,
    /// When it was stored (Unix seconds).
    pub created: i64,
}

impl Record for IdemEntry {
    type Order = i64;
    fn id(&self) -> &str {
        &self.key
    }
    fn order(&self) -> i64 {
        self.created
    }
}

/// One change to the database, as journaled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", content = "dados", rename_all = "snake_case")]
pub enum Op {
    /// Insert or replace a patient.
    PutPaciente(Arc<Paciente>),
    /// Delete a patient by id.
    DelPaciente(String),
    /// Insert or replace a doctor.
    PutMedico(Arc<Medico>),
    /// Delete a doctor by id.
    DelMedico(String),
    /// Insert or replace a horário.
    PutHorario(Arc<Horario>),
    /// Delete a horário by id.
    DelHorario(String),
    /// Insert or replace an appointment.
    PutConsulta(Arc<Consulta>),
    /// Delete an appointment by id.
    DelConsulta(String),
    /// Remember an idempotent answer.
    PutIdem(Arc<IdemEntry>),
    /// Forget an expired idempotent answer.
    DelIdem(String),
    /// Hold a slot.
    PutReserva(Arc<Reserva>),
    /// Release a hold by id.
    DelReserva(String),
    /// Insert or replace a task.
    PutTarefa(Arc<Tarefa>),
    /// Remove a task (only to undo a refused write).
    DelTarefa(String),
}

/// The whole database, in memory.
#[derive(Debug, Default)]
pub struct Db {
    /// Patients, by name.
    pub pacientes: Table<Paciente>,
    /// Doctors, by name.
    pub medicos: Table<Medico>,
    /// Working hours, by doctor, weekday and start.
    pub horarios: Table<Horario>,
    /// Appointments, by start, doctor and patient.
    pub consultas: Consultas,
    /// Idempotent answers, by key.
    pub idem: Table<IdemEntry>,
    /// Live slot holds, by doctor and slot.
    pub reservas: Table<Reserva>,
    /// Background tasks, oldest first.
    pub tarefas: Table<Tarefa>,
}

/// Copies of the collections a snapshot writes.
#[derive(Default)]
pub struct DbSnapshot {
    pacientes: Vec<Arc<Paciente>>,
    medicos: Vec<Arc<Medico>>,
    horarios: Vec<Arc<Horario>>,
    consultas: Vec<Arc<Consulta>>,
    idem: Vec<Arc<IdemEntry>>,
    reservas: Vec<Arc<Reserva>>,
    tarefas: Vec<Arc<Tarefa>>,
}

/// Puts `rec` in `table`; returns its undo: the old version back, or a delete of the new one.
fn put<T: Record>(
    table: &mut Table<T>,
    rec: Arc<T>,
    put: fn(Arc<T>) -> Op,
    del: fn(String) -> Op,
) -> Option<Op> {
    let id = rec.id().to_owned();
    Some(table.put(rec).map_or_else(|| del(id), put))
}

fn load<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    mut put: impl FnMut(Arc<T>),
) -> serde_json::Result<u64> {
    let file = parse_snapshot::<T>(bytes)?;
    for r in file.registros {
        put(Arc::new(r));
    }
    Ok(file.seq)
}

impl StoreState for Db {
    type Op = Op;
    type Snapshot = DbSnapshot;
    const COLLECTIONS: &'static [&'static str] = &[
        "pacientes",
        "medicos",
        "horarios",
        "consultas",
        "idempotencia",
        "reservas",
        "tarefas",
    ];

    fn empty() -> Self {
        Self::default()
    }

    fn collection_of(op: &Op) -> usize {
        match op {
            Op::PutPaciente(_) | Op::DelPaciente(_) => 0,
            Op::PutMedico(_) | Op::DelMedico(_) => 1,
            Op::PutHorario(_) | Op::DelHorario(_) => 2,
            Op::PutConsulta(_) | Op::DelConsulta(_) => 3,
            Op::PutIdem(_) | Op::DelIdem(_) => 4,
            Op::PutReserva(_) | Op::DelReserva(_) => 5,
            Op::PutTarefa(_) | Op::DelTarefa(_) => 6,
        }
    }

    fn apply(&mut self, op: Op) -> Option<Op> {
        match op {
            Op::PutPaciente(r) => put(&mut self.pacientes, r, Op::PutPaciente, Op::DelPaciente),
            Op::DelPaciente(id) => self.pacientes.remove(&id).map(Op::PutPaciente),
            Op::PutMedico(r) => put(&mut self.medicos, r, Op::PutMedico, Op::DelMedico),
            Op::DelMedico(id) => self.medicos.remove(&id).map(Op::PutMedico),
            Op::PutHorario(r) => put(&mut self.horarios, r, Op::PutHorario, Op::DelHorario),
            Op::DelHorario(id) => self.horarios.remove(&id).map(Op::PutHorario),
            Op::PutConsulta(r) => {
                let id = r.id.clone();
                Some(
                    self.consultas
                        .put(r)
                        .map_or_else(|| Op::DelConsulta(id), Op::PutConsulta),
                )
            }
            Op::DelConsulta(id) => self.consultas.remove(&id).map(Op::PutConsulta),
            Op::PutIdem(r) => put(&mut self.idem, r, Op::PutIdem, Op::DelIdem),
            Op::DelIdem(id) => self.idem.remove(&id).map(Op::PutIdem),
            Op::PutReserva(r) => put(&mut self.reservas, r, Op::PutReserva, Op::DelReserva),
            Op::DelReserva(id) => self.reservas.remove(&id).map(Op::PutReserva),
            Op::PutTarefa(r) => put(&mut self.tarefas, r, Op::PutTarefa, Op::DelTarefa),
            Op::DelTarefa(id) => self.tarefas.remove(&id).map(Op::PutTarefa),
        }
    }

    fn snapshot(&self, which: &[bool]) -> DbSnapshot {
        let want = |i: usize| which.get(i).copied().unwrap_or(false);
        let mut s = DbSnapshot::default();
        if want(0) {
            s.pacientes = self.pacientes.iter().cloned().collect();
        }
        if want(1) {
            s.medicos = self.medicos.iter().cloned().collect();
        }
        if want(2) {
            s.horarios = self.horarios.iter().cloned().collect();
        }
        if want(3) {
            s.consultas = self.consultas.iter().cloned().collect();
        }
        if want(4) {
            s.idem = self.idem.iter().cloned().collect();
        }
        if want(5) {
            s.reservas = self.reservas.iter().cloned().collect();
        }
        if want(6) {
            s.tarefas = self.tarefas.iter().cloned().collect();
        }
        s
    }

    fn write_records(
        snap: &DbSnapshot,
        i: usize,
        out: &mut dyn std::io::Write,
    ) -> serde_json::Result<()> {
        match i {
            0 => serde_json::to_writer_pretty(out, &snap.pacientes),
            1 => serde_json::to_writer_pretty(out, &snap.medicos),
            2 => serde_json::to_writer_pretty(out, &snap.horarios),
            3 => serde_json::to_writer_pretty(out, &snap.consultas),
            4 => serde_json::to_writer_pretty(out, &snap.idem),
            5 => serde_json::to_writer_pretty(out, &snap.reservas),
            _ => serde_json::to_writer_pretty(out, &snap.tarefas),
        }
    }

    /// Patients, doctors, horários, appointments and holds; tasks log themselves and
    /// idempotency answers are bookkeeping.
    fn change_of(&self, op: &Op) -> Option<Change> {
        fn put<T: Record>(table: &Table<T>, collection: &'static str, id: &str) -> Option<Change> {
            let action = if table.get(id).is_some() {
                "update"
            } else {
                "create"
            };
            Some(Change {
                action,
                collection,
                id: id.to_owned(),
            })
        }
        fn del(collection: &'static str, id: &str) -> Option<Change> {
            Some(Change {
                action: "delete",
                collection,
                id: id.to_owned(),
            })
        }
        match op {
            Op::PutPaciente(r) => put(&self.pacientes, "pacientes", &r.id),
            Op::DelPaciente(id) => del("pacientes", id),
            Op::PutMedico(r) => put(&self.medicos, "medicos", &r.id),
            Op::DelMedico(id) => del("medicos", id),
            Op::PutHorario(r) => put(&self.horarios, "horarios", &r.id),
            Op::DelHorario(id) => del("horarios", id),
            Op::PutConsulta(r) => Some(Change {
                action: if self.consultas.get(&r.id).is_some() {
                    "update"
                } else {
                    "create"
                },
                collection: "consultas",
                id: r.id.clone(),
            }),
            Op::DelConsulta(id) => del("consultas", id),
            Op::PutReserva(r) => put(&self.reservas, "reservas", &r.id),
            Op::DelReserva(id) => del("reservas", id),
            Op::PutIdem(_) | Op::DelIdem(_) | Op::PutTarefa(_) | Op::DelTarefa(_) => None,
        }
    }

    fn load_collection(&mut self, i: usize, bytes: &[u8]) -> serde_json::Result<u64> {
        match i {
            0 => load(bytes, |r| {
                self.pacientes.put(r);
            }),
            1 => load(bytes, |r| {
                self.medicos.put(r);
            }),
            2 => load(bytes, |r| {
                self.horarios.put(r);
            }),
            3 => load(bytes, |r| {
                self.consultas.put(r);
            }),
            4 => load(bytes, |r| {
                self.idem.put(r);
            }),
            5 => load(bytes, |r| {
                self.reservas.put(r);
            }),
            _ => load(bytes, |r| {
                self.tarefas.put(r);
            }),
        }
    }
}
