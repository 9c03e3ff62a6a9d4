//! Agendamento: a medical-appointment scheduling server (see `SPEC.md` of the project).
//!
//! Layers, top to bottom: `controllers` (HTTP) and `worker` (the task runner) →
//! `services` (rules and jobs) → `repositories` (typed in-memory collections) →
//! `infra::store` (journal + snapshots on disk). `tests/imports.rs` keeps the graph acyclic.

pub mod app;
pub mod config;
pub mod controllers;
pub mod demo;
pub mod domain;
pub mod error;
pub mod infra;
pub mod models;
pub mod repositories;
pub mod router;
pub mod services;
pub mod worker;

pub use app::{build_router, criar_admin, importar, open_state, recusa_sem_auth, serve};
pub use config::Config;
