//! A generic in-memory collection: records by id, one ordered index for listing, and an
//! optional unique key (CPF, CRM).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

/// A record kept in a [`Table`].
pub trait Record {
    /// The listing order (SPEC §1 "Order").
    type Order: Ord + Clone;
    /// The record's id.
    fn id(&self) -> &str;
    /// Its position in the listing order.
    fn order(&self) -> Self::Order;
    /// Its unique key, if the collection has one.
    fn unique(&self) -> Option<String> {
        None
    }
}

/// Records by id, plus the ordered and unique indexes.
#[derive(Debug)]
pub struct Table<T: Record> {
    by_id: HashMap<String, Arc<T>>,
    /// The listing order, holding the records too so that listing needs no lookups.
    order: BTreeMap<(T::Order, String), Arc<T>>,
    unique: HashMap<String, String>,
}

impl<T: Record> Default for Table<T> {
    fn default() -> Self {
        Self {
            by_id: HashMap::new(),
            order: BTreeMap::new(),
            unique: HashMap::new(),
        }
    }
}

impl<T: Record> Clone for Table<T> {
    fn clone(&self) -> Self {
        Self {
            by_id: self.by_id.clone(),
            order: self.order.clone(),
            unique: self.unique.clone(),
        }
    }
}

impl<T: Record> Table<T> {
    /// The record with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<T>> {
        self.by_id.get(id)
    }

    /// The id of the record holding this unique key.
    pub fn id_by_unique(&self, key: &str) -> Option<&str> {
        self.unique.get(key).map(String::as_str)
    }

    /// How many records there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every record, in listing order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<T>> + '_ {
        self.order.values()
    }

    /// The records whose order key lies in `[from, to)`, in order.
    pub fn range(
        &self,
        from: Bound<T::Order>,
        to: Bound<T::Order>,
    ) -> impl DoubleEndedIterator<Item = &Arc<T>> + '_ {
        let lo = match from {
            Bound::Included(k) => Bound::Included((k, String::new())),
            Bound::Excluded(k) => Bound::Excluded((k, char::MAX.to_string())),
            Bound::Unbounded => Bound::Unbounded,
        };
        let hi = match to {
            Bound::Included(k) => Bound::Included((k, char::MAX.to_string())),
            Bound::Excluded(k) => Bound::Excluded((k, String::new())),
            Bound::Unbounded => Bound::Unbounded,
        };
        // A reversed range is empty (BTreeMap::range would panic on it).
        let reversed = match (&lo, &hi) {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a > b
            }
            _ => false,
        };
        let range = if reversed {
            None
        } else {
            Some(self.order.range((lo, hi)))
        };
        range.into_iter().flatten().map(|(_, r)| r)
    }

    /// Inserts or replaces a record, keeping the indexes; returns the previous version.
    pub fn put(&mut self, rec: Arc<T>) -> Option<Arc<T>> {
        let id = rec.id().to_owned();
        let old = self.remove(&id);
        self.order.insert((rec.order(), id.clone()), rec.clone());
        if let Some(u) = rec.unique() {
            self.unique.insert(u, id.clone());
        }
        self.by_id.insert(id, rec);
        old
    }

    /// Removes a record, keeping the indexes; returns it.
    pub fn remove(&mut self, id: &str) -> Option<Arc<T>> {
        let old = self.by_id.remove(id)?;
        self.order.remove(&(old.order(), id.to_owned()));
        if let Some(u) = old.unique()
            && self.unique.get(&u).is_some_and(|owner| owner == id)
        {
            self.unique.remove(&u);
        }
        Some(old)
    }
}
