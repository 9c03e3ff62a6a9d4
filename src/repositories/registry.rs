//! The collection registry: every collection of the database named once, in
//! [`collections!`]'s one table. From that table come the [`Collection`] enum (with
//! [`Collection::ALL`] and its snapshot/backup names), the fields of [`Db`] and of its
//! snapshot, and the store's per-collection copy, write and load. Matches over
//! [`Collection`] elsewhere are exhaustive (no `_ =>`), so a new collection that some code
//! does not handle yet does not compile.
//!
//! To add a collection: a line in the table below (and its `Op` variants in `mod.rs`, whose
//! matches then point at every place that needs an arm).

use std::io;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Consultas, IdemEntry, Notificacoes, Record, Table};
use crate::infra::store::{CollectionId, Collections, parse_snapshot};
use crate::models::{
    Bloqueio, Consulta, Convenio, EntradaAuditoria, EntradaEspera, EntradaHistorico, Horario,
    Medico, Notificacao, Paciente, Regras, Reserva, Sessao, Tarefa, TokenCalendario, Usuario,
    Webhook,
};

/// A collection's in-memory storage, as the registry sees it.
pub trait Rows {
    /// The record type.
    type Row: Serialize + DeserializeOwned + Record;
    /// Number of records.
    fn count(&self) -> usize;
    /// A copy of every record, in listing order (cheap: `Arc`s).
    fn rows(&self) -> Vec<Arc<Self::Row>>;
    /// Inserts or replaces a record.
    fn insert(&mut self, row: Arc<Self::Row>);
}

impl<T: Record + Serialize + DeserializeOwned> Rows for Table<T> {
    type Row = T;
    fn count(&self) -> usize {
        self.len()
    }
    fn rows(&self) -> Vec<Arc<T>> {
        self.iter().cloned().collect()
    }
    fn insert(&mut self, row: Arc<T>) {
        self.put(row);
    }
}

impl Rows for Notificacoes {
    type Row = Notificacao;
    fn count(&self) -> usize {
        self.len()
    }
    fn rows(&self) -> Vec<Arc<Notificacao>> {
        self.iter().cloned().collect()
    }
    fn insert(&mut self, row: Arc<Notificacao>) {
        self.put(row);
    }
}

impl Rows for Consultas {
    type Row = Consulta;
    fn count(&self) -> usize {
        self.len()
    }
    fn rows(&self) -> Vec<Arc<Consulta>> {
        self.iter().cloned().collect()
    }
    fn insert(&mut self, row: Arc<Consulta>) {
        self.put(row);
    }
}

/// Loads the records of one snapshot file into `rows`; returns the file's sequence stamp.
fn load<R: Rows>(rows: &mut R, bytes: &[u8]) -> serde_json::Result<u64> {
    let file = parse_snapshot::<R::Row>(bytes)?;
    for r in file.registros {
        rows.insert(Arc::new(r));
    }
    Ok(file.seq)
}

