//! Typed collections over the store: the in-memory database of pacientes, médicos,
//! horários, consultas and idempotency records, with the indexes the queries need
//! (ARCHITECTURE "Reads never touch disk"), and the operations the journal records.

mod consultas;
mod notificacoes;
mod registry;
mod table;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use consultas::{Consultas, SLACK_HORAS, Trecho};
pub use notificacoes::Notificacoes;
pub use registry::{Collection, Db, DbSnapshot, Rows};
pub use table::{Record, Table};

use crate::domain::{Crm, DiaSemana, Hora, fold};
use crate::infra::store::{Change, Collections, StoreState};
use crate::models::{
    Bloqueio, Consulta, Convenio, EntradaAuditoria, EntradaEspera, EntradaHistorico, Horario,
    Medico, Notificacao, Paciente, Regras, Reserva, Sessao, Tarefa, TokenCalendario, Usuario,
    Webhook,
};

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

impl Record for Usuario {
    /// By e-mail, folded, so the listing is stable and alphabetical.
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        self.email.to_lowercase()
    }
    /// E-mails are unique compared case-insensitively (SPEC-2 §10).
    fn unique(&self) -> Option<String> {
        Some(self.email.to_lowercase())
    }
}

impl Record for Sessao {
    /// By expiry, so expired sessions are a prefix.
    type Order = i64;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> i64 {
        self.expira_em
    }
}

impl Record for EntradaAuditoria {
    /// UUID v7 ids sort by time: the oldest entries are a prefix.
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        self.id.clone()
    }
}

impl Record for Bloqueio {
    /// By doctor (`""` = the whole clinic, first) and start: one owner's blocks are a range,
    /// so "the blocks overlapping `[a, b)`" is a range scan from `a` minus the longest block
    /// (see `services::bloqueios`).
    type Order = (String, jiff::civil::DateTime);
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> Self::Order {
        (self.medico_id.clone().unwrap_or_default(), self.inicio)
    }
}

impl Record for EntradaEspera {
    /// UUID v7 ids sort by creation time: the oldest entry is first in line.
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        self.id.clone()
    }
}

impl Record for EntradaHistorico {
    /// By appointment, then by time (UUID v7 ids): one appointment's history is a range.
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        self.consulta_id.clone()
    }
}

impl Record for Webhook {
    /// UUID v7 ids sort by creation time.
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        self.id.clone()
    }
}

impl Record for Regras {
    /// One record.
    type Order = ();
    fn id(&self) -> &str {
        Regras::ID
    }
    fn order(&self) {}
}

impl Record for Convenio {
    /// By name ignoring case and accents; the folded name is also the unique key.
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        fold(&self.nome)
    }
    fn unique(&self) -> Option<String> {
        Some(fold(&self.nome))
    }
}

impl Record for TokenCalendario {
    /// By owner (`medico:<id>`, `paciente:<id>`).
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
    /// Insert or replace a user.
    PutUsuario(Arc<Usuario>),
    /// Remove a user (only to undo a refused write; users are deactivated, not deleted).
    DelUsuario(String),
    /// Open a session.
    PutSessao(Arc<Sessao>),
    /// End a session by token hash.
    DelSessao(String),
    /// Append an audit entry (SPEC-2 §10).
    PutAuditoria(Arc<EntradaAuditoria>),
    /// Forget an audit entry past `--auditoria-dias` (retention only; never through the API).
    DelAuditoria(String),
    /// Insert or replace a block (SPEC-2 §11).
    PutBloqueio(Arc<Bloqueio>),
    /// Delete a block by id.
    DelBloqueio(String),
    /// Insert or replace a waiting-list entry.
    PutEspera(Arc<EntradaEspera>),
    /// Remove a waiting-list entry (only to undo a refused write; entries are cancelled).
    DelEspera(String),
    /// Append an entry to an appointment's history (SPEC-2 §11).
    PutHistorico(Arc<EntradaHistorico>),
    /// Remove a history entry (with its deleted appointment, or to undo a refused write).
    DelHistorico(String),
    /// Set the clinic's rules (SPEC-2 §11).
    PutRegras(Arc<Regras>),
    /// Back to the default rules (only to undo a refused write).
    DelRegras(String),
    /// Insert or replace an insurance plan (SPEC-2 §12).
    PutConvenio(Arc<Convenio>),
    /// Delete a plan by id (only as the undo of its creation; the API deactivates).
    DelConvenio(String),
    /// Issue a calendar feed token, replacing the owner's previous one (SPEC-2 §14).
    PutTokenCalendario(Arc<TokenCalendario>),
    /// Remove a feed token (only to undo a refused write).
    DelTokenCalendario(String),
    /// Insert or replace a webhook (SPEC-2 §13).
    PutWebhook(Arc<Webhook>),
    /// Delete a webhook by id.
    DelWebhook(String),
    /// Insert or replace a notification (SPEC-2 §13).
    PutNotificacao(Arc<Notificacao>),
    /// Delete a notification by id (a re-armed or cancelled reminder).
    DelNotificacao(String),
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

impl StoreState for Db {
    type Op = Op;
    type Snapshot = DbSnapshot;
    type Collection = Collection;

