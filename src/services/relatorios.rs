//! Reports (SPEC §7): a PDF of the appointments filtered by doctor and period, written by
//! the worker with its progress reported through the task.

use std::fs;
use std::io::Write;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::relatorio_pdf::{LinhaRelatorio, PlanoLinha, Relatorio, contem_identificador, render};
use super::{App, Contexto, tarefas};
use crate::error::{AppError, CampoErro};
use crate::infra::arquivos;
use crate::models::{Enfileirado, FormaPagamento, StatusPagamento, Tarefa, TipoTarefa};

/// Body of `POST /relatorios/gerar` (all optional; dates inclusive).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ParamsRelatorio {
    /// Only this doctor's appointments.
    pub medico_id: Option<String>,
    /// From this date (`YYYY-MM-DD`).
    #[schema(value_type = Option<String>, example = "2026-03-01")]
    pub periodo_inicio: Option<Date>,
    /// Up to this date, inclusive.
    #[schema(value_type = Option<String>, example = "2026-03-31")]
    pub periodo_fim: Option<Date>,
}

/// Checks the filters (422 for an unknown doctor or a reversed period) and queues the report.
pub async fn solicitar(
    app: &App,
    ctx: &Contexto,
    p: ParamsRelatorio,
) -> Result<Enfileirado, AppError> {
    let mut errs = Vec::new();
    if let Some(m) = &p.medico_id
        && app.store.read().medicos.get(m).is_none()
    {
        errs.push(CampoErro::new("medico_id", "médico não encontrado"));
    }
    if let (Some(a), Some(b)) = (p.periodo_inicio, p.periodo_fim)
        && a > b
    {
        errs.push(CampoErro::new(
            "periodo_fim",
            "deve ser igual ou posterior a periodo_inicio",
        ));
    }
    if !errs.is_empty() {
        return Err(AppError::Validation(errs));
    }
    tarefas::enqueue(app, ctx, TipoTarefa::GerarRelatorio, &p, "processando").await
}

fn data_br(d: Date) -> String {
    d.strftime("%d/%m/%Y").to_string()
}

/// The report's content, read from the store in one go.
fn montar(app: &App, p: &ParamsRelatorio, task_id: &str) -> Relatorio {
    let db = app.store.read();
    let mut filtros = Vec::new();
    let medico = p.medico_id.as_deref();
    if let Some(m) = medico {
        let nome = db
            .medicos
            .get(m)
            .map_or_else(|| format!("(excluído) {m}"), |m| m.nome.clone());
        filtros.push(("Médico".to_owned(), nome));
    }
    match (p.periodo_inicio, p.periodo_fim) {
        (Some(a), Some(b)) => {
            filtros.push(("Período".into(), format!("{} a {}", data_br(a), data_br(b))))
        }
        (Some(a), None) => filtros.push(("Período".into(), format!("a partir de {}", data_br(a)))),
        (None, Some(b)) => filtros.push(("Período".into(), format!("até {}", data_br(b)))),
        (None, None) => {}
    }
    let filtro = super::consultas::Filtro {
        medico_id: p.medico_id.clone(),
        paciente_id: None,
        status: None,
        de: p.periodo_inicio,
        ate: p.periodo_fim,
    };
    // Names are not unique (the CRM is): two doctors of one name are told apart by their
    // CRM, in the rows and in the totals by doctor, which add by this label.
    let mut homonimos: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for m in db.medicos.iter() {
        *homonimos.entry(m.nome.as_str()).or_default() += 1;
    }
    let (iter, _) = super::consultas::list(&db, &filtro);
    let linhas = iter
        .map(|c| LinhaRelatorio {
            inicio: c.inicio,
            medico: db.medicos.get(&c.medico_id).map_or_else(
                || "(médico excluído)".to_owned(),
                |m| {
                    if homonimos.get(m.nome.as_str()).is_some_and(|n| *n > 1) {
                        format!("{} (CRM {})", m.nome, m.crm)
                    } else {
                        m.nome.clone()
                    }
                },
            ),
            paciente: db
                .pacientes
                .get(&c.paciente_id)
                .map_or_else(|| "(paciente excluído)".to_owned(), |p| p.nome.clone()),
            status: c.status,
            plano: match &c.pagamento {
                None => PlanoLinha::SemPagamento,
                Some(p) => match p.forma {
                    FormaPagamento::Particular => PlanoLinha::Particular,
                    FormaPagamento::Convenio => PlanoLinha::Convenio(
                        super::convenios::nome_do_plano(&db, p.convenio_id.as_deref()),
                    ),
                },
            },
            recebido_centavos: match &c.pagamento {
                Some(p) if p.status == StatusPagamento::Pago => p.valor_centavos.unwrap_or(0),
                _ => 0,
            },
        })
        .collect();
    Relatorio {
        titulo: format!(
            "Relatório de consultas — {}",
            app.config.clinica_nome.trim()
        ),
        identificador: task_id.to_owned(),
        filtros,
        gerado_em: app.clock.now().strftime("%d/%m/%Y %H:%M").to_string(),
        linhas,
    }
}