/// Generates the registry from one table: `Variant => field: Type = "name", backup: bool`.
macro_rules! collections {
    ($(
        $(#[$doc:meta])*
        $variant:ident => $field:ident: $ty:ty = $name:literal, backup: $backup:literal;
    )+) => {
        /// One collection of the database.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Collection {
            $(
                $(#[$doc])*
                $variant,
            )+
        }

        impl Collection {
            /// Every collection, in snapshot order.
            pub const ALL: &'static [Collection] = &[$(Collection::$variant),+];

            /// Its name: the snapshot file stem (`<name>.json`, also in a backup) and the
            /// `collection` field of the log.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Collection::$variant => $name,)+
                }
            }

            /// Whether a backup holds it (the clinical collections; SPEC §6).
            pub const fn in_backup(self) -> bool {
                match self {
                    $(Collection::$variant => $backup,)+
                }
            }
        }

        impl CollectionId for Collection {
            const ALL: &'static [Self] = Collection::ALL;
            fn name(self) -> &'static str {
                Collection::name(self)
            }
            fn index(self) -> usize {
                self as usize
            }
        }

        /// The whole database, in memory.
        #[derive(Debug, Default)]
        pub struct Db {
            $(
                $(#[$doc])*
                pub $field: $ty,
            )+
        }

        /// Copies of the collections a snapshot writes.
        #[derive(Default)]
        pub struct DbSnapshot {
            $($field: Vec<Arc<<$ty as Rows>::Row>>,)+
        }

        impl Db {
            /// Number of records in collection `c`.
            pub fn count(&self, c: Collection) -> usize {
                match c {
                    $(Collection::$variant => self.$field.count(),)+
                }
            }

            /// Copies the collections in `which`.
            pub(super) fn copy(&self, which: Collections<Collection>) -> DbSnapshot {
                let mut s = DbSnapshot::default();
                for c in which.iter() {
                    match c {
                        $(Collection::$variant => s.$field = self.$field.rows(),)+
                    }
                }
                s
            }

            /// Loads collection `c` from the bytes of its snapshot file.
            pub(super) fn load(&mut self, c: Collection, bytes: &[u8]) -> serde_json::Result<u64> {
                match c {
                    $(Collection::$variant => load(&mut self.$field, bytes),)+
                }
            }
        }

        impl DbSnapshot {
            /// Writes the records of collection `c` (a JSON array) to `out`.
            pub(super) fn write(&self, c: Collection, out: &mut dyn io::Write) -> serde_json::Result<()> {
                match c {
                    $(Collection::$variant => serde_json::to_writer_pretty(out, &self.$field),)+
                }
            }

            /// Calls `f` with the id and the JSON of every record of collection `c`.
            pub(super) fn each_row(&self, c: Collection, f: &mut dyn FnMut(&str, &[u8])) -> serde_json::Result<()> {
                match c {
                    $(Collection::$variant => {
                        let mut buf = Vec::new();
                        for r in &self.$field {
                            buf.clear();
                            serde_json::to_writer(&mut buf, &**r)?;
                            f(r.id(), &buf);
                        }
                        Ok(())
                    })+
                }
            }
        }
    };
}

collections! {
    /// Patients, by name.
    Pacientes => pacientes: Table<Paciente> = "pacientes", backup: true;
    /// Doctors, by name.
    Medicos => medicos: Table<Medico> = "medicos", backup: true;
    /// Working hours, by doctor, weekday and start.
    Horarios => horarios: Table<Horario> = "horarios", backup: true;
    /// Appointments, by start, doctor and patient.
    Consultas => consultas: Consultas = "consultas", backup: true;
    /// Idempotent answers, by key.
    Idempotencia => idem: Table<IdemEntry> = "idempotencia", backup: false;
    /// Live slot holds, by doctor and slot.
    Reservas => reservas: Table<Reserva> = "reservas", backup: false;
    /// Background tasks, oldest first.
    Tarefas => tarefas: Table<Tarefa> = "tarefas", backup: false;
    /// Users, by e-mail (SPEC-2 §10). Not in backups: a restore keeps them, and their
    /// password hashes never reach a backup.
    Usuarios => usuarios: Table<Usuario> = "usuarios", backup: false;
    /// Sessions, by expiry; the id is the token's SHA-256. Not in backups.
    Sessoes => sessoes: Table<Sessao> = "sessoes", backup: false;
    /// The audit trail, oldest first (SPEC-2 §10). Not in backups: a restore keeps it.
    Auditoria => auditoria: Table<EntradaAuditoria> = "auditoria", backup: false;
    /// Time off and holidays, by doctor (whole clinic first) and start (SPEC-2 §11).
    Bloqueios => bloqueios: Table<Bloqueio> = "bloqueios", backup: true;
    /// The waiting list, oldest first (SPEC-2 §11).
    ListaEspera => lista_espera: Table<EntradaEspera> = "lista_espera", backup: true;
    /// Appointments' histories, by appointment and time (SPEC-2 §11).
    Historico => historico: Table<EntradaHistorico> = "historico", backup: true;
    /// The clinic's rules: one record, absent while they are the defaults (SPEC-2 §11).
    Regras => regras: Table<Regras> = "regras", backup: true;
    /// Insurance plans, by name (SPEC-2 §12).
    Convenios => convenios: Table<Convenio> = "convenios", backup: true;
    /// Calendar feed tokens (SPEC-2 §14), by owner; only their SHA-256. Not in backups:
    /// credentials stay with the server, like sessions (a restore keeps them).
    TokensCalendario => calendario_tokens: Table<TokenCalendario> = "calendario_tokens", backup: false;
    /// Webhooks (SPEC-2 §13), with their secrets: a restored webhook must still verify.
    Webhooks => webhooks: Table<Webhook> = "webhooks", backup: true;
    /// The outbox (SPEC-2 §13). Not in backups: pending deliveries are this server's work.
    Notificacoes => notificacoes: Notificacoes = "notificacoes", backup: false;
}