    fn empty() -> Self {
        Self::default()
    }

    fn collection_of(op: &Op) -> Collection {
        match op {
            Op::PutPaciente(_) | Op::DelPaciente(_) => Collection::Pacientes,
            Op::PutMedico(_) | Op::DelMedico(_) => Collection::Medicos,
            Op::PutHorario(_) | Op::DelHorario(_) => Collection::Horarios,
            Op::PutConsulta(_) | Op::DelConsulta(_) => Collection::Consultas,
            Op::PutIdem(_) | Op::DelIdem(_) => Collection::Idempotencia,
            Op::PutReserva(_) | Op::DelReserva(_) => Collection::Reservas,
            Op::PutTarefa(_) | Op::DelTarefa(_) => Collection::Tarefas,
            Op::PutUsuario(_) | Op::DelUsuario(_) => Collection::Usuarios,
            Op::PutSessao(_) | Op::DelSessao(_) => Collection::Sessoes,
            Op::PutAuditoria(_) | Op::DelAuditoria(_) => Collection::Auditoria,
            Op::PutBloqueio(_) | Op::DelBloqueio(_) => Collection::Bloqueios,
            Op::PutEspera(_) | Op::DelEspera(_) => Collection::ListaEspera,
            Op::PutHistorico(_) | Op::DelHistorico(_) => Collection::Historico,
            Op::PutRegras(_) | Op::DelRegras(_) => Collection::Regras,
            Op::PutConvenio(_) | Op::DelConvenio(_) => Collection::Convenios,
            Op::PutTokenCalendario(_) | Op::DelTokenCalendario(_) => Collection::TokensCalendario,
            Op::PutWebhook(_) | Op::DelWebhook(_) => Collection::Webhooks,
            Op::PutNotificacao(_) | Op::DelNotificacao(_) => Collection::Notificacoes,
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
            Op::PutUsuario(r) => put(&mut self.usuarios, r, Op::PutUsuario, Op::DelUsuario),
            Op::DelUsuario(id) => self.usuarios.remove(&id).map(Op::PutUsuario),
            Op::PutSessao(r) => put(&mut self.sessoes, r, Op::PutSessao, Op::DelSessao),
            Op::DelSessao(id) => self.sessoes.remove(&id).map(Op::PutSessao),
            Op::PutAuditoria(r) => put(&mut self.auditoria, r, Op::PutAuditoria, Op::DelAuditoria),
            Op::DelAuditoria(id) => self.auditoria.remove(&id).map(Op::PutAuditoria),
            Op::PutBloqueio(r) => put(&mut self.bloqueios, r, Op::PutBloqueio, Op::DelBloqueio),
            Op::DelBloqueio(id) => self.bloqueios.remove(&id).map(Op::PutBloqueio),
            Op::PutEspera(r) => put(&mut self.lista_espera, r, Op::PutEspera, Op::DelEspera),
            Op::DelEspera(id) => self.lista_espera.remove(&id).map(Op::PutEspera),
            Op::PutHistorico(r) => put(&mut self.historico, r, Op::PutHistorico, Op::DelHistorico),
            Op::DelHistorico(id) => self.historico.remove(&id).map(Op::PutHistorico),
            Op::PutRegras(r) => put(&mut self.regras, r, Op::PutRegras, Op::DelRegras),
            Op::DelRegras(id) => self.regras.remove(&id).map(Op::PutRegras),
            Op::PutConvenio(r) => put(&mut self.convenios, r, Op::PutConvenio, Op::DelConvenio),
            Op::DelConvenio(id) => self.convenios.remove(&id).map(Op::PutConvenio),
            Op::PutTokenCalendario(r) => put(
                &mut self.calendario_tokens,
                r,
                Op::PutTokenCalendario,
                Op::DelTokenCalendario,
            ),
            Op::DelTokenCalendario(id) => self
                .calendario_tokens
                .remove(&id)
                .map(Op::PutTokenCalendario),
            Op::PutWebhook(r) => put(&mut self.webhooks, r, Op::PutWebhook, Op::DelWebhook),
            Op::DelWebhook(id) => self.webhooks.remove(&id).map(Op::PutWebhook),
            Op::PutNotificacao(r) => {
                let id = r.id.clone();
                Some(
                    self.notificacoes
                        .put(r)
                        .map_or_else(|| Op::DelNotificacao(id), Op::PutNotificacao),
                )
            }
            Op::DelNotificacao(id) => self.notificacoes.remove(&id).map(Op::PutNotificacao),
        }
    }

