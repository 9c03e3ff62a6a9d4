//! Prometheus metrics (SPEC-2 §15): the process-wide recorder of the `metrics` crate with
//! the Prometheus exporter (no HTTP listener of its own: `GET /metrics` renders it), the
//! names of every series, and their histogram buckets.
//!
//! The recorder is global, one per process: [`instalar`] installs it the first time and
//! returns the same handle after that, so several applications in one process (in-process
//! tests) share it. Until it is installed (or with `--no-metrics`) the `metrics` macros are
//! no-ops that cost a load and a branch.
//!
//! Labels hold only bounded values: route templates (never a path's values), HTTP methods
//! from a fixed list, status codes, task kinds and error codes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered: `method`, `route` (template, `-` when no route matched), `status`.
pub const HTTP_REQUESTS: &str = "agendamento_http_requests_total";
/// Time to a response's head in seconds: `method`, `route`.
pub const HTTP_DURATION: &str = "agendamento_http_request_duration_seconds";
/// Tasks waiting or running: `tipo`, `status` (`pendente`, `executando`).
pub const TASKS: &str = "agendamento_tasks";
/// Ids waiting in a worker lane's channel: `lane` (`agenda`, `bulk`).
pub const QUEUE_DEPTH: &str = "agendamento_queue_depth";
/// A task's run, from its first attempt to its final state, in seconds: `tipo`, `status`.
pub const TASK_DURATION: &str = "agendamento_task_duration_seconds";
/// One journal append (write + fdatasync) in seconds.
pub const JOURNAL_FSYNC: &str = "agendamento_journal_fsync_duration_seconds";
/// Journal entries written by one append (group commit).
pub const JOURNAL_BATCH: &str = "agendamento_journal_batch_entries";
/// Open event streams: `stream` (`agenda`, `logs`).
pub const SSE_SUBSCRIBERS: &str = "agendamento_sse_subscribers";
/// Slot holds not yet expired, released or booked.
pub const HOLDS: &str = "agendamento_holds_live";
/// Booking tasks that ended: `outcome` (`agendada` or the failure's code).
pub const BOOKINGS: &str = "agendamento_bookings_total";
/// Resident memory of the process (VmRSS), in bytes.
pub const MEMORY: &str = "agendamento_process_resident_memory_bytes";
/// Notifications in the outbox (SPEC-2 §13): `status`, `canal`.
pub const NOTIFICACOES: &str = "agendamento_notificacoes";
/// Writes this instance forwarded to the leader (SPEC-2 §16): `resultado` (`respondida`,
/// `feita_aqui` when the leader could not be reached, `feita_aqui_apos_queda` when the
/// leader died before making it, `sem_resposta`).
pub const ENCAMINHADAS: &str = "agendamento_escritas_encaminhadas_total";
/// Requests that carried a forwarding signature this instance refused (SPEC-2 §16): another
/// instance with a different server secret (one not restarted after `importar`), a clock more
/// than a minute apart, or someone else's made-up value.
pub const ENCAMINHADAS_RECUSADAS: &str = "agendamento_encaminhadas_recusadas_total";

/// Latency buckets (seconds) for HTTP requests.
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets (seconds) for one journal append.
const FSYNC_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Buckets (entries) for a group commit.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];
/// Buckets (seconds) for a task's run.
const TASK_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

