//! The live-event broker (SPEC §5): one broadcast channel fans each event out to every SSE
//! subscriber, and a ring buffer keeps the recent ones for `Last-Event-ID` replay.
//!
//! Each event is serialized once, when published; subscribers only copy the line. Ids grow
//! across restarts too (they start from the clock), so a client reconnecting after a
//! restart never mistakes new events for ones it has seen.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;

/// How many recent events are kept for replay (SPEC: at least 1,000).
pub const REPLAY: usize = 4096;
/// How many events a subscriber may fall behind before it is dropped.
pub const SUBSCRIBER_BUFFER: usize = 1024;

/// One published event: its id and its `data` line, `{"tipo", "dados"}`.
#[derive(Debug, Clone)]
pub struct Published {
    /// Increasing id, sent as the SSE `id:`.
    pub id: u64,
    /// The JSON line sent as the SSE `data:`.
    pub data: Arc<str>,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    tipo: &'a str,
    dados: &'a T,
}

struct Ring {
    next_id: u64,
    recent: VecDeque<Published>,
}

/// Where events go instead of straight to the subscribers: with several instances
/// (SPEC-2 §16) an event is journaled, and every instance publishes it with
/// [`Broker::publish_at`] once it is in the journal.
pub type Sink = Box<dyn Fn(Arc<str>) + Send + Sync>;

/// Publishes events to live subscribers and remembers the recent ones.
pub struct Broker {
    tx: broadcast::Sender<Published>,
    ring: Mutex<Ring>,
    sink: std::sync::OnceLock<Sink>,
}

impl Default for Broker {
    fn default() -> Self {
        Self::new()
    }
}

impl Broker {
    /// A broker whose ids start from the current time in microseconds.
    pub fn new() -> Self {
        let start = u64::try_from(jiff::Timestamp::now().as_microsecond()).unwrap_or(1);
        let (tx, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        Self {
            tx,
            ring: Mutex::new(Ring {
                next_id: start.max(1),
                recent: VecDeque::with_capacity(REPLAY),
            }),
            sink: std::sync::OnceLock::new(),
        }
    }

    /// Sends every later event to `sink` instead of the subscribers (set once, at start).
    pub fn set_sink(&self, sink: Sink) -> bool {
        self.sink.set(sink).is_ok()
    }

    /// Publishes an event line with a given id (its journal position). Ids only grow: one
    /// at or below the newest published is ignored.
    pub fn publish_at(&self, id: u64, data: &str) {
        let mut ring = self.ring.lock();
        if ring.recent.back().is_some_and(|e| e.id >= id) {
            return;
        }
        let ev = Published {
            id,
            data: data.into(),
        };
        ring.next_id = id + 1;
        if ring.recent.len() == REPLAY {
            ring.recent.pop_front();
        }
        ring.recent.push_back(ev.clone());
        let _ = self.tx.send(ev);
    }

    /// The id of the newest event published here (one less than the next when none was).
    pub fn newest_id(&self) -> u64 {
        self.ring.lock().next_id.saturating_sub(1)
    }

    /// Live receivers: the open agenda event streams (SSE).
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Publishes `{"tipo": tipo, "dados": dados}` to every subscriber.
    pub fn publish<T: Serialize>(&self, tipo: &str, dados: &T) {
        let data: Arc<str> = match serde_json::to_string(&Envelope { tipo, dados }) {
            Ok(s) => s.into(),
            Err(e) => {
                tracing::error!(target: "agendamento::events", tipo, error = %e, "event not serializable");
                return;
            }
        };
        if let Some(sink) = self.sink.get() {
            sink(data);
            return;
        }
        // Id assignment, ring and send under one lock, so subscribers see ids in order.
        let mut ring = self.ring.lock();
        let ev = Published {
            id: ring.next_id,
            data,
        };
        ring.next_id += 1;
        if ring.recent.len() == REPLAY {
            ring.recent.pop_front();
        }
        ring.recent.push_back(ev.clone());
        let _ = self.tx.send(ev);
    }

    /// Subscribes; returns the missed events after `last_id` (all kept ones when it is
    /// older than the ring) and the live receiver, with no gap and no duplicate between them.
    pub fn subscribe(
        &self,
        last_id: Option<u64>,
    ) -> (Vec<Published>, broadcast::Receiver<Published>) {
        let ring = self.ring.lock();
        let rx = self.tx.subscribe();
        let missed = match last_id {
            None => Vec::new(),
            Some(last) => ring
                .recent
                .iter()
                .filter(|e| e.id > last)
                .cloned()
                .collect(),
        };
        (missed, rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_returns_exactly_the_missed_events() {
        let b = Broker::new();
        for i in 0..5 {
            b.publish("x", &i);
        }
        let (all, _) = b.subscribe(Some(0));
        assert_eq!(all.len(), 5);
        let (missed, mut rx) = b.subscribe(Some(all[2].id));
        assert_eq!(
            missed.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![all[3].id, all[4].id]
        );
        b.publish("x", &5);
        let live = rx.try_recv().expect("live event");
        assert_eq!(live.id, all[4].id + 1);
        assert!(live.data.contains(r#""tipo":"x""#) && live.data.contains(r#""dados":5"#));
    }

    #[test]
    fn the_ring_keeps_the_newest_events() {
        let b = Broker::new();
        for i in 0..(REPLAY + 10) {
            b.publish("x", &i);
        }
        let (kept, _) = b.subscribe(Some(0));
        assert_eq!(kept.len(), REPLAY);
        assert!(kept.windows(2).all(|w| w[0].id + 1 == w[1].id));
    }
}