    fn snapshot(&self, which: Collections<Collection>) -> DbSnapshot {
        self.copy(which)
    }

    fn write_records(
        snap: &DbSnapshot,
        c: Collection,
        out: &mut dyn std::io::Write,
    ) -> serde_json::Result<()> {
        snap.write(c, out)
    }

    /// Patients, doctors, horários, appointments and holds; tasks log themselves and
    /// idempotency answers are bookkeeping.
    fn change_of(&self, op: &Op) -> Option<Change> {
        fn put<T: Record>(table: &Table<T>, collection: Collection, id: &str) -> Option<Change> {
            let action = if table.get(id).is_some() {
                "update"
            } else {
                "create"
            };
            Some(Change {
                action,
                collection: collection.name(),
                id: id.to_owned(),
            })
        }
        fn del(collection: Collection, id: &str) -> Option<Change> {
            Some(Change {
                action: "delete",
                collection: collection.name(),
                id: id.to_owned(),
            })
        }
        match op {
            Op::PutPaciente(r) => put(&self.pacientes, Collection::Pacientes, &r.id),
            Op::DelPaciente(id) => del(Collection::Pacientes, id),
            Op::PutMedico(r) => put(&self.medicos, Collection::Medicos, &r.id),
            Op::DelMedico(id) => del(Collection::Medicos, id),
            Op::PutHorario(r) => put(&self.horarios, Collection::Horarios, &r.id),
            Op::DelHorario(id) => del(Collection::Horarios, id),
            Op::PutConsulta(r) => Some(Change {
                action: if self.consultas.get(&r.id).is_some() {
                    "update"
                } else {
                    "create"
                },
                collection: Collection::Consultas.name(),
                id: r.id.clone(),
            }),
            Op::DelConsulta(id) => del(Collection::Consultas, id),
            Op::PutReserva(r) => put(&self.reservas, Collection::Reservas, &r.id),
            Op::DelReserva(id) => del(Collection::Reservas, id),
            Op::PutUsuario(r) => put(&self.usuarios, Collection::Usuarios, &r.id),
            Op::DelUsuario(id) => del(Collection::Usuarios, id),
            Op::PutBloqueio(r) => put(&self.bloqueios, Collection::Bloqueios, &r.id),
            Op::DelBloqueio(id) => del(Collection::Bloqueios, id),
            Op::PutEspera(r) => put(&self.lista_espera, Collection::ListaEspera, &r.id),
            Op::DelEspera(id) => del(Collection::ListaEspera, id),
            Op::PutConvenio(r) => put(&self.convenios, Collection::Convenios, &r.id),
            Op::DelConvenio(id) => del(Collection::Convenios, id),
            // A session's id is a token hash: it stays out of the log.
            Op::PutIdem(_)
            | Op::DelIdem(_)
            | Op::PutTarefa(_)
            | Op::DelTarefa(_)
            | Op::PutSessao(_)
            | Op::DelSessao(_)
            | Op::PutAuditoria(_)
            | Op::DelAuditoria(_)
            | Op::PutHistorico(_)
            | Op::DelHistorico(_) => None,
            Op::PutRegras(r) => put(&self.regras, Collection::Regras, r.id()),
            Op::DelRegras(id) => del(Collection::Regras, id),
            // A token's hash stays out of the log; its owner id is the record's id.
            Op::PutTokenCalendario(r) => {
                put(&self.calendario_tokens, Collection::TokensCalendario, &r.id)
            }
            Op::DelTokenCalendario(id) => del(Collection::TokensCalendario, id),
            Op::PutWebhook(r) => put(&self.webhooks, Collection::Webhooks, &r.id),
            Op::DelWebhook(id) => del(Collection::Webhooks, id),
            // Delivery bookkeeping: a line per attempt would drown the log.
            Op::PutNotificacao(_) | Op::DelNotificacao(_) => None,
        }
    }

