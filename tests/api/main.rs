//! Integration tests for Agendamento: every test drives the real `agendamento` binary over
//! HTTP on 127.0.0.1:0, each in its own temporary folder, so they run in parallel.
//! One test binary (STYLE §12), one module per area.

mod agenda;
mod auditoria;
mod backups;
mod booking;
#[path = "../common/mod.rs"]
mod common;
mod dst;
mod durability;
mod email;
mod helpers;
mod identidade;
mod instancias;
mod limits;
mod lista_espera;
mod logs;
mod notificacoes;
mod pagamentos;
#[path = "../common/pg.rs"]
mod pg;
mod pg_cluster;
mod queue;
#[path = "../common/receptor.rs"]
mod receptor;
mod regras;
mod relatorios;
mod restauracao;
mod saude;
mod sched_helpers;
mod segredo;
mod sse;
mod startup;
mod system;
