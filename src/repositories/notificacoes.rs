//! The notifications' collection (SPEC-2 §13): by id (UUID v7, so creation order), plus the
//! two indexes the outbox needs: the pending ones by due time (the delivery worker's queue)
//! and each appointment's (a move or cancellation finds its pending reminders).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;

use super::{Record, Table};
use crate::models::{Notificacao, StatusNotificacao};

impl Record for Notificacao {
    /// UUID v7 ids sort by creation time.
    type Order = String;
    fn id(&self) -> &str {
        &self.id
    }
    fn order(&self) -> String {
        self.id.clone()
    }
}

/// The notifications and their indexes.
#[derive(Debug, Default)]
pub struct Notificacoes {
    table: Table<Notificacao>,
    /// Pending notifications by due time (Unix seconds; none = now) and id.
    fila: BTreeSet<(i64, String)>,
    /// Notification ids by appointment.
    por_consulta: HashMap<String, BTreeSet<String>>,
}

fn vence(n: &Notificacao) -> Option<(i64, String)> {
    (n.status == StatusNotificacao::Pendente).then(|| {
        (
            n.proxima_tentativa_em
                .map_or(i64::MIN, Timestamp::as_second),
            n.id.clone(),
        )
    })
}

impl Notificacoes {
    /// The notification with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Notificacao>> {
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

    /// Every notification, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Notificacao>> + '_ {
        self.table.iter()
    }

    /// The pending notifications due at or before `agora` (Unix seconds), earliest first,
    /// except those `pular` names (checked before the lookup: the delivery worker skips the
    /// ones in flight on every round).
    pub fn vencidas<'a>(
        &'a self,
        agora: i64,
        pular: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Arc<Notificacao>> + 'a {
        self.fila
            .iter()
            .take_while(move |(t, _)| *t <= agora)
            .filter(move |(_, id)| !pular(id))
            .filter_map(|(_, id)| self.table.get(id))
    }

    /// When the earliest pending notification is due (Unix seconds).
    pub fn proxima(&self) -> Option<i64> {
        self.fila.first().map(|(t, _)| *t)
    }

    /// How many are pending.
    pub fn pendentes(&self) -> usize {
        self.fila.len()
    }

    /// The notifications of appointment `consulta_id`.
    pub fn da_consulta<'a>(
        &'a self,
        consulta_id: &str,
    ) -> impl Iterator<Item = &'a Arc<Notificacao>> + 'a {
        self.por_consulta
            .get(consulta_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.table.get(id))
    }

    /// Inserts or replaces one; returns the previous version.
    pub fn put(&mut self, n: Arc<Notificacao>) -> Option<Arc<Notificacao>> {
        let old = self.remove(&n.id);
        if let Some(k) = vence(&n) {
            self.fila.insert(k);
        }
        if let Some(c) = &n.consulta_id {
            self.por_consulta
                .entry(c.clone())
                .or_default()
                .insert(n.id.clone());
        }
        self.table.put(n);
        old
    }

    /// Removes one; returns it.
    pub fn remove(&mut self, id: &str) -> Option<Arc<Notificacao>> {
        let old = self.table.remove(id)?;
        if let Some(k) = vence(&old) {
            self.fila.remove(&k);
        }
        if let Some(c) = &old.consulta_id
            && let Some(set) = self.por_consulta.get_mut(c)
        {
            set.remove(id);
            if set.is_empty() {
                self.por_consulta.remove(c);
            }
        }
        Some(old)
    }
}