    fn row_of(op: &Op) -> (Collection, &str, bool) {
        let c = Self::collection_of(op);
        match op {
            Op::PutPaciente(r) => (c, r.id(), true),
            Op::DelPaciente(id) => (c, id, false),
            Op::PutMedico(r) => (c, r.id(), true),
            Op::DelMedico(id) => (c, id, false),
            Op::PutHorario(r) => (c, r.id(), true),
            Op::DelHorario(id) => (c, id, false),
            Op::PutConsulta(r) => (c, r.id(), true),
            Op::DelConsulta(id) => (c, id, false),
            Op::PutIdem(r) => (c, r.id(), true),
            Op::DelIdem(id) => (c, id, false),
            Op::PutReserva(r) => (c, r.id(), true),
            Op::DelReserva(id) => (c, id, false),
            Op::PutTarefa(r) => (c, r.id(), true),
            Op::DelTarefa(id) => (c, id, false),
            Op::PutUsuario(r) => (c, r.id(), true),
            Op::DelUsuario(id) => (c, id, false),
            Op::PutSessao(r) => (c, r.id(), true),
            Op::DelSessao(id) => (c, id, false),
            Op::PutAuditoria(r) => (c, r.id(), true),
            Op::DelAuditoria(id) => (c, id, false),
            Op::PutBloqueio(r) => (c, r.id(), true),
            Op::DelBloqueio(id) => (c, id, false),
            Op::PutEspera(r) => (c, r.id(), true),
            Op::DelEspera(id) => (c, id, false),
            Op::PutHistorico(r) => (c, r.id(), true),
            Op::DelHistorico(id) => (c, id, false),
            Op::PutRegras(r) => (c, r.id(), true),
            Op::DelRegras(id) => (c, id, false),
            Op::PutConvenio(r) => (c, r.id(), true),
            Op::DelConvenio(id) => (c, id, false),
            Op::PutTokenCalendario(r) => (c, r.id(), true),
            Op::DelTokenCalendario(id) => (c, id, false),
            Op::PutWebhook(r) => (c, r.id(), true),
            Op::DelWebhook(id) => (c, id, false),
            Op::PutNotificacao(r) => (c, r.id(), true),
            Op::DelNotificacao(id) => (c, id, false),
        }
    }

    fn each_row(
        snap: &DbSnapshot,
        c: Collection,
        f: &mut dyn FnMut(&str, &[u8]),
    ) -> serde_json::Result<()> {
        snap.each_row(c, f)
    }

    fn load_collection(&mut self, c: Collection, bytes: &[u8]) -> serde_json::Result<u64> {
        self.load(c, bytes)
    }
}
