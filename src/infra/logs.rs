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

use parking_lot::Mutex;
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// How many recent lines are kept in memory.
pub const KEEP: usize = 5000;

/// The recent log lines and their live stream.
pub struct LogHub {
    recent: Mutex<VecDeque<Arc<str>>>,
    tx: broadcast::Sender<Arc<str>>,
    tz: jiff::tz::TimeZone,
    /// Keeps the file-writing thread alive; dropping it flushes the queued lines.
    file_guard: Mutex<Option<tracing_appender::non_blocking::WorkerGuard>>,
}

impl LogHub {
    /// A hub stamping lines in `tz`.
    pub fn new(tz: jiff::tz::TimeZone) -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            recent: Mutex::new(VecDeque::with_capacity(KEEP)),
            tx,
            tz,
            file_guard: Mutex::new(None),
        }
    }

    /// Writes out the lines still queued for the log file and stops its thread (at exit).
    pub fn close(&self) {
        drop(self.file_guard.lock().take());
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
    file: Option<tracing_appender::non_blocking::NonBlocking>,
    /// The last second's formatted stamp (Unix second, `YYYY-MM-DD HH:MM:SS`): at thousands
    /// of lines a second, formatting the clock once a second is worth keeping.
    stamp: Mutex<(i64, String)>,
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
            .map(|appender| {
                // Not lossy: past 128k queued lines a request waits rather than drop a line.
                // The writer thread drains the queue and then flushes, so the buffer turns a
                // burst of lines into one write.
                let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                    .lossy(false)
                    .thread_name("agendamento-logs")
                    .finish(std::io::BufWriter::with_capacity(64 * 1024, appender));
                *hub.file_guard.lock() = Some(guard);
                writer
            });
        Self {
            hub,
            file,
            stamp: Mutex::new((i64::MIN, String::new())),
        }
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
        let line = {
            let mut stamp = self.stamp.lock();
            if stamp.0 != now.as_second() {
                let local = now.to_zoned(self.hub.tz.clone());
                *stamp = (
                    now.as_second(),
                    local.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                );
            }
            format!(
                "[{}] [{}] {}: {}{}\n",
                stamp.1,
                meta.level(),
                meta.target(),
                v.message,
                v.fields
            )
        };
        if let Some(f) = &self.file {
            // One message per line to the writer thread, newline included.
            let _ = f.clone().write_all(line.as_bytes());
        }
        self.hub.push(line.trim_end_matches('\n').into());
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
        let file = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(file, 1, "one log file written");
    }
}