// A set of collections is one bit each in a `u64`.
const _: () = assert!(Collection::ALL.len() <= 64);

impl Collection {
    /// The collections a backup holds.
    pub fn in_backups() -> Collections<Collection> {
        Collection::ALL
            .iter()
            .filter(|c| c.in_backup())
            .fold(Collections::NONE, |s, c| s.with(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::store::{Store, StoreError};
    use crate::repositories::Op;

    /// The names are file names in every data folder and backup: renaming one loses data.
    #[test]
    fn names_on_disk_and_in_backups_stay_as_they_were() {
        let names: Vec<_> = Collection::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "pacientes",
                "medicos",
                "horarios",
                "consultas",
                "idempotencia",
                "reservas",
                "tarefas",
                "usuarios",
                "sessoes",
                "auditoria",
                "bloqueios",
                "lista_espera",
                "historico",
                "regras",
                "convenios",
                "calendario_tokens",
                "webhooks",
                "notificacoes"
            ]
        );
        let backup: Vec<_> = Collection::in_backups().iter().map(|c| c.name()).collect();
        assert_eq!(
            backup,
            [
                "pacientes",
                "medicos",
                "horarios",
                "consultas",
                "bloqueios",
                "lista_espera",
                "historico",
                "regras",
                "convenios",
                "webhooks"
            ]
        );
    }

    /// A journal line and a snapshot file, byte for byte as the stores before the seam wrote them.
    #[tokio::test]
    async fn journal_line_and_snapshot_file_keep_their_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::<Db>::open(dir.path(), 1000).expect("open");
        let p = Paciente {
            id: "p1".into(),
            nome: "Zoë".into(),
            cpf: "52998224725".into(),
            data_nascimento: jiff::civil::date(1980, 5, 17),
            email: None,
            telefone: Some("11".into()),
            convenio: None,
            notificacoes_email: true,
            created_at: "2026-01-01T08:00:00-03:00".into(),
            updated_at: "2026-01-01T08:00:00-03:00".into(),
            convenio_id: None,
            carteirinha: None,
            validade_carteirinha: None,
        };
        store
            .write(|_| Ok::<_, StoreError>((vec![Op::PutPaciente(Arc::new(p))], ())))
            .await
            .expect("write");
        let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).expect("journal");
        assert_eq!(
            journal,
            concat!(
                r#"{"seq":1,"ops":[{"op":"put_paciente","dados":{"id":"p1","nome":"Zoë","#,
                r#""cpf":"52998224725","data_nascimento":"1980-05-17","email":null,"telefone":"11","#,
                r#""convenio":null,"notificacoes_email":true,"#,
                r#""created_at":"2026-01-01T08:00:00-03:00","#,
                r#""updated_at":"2026-01-01T08:00:00-03:00"}}]}"#,
                "\n"
            )
        );
        let s = store.clone();
        tokio::task::spawn_blocking(move || s.compact())
            .await
            .expect("join")
            .expect("compact");
        let file = std::fs::read_to_string(dir.path().join("pacientes.json")).expect("snapshot");
        assert_eq!(
            file,
            concat!(
                "{\n  \"versao\": 1,\n  \"seq\": 1,\n  \"registros\": [\n  {\n",
                "    \"id\": \"p1\",\n    \"nome\": \"Zoë\",\n    \"cpf\": \"52998224725\",\n",
                "    \"data_nascimento\": \"1980-05-17\",\n    \"email\": null,\n",
                "    \"telefone\": \"11\",\n    \"convenio\": null,\n",
                "    \"notificacoes_email\": true,\n",
                "    \"created_at\": \"2026-01-01T08:00:00-03:00\",\n",
                "    \"updated_at\": \"2026-01-01T08:00:00-03:00\"\n  }\n]\n}\n"
            )
        );
        // Only the changed collection was written.
        assert!(!dir.path().join("medicos.json").exists());
    }

    #[test]
    fn indexes_follow_all_and_names_are_unique() {
        for (i, c) in Collection::ALL.iter().enumerate() {
            assert_eq!(CollectionId::index(*c), i);
        }
        let mut names: Vec<_> = Collection::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Collection::ALL.len());
    }
}
