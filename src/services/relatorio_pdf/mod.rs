//! The appointments report as a PDF (SPEC §7).
//!
//! [`render`] lays out an A4 document by hand with printpdf's ops: the title, the filters
//! used, the generated-at line, a table (Data, Hora, Médico, Paciente, Status) that breaks
//! across pages repeating its header, then the totals by status and by doctor and the
//! overall count, then the totals by insurance plan with the amounts received (SPEC-2 §12,
//! [`reais`]). Every page carries "Página N de M" in its footer.
//!
//! Text uses the built-in Helvetica and Helvetica-Bold fonts, which printpdf writes with
//! `/WinAnsiEncoding`: Portuguese accents, `º` and `—` render and extract as written.
//! Characters outside CP1252 come out as `?` (printpdf's substitution). Cell text is
//! measured with the fonts' standard (AFM) advance widths and cut with "…" so that it
//! never runs into the next column.
//!
//! Each run of text is placed with `Tm` and shown with `'`, so text extraction (lopdf,
//! pdftotext) keeps cells apart instead of gluing a row into one word.

use std::borrow::Cow;
use std::collections::HashMap;

use printpdf::{
    BuiltinFont, Color, Greyscale, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle,
    PdfPage, PdfParseErrorSeverity, PdfSaveOptions, Point, Pt, Rect, TextMatrix,
};

use crate::models::StatusConsulta;

mod escritor;
mod geometria;
mod medidas;

use escritor::*;
use geometria::*;
use medidas::*;

/// One appointment in the report.
#[derive(Debug, Clone)]
pub struct LinhaRelatorio {
    /// When it starts (clinic-local).
    pub inicio: jiff::civil::DateTime,
    /// The doctor's name.
    pub medico: String,
    /// The patient's name.
    pub paciente: String,
    /// Its status.
    pub status: StatusConsulta,
    /// How it is paid, for the totals by plan (SPEC-2 §12).
    pub plano: PlanoLinha,
    /// What was received for it: its `valor_centavos` when the payment is `pago`, else 0.
    pub recebido_centavos: u64,
}

/// How an appointment in the report is paid: one row of the totals by plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PlanoLinha {
    /// By this insurance plan (its name).
    Convenio(String),
    /// Private pay: "Particular".
    Particular,
    /// Booked before payments existed: "Sem pagamento".
    SemPagamento,
}

impl PlanoLinha {
    /// The row's label.
    pub fn rotulo(&self) -> &str {
        match self {
            PlanoLinha::Convenio(nome) => nome,
            PlanoLinha::Particular => "Particular",
            PlanoLinha::SemPagamento => "Sem pagamento",
        }
    }
}

/// An amount in integer centavos as Brazilians write it: `R$ 1.234,56`.
pub fn reais(centavos: u64) -> String {
    let inteiros = (centavos / 100).to_string();
    let mut milhares = String::new();
    for (i, c) in inteiros.chars().enumerate() {
        if i > 0 && (inteiros.len() - i).is_multiple_of(3) {
            milhares.push('.');
        }
        milhares.push(c);
    }
    format!("R$ {milhares},{:02}", centavos % 100)
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct Relatorio {
    /// The heading, e.g. "Relatório de consultas".
    pub titulo: String,
    /// The filters used as (label, value), e.g. `("Médico", "Dra. Ana Lúcia")`; empty
    /// means every appointment, shown as "Filtros: nenhum".
    pub filtros: Vec<(String, String)>,
    /// When it was generated, already formatted, e.g. "22/11/2026 04:31".
    pub gerado_em: String,
    /// The appointments, already sorted by time.
    pub linhas: Vec<LinhaRelatorio>,
    /// Written into the document's metadata (the task id), so a task re-run after a crash
    /// finds the PDF it already wrote.
    pub identificador: String,
}

/// Whether `pdf` is the report written with `identificador` (see [`Relatorio::identificador`]).
pub fn contem_identificador(pdf: &[u8], identificador: &str) -> bool {
    let id = identificador.as_bytes();
    !id.is_empty() && pdf.windows(id.len()).any(|w| w == id)
}

/// The label a status gets in the report.
pub fn rotulo_status(s: StatusConsulta) -> &'static str {
    match s {
        StatusConsulta::Agendada => "Agendada",
        StatusConsulta::Confirmada => "Confirmada",
        StatusConsulta::Concluida => "Concluída",
        StatusConsulta::Faltou => "Faltou",
        StatusConsulta::Cancelada => "Cancelada",
    }
}

/// Renders the PDF; calls `progresso` with 0..=100 as it goes (monotonic, at least every
/// ~2% of rows, and 100 at the end).
pub fn render(r: &Relatorio, progresso: &mut dyn FnMut(u8)) -> Result<Vec<u8>, String> {
    let mut prog = ProgressoDesenho::new(progresso);
    prog.set(0);

    let mut e = Escritor::new(&r.titulo, &r.gerado_em);
    e.cabecalho(r);
    e.tabela(&r.linhas, &mut prog);
    e.totais(&r.linhas);
    let paginas = e.finalizar();
    prog.set(PROGRESSO_LINHAS);

    let mut doc = PdfDocument::new(&r.titulo);
    let agora = printpdf::OffsetDateTime::now();
    let info = &mut doc.metadata.info;
    info.creation_date = agora;
    info.modification_date = agora;
    info.metadata_date = agora;
    info.creator = "Agendamento".to_string();
    info.producer = "Agendamento (printpdf)".to_string();
    info.subject = "Relatório de consultas".to_string();
    info.identifier = r.identificador.clone();
    info.keywords = vec![r.identificador.clone()];

    let paginas: Vec<PdfPage> = paginas
        .into_iter()
        .map(|ops| PdfPage::new(Mm(210.0), Mm(297.0), ops))
        .collect();
    prog.set(PROGRESSO_LINHAS + 5);

    let mut avisos = Vec::new();
    let bytes = doc
        .with_pages(paginas)
        .save(&PdfSaveOptions::default(), &mut avisos);
    let erros: Vec<&str> = avisos
        .iter()
        .filter(|a| a.severity == PdfParseErrorSeverity::Error)
        .map(|a| a.msg.as_str())
        .collect();
    if !erros.is_empty() {
        return Err(format!("falha ao gerar o PDF: {}", erros.join("; ")));
    }
    prog.set(100);
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------
// Progress

/// The share of the progress bar the table rows take; saving takes the rest.
const PROGRESSO_LINHAS: u8 = 80;

/// Forwards progress, only when it grows.
struct ProgressoDesenho<'a> {
    f: &'a mut dyn FnMut(u8),
    ultimo: Option<u8>,
}

impl<'a> ProgressoDesenho<'a> {
    fn new(f: &'a mut dyn FnMut(u8)) -> Self {
        Self { f, ultimo: None }
    }

    fn set(&mut self, v: u8) {
        let v = v.min(100);
        if self.ultimo.is_none_or(|u| v > u) {
            self.ultimo = Some(v);
            (self.f)(v);
        }
    }

    /// Progress after `feitas` of `total` rows.
    fn linhas(&mut self, feitas: usize, total: usize) {
        let total = total.max(1);
        let v = 1 + feitas.min(total) * usize::from(PROGRESSO_LINHAS - 1) / total;
        self.set(u8::try_from(v).unwrap_or(PROGRESSO_LINHAS));
    }
}

#[cfg(test)]
mod tests;
