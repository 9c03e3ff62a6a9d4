//! The audit entry of a write, built without the application (so `services/mod.rs`'s
//! `App::commit_reply` can journal it with the change; the queries and the writes of their
//! own live in `auditoria`).

use std::sync::Arc;

use super::contexto::Contexto;
use crate::models::{Acao, EntradaAuditoria};
use crate::repositories::{Db, Op};

/// The entry recording `acao` on `recurso`/`recurso_id` at `em` for the request of `ctx`.
pub fn registro(
    em: String,
    ctx: &Contexto,
    acao: Acao,
    recurso: &str,
    recurso_id: Option<String>,
) -> Arc<EntradaAuditoria> {
    let chamador = ctx.chamador.as_ref();
    Arc::new(EntradaAuditoria {
        id: uuid::Uuid::now_v7().to_string(),
        em,
        usuario_id: chamador.and_then(|c| c.usuario_id.clone()),
        papel: chamador.map(|c| c.papel),
        acao,
        recurso: recurso.to_owned(),
        recurso_id,
        request_id: ctx.request_id.clone(),
        ip: ctx.ip.clone(),
    })
}

/// What a write's operations did, as one audit line: the most significant record changed
/// (an appointment over the hold it consumed, a record over the task it queued).
pub fn da_escrita(db: &Db, ops: &[Op]) -> Option<(Acao, &'static str, String)> {
    fn criar_ou_alterar(existe: bool) -> Acao {
        if existe { Acao::Alterar } else { Acao::Criar }
    }
    let mut melhor: Option<(u8, Acao, &'static str, String)> = None;
    let regras_id = crate::models::Regras::ID.to_owned();
    for op in ops {
        let (prio, acao, recurso, id) = match op {
            Op::PutPaciente(r) => (
                0,
                criar_ou_alterar(db.pacientes.get(&r.id).is_some()),
                "pacientes",
                &r.id,
            ),
            Op::DelPaciente(id) => (0, Acao::Excluir, "pacientes", id),
            Op::PutMedico(r) => (
                0,
                criar_ou_alterar(db.medicos.get(&r.id).is_some()),
                "medicos",
                &r.id,
            ),
            Op::DelMedico(id) => (0, Acao::Excluir, "medicos", id),
            Op::PutConsulta(r) => (
                0,
                criar_ou_alterar(db.consultas.get(&r.id).is_some()),
                "consultas",
                &r.id,
            ),
            Op::DelConsulta(id) => (0, Acao::Excluir, "consultas", id),
            Op::PutUsuario(r) => {
                let acao = match db.usuarios.get(&r.id) {
                    // Deactivation is the users' delete (SPEC-2 §10).
                    Some(old) if old.ativo && !r.ativo => Acao::Excluir,
                    Some(_) => Acao::Alterar,
                    None => Acao::Criar,
                };
                (0, acao, "usuarios", &r.id)
            }
            Op::DelUsuario(id) => (0, Acao::Excluir, "usuarios", id),
            Op::PutBloqueio(r) => (
                0,
                criar_ou_alterar(db.bloqueios.get(&r.id).is_some()),
                "bloqueios",
                &r.id,
            ),
            Op::DelBloqueio(id) => (0, Acao::Excluir, "bloqueios", id),
            Op::PutEspera(r) => (
                1,
                criar_ou_alterar(db.lista_espera.get(&r.id).is_some()),
                "lista_espera",
                &r.id,
            ),
            Op::DelEspera(id) => (1, Acao::Excluir, "lista_espera", id),
            Op::PutConvenio(r) => (
                0,
                criar_ou_alterar(db.convenios.get(&r.id).is_some()),
                "convenios",
                &r.id,
            ),
            Op::DelConvenio(id) => (0, Acao::Excluir, "convenios", id),
            Op::PutHorario(r) => (
                1,
                criar_ou_alterar(db.horarios.get(&r.id).is_some()),
                "horarios",
                &r.id,
            ),
            Op::DelHorario(id) => (1, Acao::Excluir, "horarios", id),
            Op::PutReserva(r) => (
                2,
                criar_ou_alterar(db.reservas.get(&r.id).is_some()),
                "reservas",
                &r.id,
            ),
            Op::DelReserva(id) => (2, Acao::Excluir, "reservas", id),
            Op::PutTarefa(r) => (
                3,
                criar_ou_alterar(db.tarefas.get(&r.id).is_some()),
                "tarefas",
                &r.id,
            ),
            Op::DelTarefa(id) => (3, Acao::Excluir, "tarefas", id),
            Op::PutRegras(_) => (
                0,
                criar_ou_alterar(db.regras.get(&regras_id).is_some()),
                "regras",
                &regras_id,
            ),
            Op::DelRegras(id) => (0, Acao::Excluir, "regras", id),
            // A feed token's record id is its owner (`medico:<id>`), never the token.
            Op::PutTokenCalendario(r) => (
                0,
                criar_ou_alterar(db.calendario_tokens.get(&r.id).is_some()),
                "calendario_tokens",
                &r.id,
            ),
            Op::DelTokenCalendario(id) => (0, Acao::Excluir, "calendario_tokens", id),
            Op::PutWebhook(r) => (
                0,
                criar_ou_alterar(db.webhooks.get(&r.id).is_some()),
                "webhooks",
                &r.id,
            ),
            Op::DelWebhook(id) => (0, Acao::Excluir, "webhooks", id),
            // A resend (`POST /notificacoes/{id}/reenviar`) is its own write; notifications
            // derived from another change never outrank it.
            Op::PutNotificacao(r) => (
                4,
                criar_ou_alterar(db.notificacoes.get(&r.id).is_some()),
                "notificacoes",
                &r.id,
            ),
            Op::DelNotificacao(id) => (4, Acao::Excluir, "notificacoes", id),
            Op::PutIdem(_)
            | Op::DelIdem(_)
            | Op::PutSessao(_)
            | Op::DelSessao(_)
            | Op::PutAuditoria(_)
            | Op::DelAuditoria(_)
            | Op::PutHistorico(_)
            | Op::DelHistorico(_) => continue,
        };
        if melhor.as_ref().is_none_or(|m| prio < m.0) {
            melhor = Some((prio, acao, recurso, id.clone()));
        }
    }
    melhor.map(|(_, a, r, id)| (a, r, id))
}
