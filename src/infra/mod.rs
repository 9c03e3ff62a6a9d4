//! Infrastructure below the repositories: the durable store and its file formats.

pub mod arquivos;
pub mod encaminhamento;
pub mod events;
pub mod logs;
pub mod metricas;
pub mod prioridade;
pub mod queue;
pub mod segredo;
pub mod server;
pub mod sonda;
pub mod store;
pub mod webhooks;
