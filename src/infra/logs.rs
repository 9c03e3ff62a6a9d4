//! Logs as the dashboard reads them (SPEC §5): a tracing layer that formats each event as
//! `[YYYY-MM-DD HH:MM:SS] [LEVEL] target: message k=v…`, keeps the recent lines for
//! `GET /sistema/logs`, streams them to `GET /sistema/logs/stream`, and appends them to a
//! daily-rotated file under the logs folder. Log lines carry ids only, never personal data.

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
}

impl LogHub {
    /// A hub stamping lines in `tz`.
    pub fn new(tz: jiff::tz::TimeZone) -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            recent: Mutex::new(VecDeque::with_capacity(KEEP)),
            tx,
            tz,
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
    file: Option<Mutex<tracing_appender::rolling::RollingFileAppender>>,
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
            .map(Mutex::new);
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
        let now = jiff::Timestamp::now().to_zoned(self.hub.tz.clone());
        let line = format!(
            "[{}] [{}] {}: {}{}",
            now.strftime("%Y-%m-%d %H:%M:%S"),
            meta.level(),
            meta.target(),
            v.message,
            v.fields
        );
        if let Some(f) = &self.file {
            let mut f = f.lock();
            let _ = f.write_all(line.as_bytes());
            let _ = f.write_all(b"\n");
        }
        self.hub.push(line.into());
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
