//! HTTP controllers: one file per resource. Each extracts and validates the request's
//! shape, calls a service, and maps the result to a response.

pub mod agenda;
pub mod arquivos;
pub mod auditoria;
pub mod auth;
pub mod bloqueios;
pub mod calendario;
pub mod consultas;
pub mod convenios;
pub mod encaminhar;
pub mod estatisticas;
pub mod extract;
pub mod horarios;
pub mod links;
pub mod lista_espera;
pub mod medicos;
pub mod metricas;
pub mod middleware;
pub mod pacientes;
pub mod pagamentos;
pub mod painel;
pub mod problema;
pub mod regras;
pub mod series;
pub mod sistema;
pub mod streams;
pub mod tarefas;
pub mod usuarios;

pub mod notificacoes;
pub mod webhooks;
