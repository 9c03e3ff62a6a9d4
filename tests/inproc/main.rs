//! In-process tests: the production router (`build_router`) called with `oneshot` over a
//! real store in a temporary folder, for handler behaviour, the OpenAPI document and the
//! error bodies (STYLE 14). Streams, restarts and kill -9 stay in `tests/api` (real
//! sockets, the real binary).

mod agenda;
mod auth;
mod bloqueios;
mod calendario;
#[path = "../common/mod.rs"]
mod common;
mod consultas;
mod convenios;
mod conventions;
mod email;
mod errors;
mod estatisticas;
mod eventos;
mod harness;
mod helpers;
mod horarios;
mod lista_espera;
mod medicos;
mod metricas;
mod notificacoes;
mod openapi;
mod operacoes;
mod pacientes;
mod pagamento_caminhos;
mod painel;
#[path = "../common/pg.rs"]
mod pg;
mod problemas;
#[path = "../common/receptor.rs"]
mod receptor;
mod recursos;
mod series;
mod tarefas;
mod validacao;
