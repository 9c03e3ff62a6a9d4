//! Logs as the dashboard reads them (SPEC §5): a tracing layer that formats each event as
//! `[YYYY-MM-DD HH:MM:SS] [LEVEL] target: message k=v…`, keeps the recent lines for
//! `GET /sistema/logs`, streams them to `GET /sistema/logs/stream`, and appends them to a
//! daily-rotated file under the logs folder. Log lines carry ids only, never personal data.
//!
//! Every request is logged (see `controllers::middleware`), so a line must stay cheap: the
//! file is written by a background thread (no syscall, let alone an fsync, on the request's
//! path), and [`LogHub::close`] flushes what is still queued at exit.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use parking_lot::Mutex;
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// How many recent lines are kept in memory.
pub const KEEP: usize = 5000;

/// Whether an event may be logged at all, whatever `RUST_LOG` asks: other crates' events
/// only up to INFO. Their debug and trace output copies data this server handles (the
/// PostgreSQL client logs every statement's parameters, that is whole patient records and
/// the link secret), and personal data never goes into the logs.
pub fn permitido(meta: &tracing::Metadata<'_>) -> bool {
    let nosso = meta.target() == "agendamento" || meta.target().starts_with("agendamento::");
    nosso || *meta.level() <= tracing::Level::INFO
}

/// The recent log lines and their live stream.
pub struct LogHub {
    recent: Mutex<VecDeque<Arc<str>>>,
    tx: broadcast::Sender<Arc<str>>,
    tz: jiff::tz::TimeZone,
    /// The file writer's queue, kept to tell it to flush and stop at exit.
    file_tx: Mutex<Option<SyncSender<ToFile>>>,
}

/// What the file-writing thread receives.
enum ToFile {
    /// A line, without its newline.
    Line(Arc<str>),
    /// Flush, answer, stop.
    Close(std::sync::mpsc::Sender<()>),
}

/// Lines waiting for the file before a logging thread has to wait (not lossy).
const FILE_QUEUE: usize = 128 * 1024;

/// How often the file-writing thread wakes up to write what was queued.
const FILE_TICK: std::time::Duration = std::time::Duration::from_millis(50);

/// The file-writing thread: every [`FILE_TICK`] it drains the queued lines into a buffer
/// and writes them out at once. It polls instead of waiting on the queue because a waiting
/// thread has to be woken (a syscall and a context switch) by every line sent, which at tens
/// of thousands of requests a second cost more than the requests themselves.
fn write_lines(rx: Receiver<ToFile>, out: impl std::io::Write) {
    use std::sync::mpsc::TryRecvError;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    loop {
        loop {
            match rx.try_recv() {
                Ok(ToFile::Line(line)) => {
                    let _ = out.write_all(line.as_bytes());
                    let _ = out.write_all(b"\n");
                }
                Ok(ToFile::Close(done)) => {
                    let _ = out.flush();
                    let _ = done.send(());
                    return;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let _ = out.flush();
                    return;
                }
            }
        }
        let _ = out.flush();
        std::thread::sleep(FILE_TICK);
    }
}

impl LogHub {
    /// A hub stamping lines in `tz`.
    pub fn new(tz: jiff::tz::TimeZone) -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            recent: Mutex::new(VecDeque::with_capacity(KEEP)),
            tx,
            tz,
            file_tx: Mutex::new(None),
        }
    }

    /// Writes out the lines still queued for the log file and stops its thread (at exit).
    pub fn close(&self) {
        let tx = self.file_tx.lock().take();
        if let Some(tx) = tx {
            let (done, wait) = std::sync::mpsc::channel();
            if tx.send(ToFile::Close(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }

    /// The newest `limit` lines, newest first.
    pub fn newest(&self, limit: usize) -> Vec<Arc<str>> {
        self.recent
            .lock()
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }

    /// Live receivers: the open log streams (SSE).
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// A live receiver of new lines.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }

    fn push(&self, line: Arc<str>) {
        let mut r = self.recent.lock();
        if r.len() == KEEP {
            r.pop_front();
        }
        r.push_back(line.clone());
        let _ = self.tx.send(line);
    }
}

/// The tracing layer feeding a [`LogHub`] and the rotating file.
pub struct HubLayer {
    hub: Arc<LogHub>,
    file: Option<SyncSender<ToFile>>,
}

thread_local! {
    /// This thread's last formatted stamp: (Unix second, hub address, `YYYY-MM-DD HH:MM:SS`).
    /// At thousands of lines a second, formatting the clock once a second is worth it.
    static STAMP: std::cell::RefCell<(i64, usize, String)> =
        const { std::cell::RefCell::new((i64::MIN, 0, String::new())) };
}

impl HubLayer {
    /// Writes to `hub` and, when the folder is usable, to `dir/agendamento.YYYY-MM-DD.log`
    /// (daily rotation, the newest 14 files kept).
    pub fn new(hub: Arc<LogHub>, dir: &Path) -> Self {
        let file = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("agendamento")
            .filename_suffix("log")
            .max_log_files(14)
            .build(dir)
            .map_err(|e| eprintln!("aviso: logs não serão gravados em {}: {e}", dir.display()))
            .ok()
            .and_then(|appender| {
                let (tx, rx) = std::sync::mpsc::sync_channel(FILE_QUEUE);
                std::thread::Builder::new()
                    .name("agendamento-logs".into())
                    .spawn(move || write_lines(rx, appender))
                    .map_err(|e| eprintln!("aviso: logs não serão gravados em arquivo: {e}"))
                    .ok()?;
                *hub.file_tx.lock() = Some(tx.clone());
                Some(tx)
            });
        Self { hub, file }
    }
}

/// Collects an event's message and fields.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for HubLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut v = Line::default();
        event.record(&mut v);
        let now = jiff::Timestamp::now();
        let hub_id = Arc::as_ptr(&self.hub) as usize;
        let line = STAMP.with_borrow_mut(|stamp| {
            if stamp.0 != now.as_second() || stamp.1 != hub_id {
                let local = now.to_zoned(self.hub.tz.clone());
                *stamp = (
                    now.as_second(),
                    hub_id,
                    local.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                );
            }
            format!(
                "[{}] [{}] {}: {}{}",
                stamp.2,
                meta.level(),
                meta.target(),
                v.message,
                v.fields
            )
        });
        let line: Arc<str> = line.into();
        if let Some(f) = &self.file {
            let _ = f.send(ToFile::Line(line.clone()));
        }
        self.hub.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn lines_have_the_spec_format_and_newest_come_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hub = Arc::new(LogHub::new(jiff::tz::TimeZone::UTC));
        let subscriber =
            tracing_subscriber::registry().with(HubLayer::new(hub.clone(), dir.path()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "alvo", "primeira");
            tracing::warn!(target: "alvo", consulta_id = "c1", "segunda");
        });
        let lines = hub.newest(10);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].ends_with("] [WARN] alvo: segunda consulta_id=c1"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with("] [INFO] alvo: primeira"),
            "{}",
            lines[1]
        );
        assert_eq!(&lines[1][..1], "[");
        assert_eq!(
            lines[1].find(']'),
            Some(20),
            "timestamp is [YYYY-MM-DD HH:MM:SS]"
        );
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "one log file written");
        hub.close();
        let text = std::fs::read_to_string(&files[0]).expect("log file");
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [&*lines[1], &*lines[0]],
            "close() flushes every queued line, oldest first"
        );
    }
}