/// The report already written by this task, if a crash came between writing and recording
/// it: the names its task would publish, searched for the task id in their metadata.
fn ja_escrito(dir: &std::path::Path, base: &str, task_id: &str) -> Option<String> {
    arquivos::com_base(dir, base, "pdf")
        .into_iter()
        .find(|nome| fs::read(dir.join(nome)).is_ok_and(|pdf| contem_identificador(&pdf, task_id)))
}

/// The file naming the doctor a report `nome` (`relatorio_….pdf`) was filtered by, next to
/// it: `relatorio_….medico`. A doctor lists and downloads only the reports it names them in
/// (SPEC-2 §10: reports, their own).
fn dono(dir: &std::path::Path, nome: &str) -> std::path::PathBuf {
    dir.join(format!("{}.medico", nome.trim_end_matches(".pdf")))
}

/// Whether report `nome` is of doctor `medico_id` alone (filtered by them). Only a report's
/// exact name is looked up: any other never leaves the folder.
pub fn do_medico(dir: &std::path::Path, nome: &str, medico_id: &str) -> bool {
    arquivos::nome_valido(nome, "relatorio", "pdf")
        && fs::read_to_string(dono(dir, nome)).is_ok_and(|m| m.trim() == medico_id)
}

/// Records whose report `nome` is: doctor `medico_id`, or nobody's in particular (staff
/// only: a file left by an older report of the same name is removed). Done once the PDF is
/// published: a crash in between leaves it to staff only, never to the wrong doctor.
fn marcar_dono(dir: &std::path::Path, nome: &str, medico_id: Option<&str>) -> std::io::Result<()> {
    let path = dono(dir, nome);
    let Some(m) = medico_id else {
        return match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    };
    let tmp = path.with_extension("medico.tmp");
    fs::write(&tmp, m)?;
    fs::rename(&tmp, &path)
}

/// Deletes the oldest reports beyond `keep` (`--relatorios-manter`) of each owner: the
/// reports of one doctor (filtered by them) count apart from the clinic-wide ones and from
/// other doctors', so a doctor asking for many reports pushes out only their own.
pub fn reter(dir: &std::path::Path, keep: usize) -> std::io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut por_dono: std::collections::HashMap<Option<String>, usize> =
        std::collections::HashMap::new();
    let antigos: Vec<String> = arquivos::listar(dir, "relatorio", "pdf")?
        .into_iter()
        .filter(|nome| {
            let d = fs::read_to_string(dono(dir, nome))
                .ok()
                .map(|m| m.trim().to_owned());
            let n = por_dono.entry(d).or_default();
            *n += 1;
            *n > keep
        })
        .collect();
    for nome in antigos {
        fs::remove_file(dir.join(&nome))?;
        marcar_dono(dir, &nome, None)?;
        tracing::info!(target: "agendamento::relatorio", arquivo = %nome, "old report removed");
        removed.push(nome);
    }
    Ok(removed)
}

