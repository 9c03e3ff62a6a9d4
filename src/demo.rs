//! Demo data for a first start on an empty store (SPEC §9): a few doctors with working
//! hours and a few patients, created through the same services as the API.

use crate::domain::{Cpf, DiaSemana, Hora};
use crate::error::AppError;
use crate::services::horarios::Faixa;
use crate::services::medicos::NovoMedico;
use crate::services::pacientes::NovoPaciente;
use crate::services::{AppState, Contexto, horarios, medicos, pacientes};

const MEDICOS: [(&str, &str, &str); 3] = [
    ("Dra. Ana Lúcia Ribeiro", "CRM/SP 123456", "Cardiologia"),
    ("Dr. João Conceição", "CRM/SP 234567", "Clínica Geral"),
    ("Dra. Marina Gonçalves", "CRM/RJ 345678", "Pediatria"),
];

const PACIENTES: [(&str, &str, &str); 5] = [
    ("Maria da Silva", "529.982.247-25", "1985-04-12"),
    ("José Araújo", "111.444.777-35", "1972-09-30"),
    ("Beatriz Lopes", "123.456.789-09", "1990-01-21"),
    ("Antônio Pereira", "935.411.347-80", "1958-12-03"),
    ("Luíza Fernandes", "390.533.447-05", "2001-07-15"),
];

fn internal(e: &str) -> AppError {
    AppError::Internal(format!("demo data: {e}"))
}

/// Loads the demo data when there are no doctors and no patients yet.
pub async fn load_if_empty(state: &AppState) -> Result<(), AppError> {
    if !state.vazio() {
        return Ok(());
    }
    let dias = [
        DiaSemana::Segunda,
        DiaSemana::Terca,
        DiaSemana::Quarta,
        DiaSemana::Quinta,
        DiaSemana::Sexta,
    ];
    let faixas = [("08:00", "12:00"), ("13:00", "17:00")];
    let ctx = &Contexto::interno("demo");
    for (nome, crm, esp) in MEDICOS {
        let m = medicos::create(
            state,
            ctx,
            NovoMedico {
                nome: nome.into(),
                crm: crm.into(),
                especialidade: esp.into(),
                email: None,
                telefone: None,
                duracao_consulta_minutos: None,
                intervalo_minutos: None,
                convenios_aceitos: Vec::new(),
                aceita_particular: true,
                valor_particular_centavos: None,
            },
        )
        .await?;
        for dia in dias {
            for (ini, fim) in faixas {
                let f = Faixa {
                    dia_semana: dia,
                    hora_inicio: Hora::parse(ini).map_err(internal)?,
                    hora_fim: Hora::parse(fim).map_err(internal)?,
                };
                horarios::create(state, ctx, &m.id, f).await?;
            }
        }
    }
    for (nome, cpf, nasc) in PACIENTES {
        pacientes::create(
            state,
            ctx,
            NovoPaciente {
                nome: nome.into(),
                cpf: Cpf::parse(cpf).map_err(internal)?,
                data_nascimento: nasc.parse().map_err(|_| internal("date"))?,
                email: None,
                telefone: None,
                convenio: None,
                convenio_id: None,
                carteirinha: None,
                validade_carteirinha: None,
                notificacoes_email: true,
            },
        )
        .await?;
    }
    tracing::info!(target: "agendamento::demo", medicos = MEDICOS.len(), pacientes = PACIENTES.len(), "demo data loaded");
    Ok(())
}