fn build() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(HTTP_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(JOURNAL_FSYNC.into()), FSYNC_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(JOURNAL_BATCH.into()), BATCH_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(TASK_DURATION.into()), TASK_BUCKETS)?
        .install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "Requisições HTTP respondidas, por rota (modelo) e status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Tempo até o cabeçalho da resposta, por rota (modelo)."
    );
    describe_gauge!(
        TASKS,
        "Tarefas pendentes ou em execução, por tipo e status."
    );
    describe_gauge!(QUEUE_DEPTH, "Tarefas na fila de cada worker.");
    describe_gauge!(NOTIFICACOES, "Notificações por status e canal.");
    describe_histogram!(
        TASK_DURATION,
        Unit::Seconds,
        "Duração de uma tarefa, da primeira tentativa ao estado final, por tipo e status."
    );
    describe_histogram!(
        JOURNAL_FSYNC,
        Unit::Seconds,
        "Duração de uma gravação do diário (write + fdatasync)."
    );
    describe_histogram!(
        JOURNAL_BATCH,
        "Entradas do diário gravadas por fsync (group commit)."
    );
    describe_gauge!(SSE_SUBSCRIBERS, "Conexões SSE abertas, por fluxo.");
    describe_gauge!(HOLDS, "Reservas de horário vigentes.");
    describe_counter!(
        BOOKINGS,
        "Agendamentos (tarefas) concluídos, por resultado."
    );
    describe_counter!(
        ENCAMINHADAS,
        "Escritas encaminhadas à instância líder, por resultado."
    );
    describe_counter!(
        ENCAMINHADAS_RECUSADAS,
        "Requisições com assinatura de encaminhamento recusada (segredo ou relógio diferente)."
    );
    describe_gauge!(
        MEMORY,
        Unit::Bytes,
        "Memória residente do processo (VmRSS)."
    );
}

/// Installs the process's recorder the first time; later calls return the same handle.
/// `None` when another recorder was installed first (logged once).
pub fn instalar() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match build() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(target: "agendamento", error = %e, "metrics recorder not installed");
                None
            }
        })
        .as_ref()
}

/// The installed recorder's handle, if [`instalar`] ran and succeeded.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get().and_then(Option::as_ref)
}

/// Per thread: route template → (method, status) → the request counter and latency
/// histogram handles, so a request costs two hash lookups and two atomic updates instead of
/// building two label sets (with allocations) and looking them up in the global registry.
/// Bounded: routes × methods × statuses per worker thread.
type Handles = HashMap<String, HashMap<(&'static str, u16), (Counter, Histogram)>>;

thread_local! {
    static HTTP: RefCell<Handles> = RefCell::new(HashMap::new());
}

/// Records one answered request: `route` is the matched template (or `-`), `secs` the time
/// to the response head. Nothing at all when no recorder is installed (`--no-metrics`).
pub fn registrar_requisicao(method: &str, route: &str, status: u16, secs: f64) {
    if handle().is_none() {
        return;
    }
    let metodo = metodo(method);
    HTTP.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(route) {
            cache.insert(route.to_owned(), HashMap::new());
        }
        let Some(por_rota) = cache.get_mut(route) else {
            return;
        };
        let (c, h) = por_rota.entry((metodo, status)).or_insert_with(|| {
            (
                metrics::counter!(HTTP_REQUESTS, "method" => metodo, "route" => route.to_owned(),
                    "status" => status.to_string()),
                metrics::histogram!(HTTP_DURATION, "method" => metodo, "route" => route.to_owned()),
            )
        });
        c.increment(1);
        h.record(secs);
    });
}

/// An HTTP method as a label: the standard ones, anything else `OTHER` (a client can send
/// any token as a method; labels must stay bounded).
pub fn metodo(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// Resident memory from `/proc/self/status` (`VmRSS`), in bytes; `None` elsewhere.
pub fn memoria_residente() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_twice_gives_the_same_recorder() {
        let a = instalar().expect("installed") as *const PrometheusHandle;
        let b = instalar().expect("installed") as *const PrometheusHandle;
        assert_eq!(a, b);
        metrics::counter!(BOOKINGS, "outcome" => "agendada").increment(2);
        let text = handle().expect("handle").render();
        assert!(
            text.contains("agendamento_bookings_total{outcome=\"agendada\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn methods_outside_the_list_share_one_label() {
        assert_eq!(metodo("GET"), "GET");
        assert_eq!(metodo("BREW"), "OTHER");
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(memoria_residente().is_some_and(|b| b > 0));
        }
    }
}