/// The worker's report task: gathers the rows, renders the PDF (progress through the task),
/// writes `reports/relatorio_YYYYMMDD_HHMMSS.pdf` (stamped with the time the task was
/// queued, so a re-run after a crash adopts the PDF it already wrote instead of writing a
/// second: each task runs once in effect, SPEC §4), keeps the newest
/// `--relatorios-manter`, completes the task and announces `relatorio_pronto`.
pub fn executar(app: &App, rt: &tokio::runtime::Handle, t: &Tarefa) -> Result<(), tarefas::Falha> {
    let p: ParamsRelatorio = serde_json::from_value(t.parametros.clone()).unwrap_or_default();
    let dir = &app.config.reports_dir;
    let transient = |e: std::io::Error| tarefas::Falha::Transitoria(e.to_string());
    let quando = t
        .criado_em
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|_| jiff::Timestamp::now());
    let base = arquivos::nome_base("relatorio", &app.clock.file_stamp(quando));
    let mut progress = tarefas::Progresso::new(app, rt, t);
    let (nome, linhas) = match ja_escrito(dir, &base, &t.id) {
        Some(nome) => {
            tracing::info!(target: "agendamento::relatorio", arquivo = %nome, "report already written by this task before a restart; adopted");
            (nome, None)
        }
        None => {
            let relatorio = montar(app, &p, &t.id);
            progress.report(10);
            let pdf = render(&relatorio, &mut |pct| {
                progress.report(10 + (u16::from(pct) * 8 / 10) as u8)
            })
            .map_err(|e| tarefas::Falha::Transitoria(format!("pdf: {e}")))?;
            fs::create_dir_all(dir).map_err(transient)?;
            let tmp = arquivos::temporario(dir, "relatorio", &t.id);
            let write = || -> std::io::Result<()> {
                let mut f = fs::File::create(&tmp)?;
                f.write_all(&pdf)?;
                f.sync_all()
            };
            if let Err(e) = write() {
                let _ = fs::remove_file(&tmp);
                return Err(transient(e));
            }
            let nome = arquivos::publicar(dir, &tmp, &base, "pdf").map_err(|e| {
                let _ = fs::remove_file(&tmp);
                transient(e)
            })?;
            tracing::info!(target: "agendamento::relatorio", arquivo = %nome, linhas = relatorio.linhas.len(), "report written");
            (nome, Some(relatorio.linhas.len()))
        }
    };
    marcar_dono(dir, &nome, p.medico_id.as_deref()).map_err(transient)?;
    let keep = usize::try_from(app.config.relatorios_manter).unwrap_or(usize::MAX);
    if let Err(e) = reter(dir, keep) {
        tracing::warn!(target: "agendamento::relatorio", error = %e, "report retention failed; will retry after the next report");
    }
    let linhas = match linhas {
        Some(n) => n,
        None => montar(app, &p, &t.id).linhas.len(),
    };
    let done = tarefas::finished(
        t,
        app.clock.stamp(),
        Ok(serde_json::json!({"arquivo": nome, "consultas": linhas})),
    );
    tarefas::complete(app, rt, done)?;
    app.events.publish(
        "relatorio_pronto",
        &serde_json::json!({"arquivo": nome, "task_id": t.id}),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each owner keeps its newest reports: a doctor asking for many pushes out only their
    /// own, never the clinic-wide ones nor another doctor's.
    #[test]
    fn retention_counts_each_owners_reports_apart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let nome = |i: u32| format!("relatorio_20260301_{:06}.pdf", 100_000 + i);
        // Oldest first: two clinic-wide, then six of doctor A, one of doctor B.
        for i in 0..9 {
            fs::write(d.join(nome(i)), b"%PDF").expect("pdf");
            let dono_de = match i {
                0 | 1 => None,
                8 => Some("B"),
                _ => Some("A"),
            };
            marcar_dono(d, &nome(i), dono_de).expect("owner");
        }
        let removidos = reter(d, 2).expect("retention");
        let mut restam = arquivos::listar(d, "relatorio", "pdf").expect("list");
        restam.sort();
        assert_eq!(restam, [nome(0), nome(1), nome(6), nome(7), nome(8)]);
        assert_eq!(removidos.len(), 4, "{removidos:?}");
        // A removed report's owner file goes with it.
        assert!(!dono(d, &nome(2)).exists());
        assert!(do_medico(d, &nome(7), "A"));
    }
}
