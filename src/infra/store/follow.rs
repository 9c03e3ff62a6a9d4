//! Following a shared journal (SPEC-2 §16): applying the entries other processes appended,
//! publishing their events with the journal position as the id, and reloading the whole
//! state when the entries right after this process's position are gone.

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::engine::Inner;
use super::format::Entry;
use super::journal::Caught;
use super::{Collections, StoreState};

/// How often the follower reads past its position without a notification, and how often it
/// tells the journal its position.
const POLL: Duration = Duration::from_millis(250);
const REPORT: Duration = Duration::from_secs(5);

/// The follower thread: waits for news (or [`POLL`]), catches up, reports its position.
pub(super) fn follow_forever<S: StoreState>(inner: &Inner<S>) {
    let mut reported = Instant::now() - REPORT;
    let mut failing = false;
    loop {
        if inner.pending.lock().shutdown {
            return;
        }
        inner.journal.wait_news(POLL);
        match catch_up(inner, false) {
            Ok(()) => failing = false,
            Err(e) => {
                if !failing {
                    tracing::warn!(target: "agendamento::store", error = %e, "could not follow the shared journal; retrying");
                }
                failing = true;
            }
        }
        if reported.elapsed() >= REPORT {
            reported = Instant::now();
            let seq = inner.durable_seq.load(Ordering::Acquire);
            if let Err(e) = inner.journal.report_position(seq) {
                tracing::debug!(target: "agendamento::store", error = %e, "could not report the position");
            }
        }
    }
}

/// Applies what the journal holds past this process's position. Does nothing while this
/// process has the right to write (its state is then the newest), unless `by_flusher`: the
/// flusher calls it right after taking that right, before it opens the gate.
pub(super) fn catch_up<S: StoreState>(inner: &Inner<S>, by_flusher: bool) -> io::Result<()> {
    let _one_at_a_time = inner.follow_lock.lock();
    let open = || inner.gate.load(Ordering::Acquire);
    if open() && !by_flusher {
        return Ok(());
    }
    let from = inner.guarded.read().last_seq;
    let caught = inner.journal.read_after(from)?;
    let mut events = Vec::new();
    let mut g = inner.guarded.write();
    if (open() && !by_flusher) || g.last_seq != from {
        // The flusher took its turn (and caught up itself) meanwhile.
        return Ok(());
    }
    let hooks = inner.hooks.get();
    match caught {
        // Nothing past this position. Its in-memory position may hold this process's own
        // last batch, still on its way to the journal (the flusher appends it after closing
        // the gate): it is not durable, so it is not published as such.
        Caught::Entries(list) if list.is_empty() => return Ok(()),
        Caught::Entries(list) => {
            for bytes in list {
                let entry: Entry<S::Op> = serde_json::from_slice(&bytes)
                    .map_err(|e| io::Error::other(format!("journal entry: {e}")))?;
                if entry.seq <= g.last_seq {
                    continue;
                }
                if entry.seq != g.last_seq + 1 {
                    return Err(io::Error::other(format!(
                        "journal gap: {} after {}",
                        entry.seq, g.last_seq
                    )));
                }
                if let Some(h) = hooks {
                    (h.followed)(&g.state, &entry.ops);
                }
                let last = entry.last();
                for op in entry.ops {
                    g.dirty.insert(S::collection_of(&op));
                    g.state.apply(op);
                }
                g.last_seq = last;
                events.extend(
                    entry
                        .events
                        .into_iter()
                        .enumerate()
                        .map(|(i, line)| (entry.seq + i as u64, line)),
                );
            }
        }
        Caught::Reload(loaded) => {
            tracing::warn!(target: "agendamento::store", from, to = loaded.last_seq, "reloading the whole state from the database");
            g.state = loaded.state;
            g.last_seq = loaded.last_seq;
            g.dirty = Collections::NONE;
            if let Some(h) = hooks {
                (h.reloaded)(&g.state);
            }
        }
    }
    let seq = g.last_seq;
    inner.durable_seq.store(seq, Ordering::Release);
    drop(g);
    inner.visible.send_replace(seq);
    if let Some(h) = hooks {
        for (seq, line) in events {
            (h.event)(seq, &line);
        }
    }
    Ok(())
}
