//! The task queue's worker threads (SPEC §4, ARCHITECTURE "The queue is durable").
//!
//! Durability lives in the store: a task is journaled before its id is sent here, and on
//! start-up every unfinished task is sent again. This module only owns the channels and the
//! background threads that run tasks one by one through a [`Runner`]; a worker never dies on
//! a bad task (a panic is caught and reported) and stops between tasks when asked.
//!
//! Two lanes, each with its own channel and thread: bookings never wait behind bulk work
//! (backups, reports), however much of it is queued (issue 8). A task goes to one lane by its
//! kind, always the same, so each still runs on exactly one thread.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

/// Runs one task to its end (including its retries).
pub trait Runner: Send + Sync + 'static {
    /// Runs the task with this id. Called on the worker thread, never on the async runtime.
    fn run(&self, task_id: &str);
    /// Called when `run` panicked, so the task can be marked failed.
    fn panicked(&self, task_id: &str, message: &str);
    /// Runs several queued tasks; a runner may overlap their disk writes.
    fn run_batch(&self, task_ids: &[String]) {
        for id in task_ids {
            self.run(id);
        }
    }
}

/// Most tasks handed to one [`Runner::run_batch`].
pub const BATCH: usize = 64;

/// What one step of the worker did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Ran a task.
    Ran,
    /// Nothing was queued.
    Empty,
}

struct Shared {
    depth: AtomicUsize,
    alive: AtomicBool,
    stop: AtomicBool,
}

/// Which worker runs a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Bookings: short, and someone is waiting for each.
    Agenda,
    /// Backups and reports: long, and nobody's appointment depends on them.
    Bulk,
}

/// One lane: its channel, its thread and their state.
struct LaneQueue {
    name: &'static str,
    tx: Mutex<Option<mpsc::Sender<String>>>,
    rx: Mutex<Option<mpsc::Receiver<String>>>,
    shared: Arc<Shared>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl LaneQueue {
    fn new(name: &'static str) -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            name,
            tx: Mutex::new(Some(tx)),
            rx: Mutex::new(Some(rx)),
            shared: Arc::new(Shared {
                depth: AtomicUsize::new(0),
                alive: AtomicBool::new(false),
                stop: AtomicBool::new(false),
            }),
            handle: Mutex::new(None),
        }
    }

    fn push(&self, task_id: String) {
        if let Some(tx) = self.tx.lock().as_ref() {
            self.shared.depth.fetch_add(1, Ordering::AcqRel);
            if tx.send(task_id).is_err() {
                self.shared.depth.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn start(&self, runner: Arc<dyn Runner>) -> std::io::Result<()> {
        let Some(rx) = self.rx.lock().take() else {
            return Ok(());
        };
        let shared = self.shared.clone();
        shared.alive.store(true, Ordering::Release);
        let handle = std::thread::Builder::new()
            .name(self.name.into())
            .spawn(move || {
                while !shared.stop.load(Ordering::Acquire) {
                    if step(&rx, &*runner, &shared, Duration::from_millis(200)) == Step::Empty
                        && shared.stop.load(Ordering::Acquire)
                    {
                        break;
                    }
                }
                shared.alive.store(false, Ordering::Release);
            })?;
        *self.handle.lock() = Some(handle);
        Ok(())
    }

    fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.tx.lock().take();
    }

    fn join(&self) {
        let handle = self.handle.lock().take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// The sending side of both lanes plus their workers' state.
pub struct Queue {
    agenda: LaneQueue,
    bulk: LaneQueue,
}

impl Default for Queue {
    fn default() -> Self {
        Self::new()
    }
}

impl Queue {
    /// A queue whose workers are not started yet (tasks sent now wait for [`Queue::start`]).
    pub fn new() -> Self {
        Self {
            agenda: LaneQueue::new("task-worker"),
            bulk: LaneQueue::new("task-worker-bulk"),
        }
    }

    fn lane(&self, lane: Lane) -> &LaneQueue {
        match lane {
            Lane::Agenda => &self.agenda,
            Lane::Bulk => &self.bulk,
        }
    }

    /// Sends a (journaled) task to its lane's worker.
    pub fn push(&self, lane: Lane, task_id: String) {
        self.lane(lane).push(task_id);
    }

    /// Tasks sent and not yet finished, both lanes.
    pub fn pending(&self) -> usize {
        self.agenda.shared.depth.load(Ordering::Acquire)
            + self.bulk.shared.depth.load(Ordering::Acquire)
    }

    /// Tasks sent to one lane and not yet taken by its worker.
    pub fn depth(&self, lane: Lane) -> usize {
        self.lane(lane).shared.depth.load(Ordering::Acquire)
    }

    /// Whether both worker threads are running.
    pub fn alive(&self) -> bool {
        self.agenda.shared.alive.load(Ordering::Acquire)
            && self.bulk.shared.alive.load(Ordering::Acquire)
    }

    /// Starts both worker threads with `runner`. A second call does nothing.
    pub fn start(&self, runner: Arc<dyn Runner>) -> std::io::Result<()> {
        self.agenda.start(runner.clone())?;
        self.bulk.start(runner)
    }

    /// Runs every task queued so far, and those they queue in turn, on the calling thread,
    /// step by step, until both lanes are empty; returns how many steps ran. For tests that
    /// never call [`Queue::start`] (a started queue's threads own the lanes: then 0). Call
    /// it off the async runtime, like the worker thread.
    pub fn run_pending(&self, runner: &dyn Runner) -> usize {
        let mut steps = 0;
        loop {
            let before = steps;
            for lane in [&self.agenda, &self.bulk] {
                let rx = lane.rx.lock();
                let Some(rx) = rx.as_ref() else { continue };
                while step(rx, runner, &lane.shared, Duration::ZERO) == Step::Ran {
                    steps += 1;
                }
            }
            if steps == before {
                return steps;
            }
        }
    }

    /// Stops taking tasks, lets the running ones finish, and joins the threads. Tasks still
    /// queued stay `pendente` on disk and run after the next start.
    pub fn shutdown(&self) {
        self.agenda.stop();
        self.bulk.stop();
        self.agenda.join();
        self.bulk.join();
    }
}

/// One step of the worker: waits up to `wait` for a task, takes whatever else is already
/// queued (up to [`BATCH`]) and runs them.
fn step(rx: &mpsc::Receiver<String>, runner: &dyn Runner, shared: &Shared, wait: Duration) -> Step {
    let mut ids = match rx.recv_timeout(wait) {
        Ok(id) => vec![id],
        Err(_) => return Step::Empty,
    };
    while ids.len() < BATCH {
        match rx.try_recv() {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
    }
    if std::panic::catch_unwind(AssertUnwindSafe(|| runner.run_batch(&ids))).is_err() {
        // Find the culprit: run the batch again one task at a time (finished ones are
        // skipped by the runner), failing only the task that panics.
        for id in &ids {
            if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| runner.run(id))) {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                tracing::error!(target: "agendamento::queue", task_id = %id, "task panicked: {msg}");
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| runner.panicked(id, &msg)));
            }
        }
    }
    shared.depth.fetch_sub(ids.len(), Ordering::AcqRel);
    Step::Ran
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>, Mutex<Vec<String>>);

