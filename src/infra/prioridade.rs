//! Background work that must yield the cores to requests (password hashes, webhook
//! deliveries) runs on threads of lower priority: they still use every idle cycle.

/// Lowers the calling thread's priority to niceness `nice` (on Linux a thread's niceness is
/// its own: setpriority's "process" 0 is the calling thread). A failure (a locked-down
/// sandbox) leaves it at the normal priority.
pub fn baixar(nice: i32) {
    #[cfg(unix)]
    let _ = rustix::process::setpriority_process(None, nice);
    #[cfg(not(unix))]
    let _ = nice;
}

/// The niceness of the thread named `nome` of process `pid` (`"self"` for this one), from
/// /proc (Linux); `None` when there is no such thread.
#[cfg(target_os = "linux")]
pub fn nice_da_thread(pid: &str, nome: &str) -> Option<i64> {
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == nome {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            // Fields after the parenthesised name: state is field 3, nice field 19.
            let resto = &stat[stat.rfind(')')? + 2..];
            return resto.split(' ').nth(16)?.parse().ok();
        }
    }
    None
}