    impl Runner for Recorder {
        fn run(&self, id: &str) {
            if id == "boom" {
                panic!("bad task");
            }
            self.0.lock().push(id.to_owned());
        }
        fn panicked(&self, id: &str, _: &str) {
            self.1.lock().push(id.to_owned());
        }
    }

    #[test]
    fn runs_tasks_in_order_and_survives_a_panicking_one() {
        let q = Queue::new();
        let r = Arc::new(Recorder::default());
        for id in ["a", "boom", "b"] {
            q.push(Lane::Agenda, id.into());
        }
        let shared = q.agenda.shared.clone();
        let rx = q.agenda.rx.lock().take().expect("receiver");
        let wait = Duration::from_millis(10);
        // All three are queued, so one step takes them as a batch; the panic in "boom"
        // stops the batch, which then runs task by task: only "boom" is reported.
        assert_eq!(step(&rx, &*r, &shared, wait), Step::Ran);
        assert_eq!(step(&rx, &*r, &shared, wait), Step::Empty);
        assert_eq!(*r.1.lock(), vec!["boom".to_owned()]);
        assert!(r.0.lock().contains(&"b".to_owned()));
        q.push(Lane::Agenda, "c".into());
        assert_eq!(step(&rx, &*r, &shared, wait), Step::Ran);
        assert_eq!(r.0.lock().last().map(String::as_str), Some("c"));
        assert_eq!(q.pending(), 0);
    }

    #[test]
    fn run_pending_drains_both_lanes_on_the_calling_thread() {
        let q = Queue::new();
        let r = Recorder::default();
        q.push(Lane::Bulk, "backup".into());
        q.push(Lane::Agenda, "a".into());
        q.push(Lane::Agenda, "boom".into());
        assert_eq!(q.pending(), 3);
        assert!(q.run_pending(&r) >= 2);
        assert_eq!(q.pending(), 0);
        // A batch with a panic is run again task by task ("a" twice here; the real runner
        // skips finished tasks).
        let mut ran = r.0.lock().clone();
        ran.sort();
        ran.dedup();
        assert_eq!(ran, ["a", "backup"]);
        assert_eq!(*r.1.lock(), ["boom"]);
        assert_eq!(q.run_pending(&r), 0);
    }

    #[test]
    fn a_booking_runs_while_the_bulk_lane_is_busy() {
        // The bulk runner blocks until released; the booking must not wait for it.
        struct Gate {
            release: Mutex<Option<mpsc::Receiver<()>>>,
            done: mpsc::Sender<String>,
        }
        impl Runner for Gate {
            fn run(&self, id: &str) {
                let gate = if id.starts_with("bulk") {
                    self.release.lock().take()
                } else {
                    None
                };
                if let Some(rx) = gate {
                    let _ = rx.recv_timeout(Duration::from_secs(10));
                }
                let _ = self.done.send(id.to_owned());
            }
            fn panicked(&self, _: &str, _: &str) {}
        }
        let (release_tx, release_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let q = Queue::new();
        q.start(Arc::new(Gate {
            release: Mutex::new(Some(release_rx)),
            done: done_tx,
        }))
        .expect("start");
        q.push(Lane::Bulk, "bulk-1".into());
        q.push(Lane::Bulk, "bulk-2".into());
        q.push(Lane::Agenda, "booking".into());
        let first = done_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("a task ran");
        assert_eq!(first, "booking");
        release_tx.send(()).expect("release");
        let mut rest: Vec<String> = (0..2)
            .map(|_| {
                done_rx
                    .recv_timeout(Duration::from_secs(5))
                    .expect("bulk ran")
            })
            .collect();
        rest.sort();
        assert_eq!(rest, ["bulk-1", "bulk-2"]);
        q.shutdown();
        assert!(!q.alive());
    }
}
