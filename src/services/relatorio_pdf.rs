//! The appointments report as a PDF (SPEC §7).
//!
//! [`render`] lays out an A4 document by hand with printpdf's ops: the title, the filters
//! used, the generated-at line, a table (Data, Hora, Médico, Paciente, Status) that breaks
//! across pages repeating its header, then the totals by status and by doctor and the
//! overall count. Every page carries "Página N de M" in its footer.
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

// ---------------------------------------------------------------------------------------
// Page geometry (points; PDF origin is the bottom-left corner)

const PAGE_W: f32 = 595.276; // 210 mm
const PAGE_H: f32 = 841.89; // 297 mm
const MARGEM: f32 = 40.0;
const LARGURA_UTIL: f32 = PAGE_W - 2.0 * MARGEM;
/// Content never goes below this; the footer lives under it.
const LIMITE_INFERIOR: f32 = 52.0;
const RODAPE_Y: f32 = 26.0;

const CORPO: f32 = 9.0;
const LINHA_H: f32 = 15.0;
/// Baseline offset from the top of a table row.
const BASE_LINHA: f32 = 10.5;
const PAD: f32 = 4.0;

/// The main table's columns: title and width.
const COLUNAS: [(&str, f32); 5] = [
    ("Data", 62.0),
    ("Hora", 38.0),
    ("Médico", 160.0),
    ("Paciente", 175.0),
    ("Status", LARGURA_UTIL - 62.0 - 38.0 - 160.0 - 175.0),
];

/// The totals tables: name column and count column.
const TOTAL_NOME_W: f32 = 300.0;
const TOTAL_QTD_W: f32 = 80.0;

const CINZA_CABECALHO: f32 = 0.85;
const CINZA_ZEBRA: f32 = 0.95;

#[derive(Clone, Copy, PartialEq)]
enum Fonte {
    Normal,
    Negrito,
}

impl Fonte {
    fn builtin(self) -> BuiltinFont {
        match self {
            Fonte::Normal => BuiltinFont::Helvetica,
            Fonte::Negrito => BuiltinFont::HelveticaBold,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Alinhamento {
    Esquerda,
    Direita,
}

/// Lays out pages one op at a time, top to bottom.
struct Escritor<'a> {
    titulo: &'a str,
    gerado_em: &'a str,
    paginas: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// The top of the next thing to draw.
    y: f32,
    /// Font selected in this page's content stream.
    fonte: Option<(Fonte, f32)>,
    /// Fill grey currently set (text is drawn with fill colour 0 = black).
    preenchimento: f32,
}

impl<'a> Escritor<'a> {
    fn new(titulo: &'a str, gerado_em: &'a str) -> Self {
        Self {
            titulo,
            gerado_em,
            paginas: Vec::new(),
            ops: Vec::new(),
            y: PAGE_H - MARGEM,
            fonte: None,
            preenchimento: 0.0,
        }
    }

    // --- primitives -------------------------------------------------------------------

    fn cinza(&mut self, g: f32) {
        if self.preenchimento != g {
            self.preenchimento = g;
            self.ops.push(Op::SetFillColor {
                col: Color::Greyscale(Greyscale::new(g, None)),
            });
        }
    }

    /// Opens a text object (`BT`) in black with this font.
    fn abrir_texto(&mut self, fonte: Fonte, tamanho: f32) {
        self.cinza(0.0);
        self.ops.push(Op::StartTextSection);
        if self.fonte.is_none() {
            // `'` below moves down by the leading before showing: keep it at 0 (the
            // default, set explicitly once per page).
            self.ops.push(Op::SetLineHeight { lh: Pt(0.0) });
        }
        if self.fonte != Some((fonte, tamanho)) {
            self.fonte = Some((fonte, tamanho));
            self.ops.push(Op::SetFont {
                font: PdfFontHandle::Builtin(fonte.builtin()),
                size: Pt(tamanho),
            });
        }
    }

    /// Shows `s` with its baseline starting at (`x`, `y`), inside an open text object.
    ///
    /// `Tm` + `'` rather than `Td` + `Tj`: two ops per run, and text extractors see a line
    /// break before each run, so cells never merge into one word.
    fn run(&mut self, x: f32, y: f32, s: String) {
        self.ops.push(Op::SetTextMatrix {
            matrix: TextMatrix::Translate(Pt(x), Pt(y)),
        });
        self.ops.push(Op::MoveToNextLineShowText { text: s });
    }

    fn fechar_texto(&mut self) {
        self.ops.push(Op::EndTextSection);
    }

    /// One text run with its baseline at (`x`, `y`), in its own text object.
    fn texto(&mut self, x: f32, y: f32, fonte: Fonte, tamanho: f32, s: &str) {
        self.abrir_texto(fonte, tamanho);
        self.run(x, y, s.to_string());
        self.fechar_texto();
    }

    /// A table cell: body-size text in `fonte` (already selected by [`Self::abrir_texto`])
    /// fitted into a box `largura` wide starting at `x` (padding included).
    fn celula(
        &mut self,
        x: f32,
        largura: f32,
        baseline: f32,
        fonte: Fonte,
        s: &str,
        alinhamento: Alinhamento,
    ) {
        let max = largura - 2.0 * PAD;
        let s = ajustar(s, fonte, CORPO, max);
        let x = match alinhamento {
            Alinhamento::Esquerda => x + PAD,
            Alinhamento::Direita => x + largura - PAD - largura_texto(&s, fonte, CORPO),
        };
        self.run(x, baseline, s.into_owned());
    }

    fn retangulo(&mut self, x: f32, y_base: f32, w: f32, h: f32, g: f32) {
        self.cinza(g);
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y_base),
                width: Pt(w),
                height: Pt(h),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
    }

    fn linha(&mut self, x1: f32, x2: f32, y: f32) {
        let ponto = |x: f32| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        self.ops.push(Op::DrawLine {
            line: Line {
                points: vec![ponto(x1), ponto(x2)],
                is_closed: false,
            },
        });
    }

    // --- pages ------------------------------------------------------------------------

    fn nova_pagina(&mut self) {
        let anterior = std::mem::take(&mut self.ops);
        self.paginas.push(anterior);
        self.fonte = None;
        self.preenchimento = 0.0;
        self.y = PAGE_H - MARGEM;
        // A running header on every page after the first.
        let titulo = ajustar(self.titulo, Fonte::Negrito, 10.0, LARGURA_UTIL);
        self.texto(MARGEM, self.y - 10.0, Fonte::Negrito, 10.0, &titulo);
        self.ops.push(Op::SetOutlineThickness { pt: Pt(0.5) });
        self.linha(MARGEM, PAGE_W - MARGEM, self.y - 15.0);
        self.y -= 25.0;
    }

    /// Starts a new page unless `altura` more points fit on this one.
    fn cabe(&mut self, altura: f32) -> bool {
        if self.y - altura < LIMITE_INFERIOR {
            self.nova_pagina();
            false
        } else {
            true
        }
    }

    /// Closes the last page and stamps every page's footer.
    fn finalizar(mut self) -> Vec<Vec<Op>> {
        let ultima = std::mem::take(&mut self.ops);
        self.paginas.push(ultima);
        let total = self.paginas.len();
        let esquerda = format!("{} — gerado em {}", self.titulo, self.gerado_em);
        let esquerda = ajustar(&esquerda, Fonte::Normal, 8.0, LARGURA_UTIL - 90.0).into_owned();
        let mut paginas = std::mem::take(&mut self.paginas);
        for (i, ops) in paginas.iter_mut().enumerate() {
            self.ops = std::mem::take(ops);
            // The page's own state is unknown here: set everything again.
            self.fonte = None;
            self.preenchimento = -1.0;
            self.ops.push(Op::SetOutlineThickness { pt: Pt(0.5) });
            self.linha(MARGEM, PAGE_W - MARGEM, RODAPE_Y + 11.0);
            self.texto(MARGEM, RODAPE_Y, Fonte::Normal, 8.0, &esquerda);
            let pagina = format!("Página {} de {}", i + 1, total);
            let w = largura_texto(&pagina, Fonte::Normal, 8.0);
            self.texto(PAGE_W - MARGEM - w, RODAPE_Y, Fonte::Normal, 8.0, &pagina);
            *ops = std::mem::take(&mut self.ops);
        }
        paginas
    }

    // --- sections ---------------------------------------------------------------------

    fn cabecalho(&mut self, r: &Relatorio) {
        let titulo = ajustar(&r.titulo, Fonte::Negrito, 16.0, LARGURA_UTIL);
        self.texto(MARGEM, self.y - 16.0, Fonte::Negrito, 16.0, &titulo);
        self.y -= 28.0;

        if r.filtros.is_empty() {
            self.texto(
                MARGEM,
                self.y - 10.0,
                Fonte::Normal,
                10.0,
                "Filtros: nenhum",
            );
            self.y -= 15.0;
        } else {
            self.texto(MARGEM, self.y - 10.0, Fonte::Negrito, 10.0, "Filtros:");
            self.y -= 15.0;
            for (rotulo, valor) in &r.filtros {
                self.cabe(15.0);
                let s = format!("{rotulo}: {valor}");
                let s = ajustar(&s, Fonte::Normal, 10.0, LARGURA_UTIL - 12.0);
                self.texto(MARGEM + 12.0, self.y - 10.0, Fonte::Normal, 10.0, &s);
                self.y -= 15.0;
            }
        }
        self.cabe(15.0);
        let gerado = format!("Gerado em: {}", r.gerado_em);
        let gerado = ajustar(&gerado, Fonte::Normal, 10.0, LARGURA_UTIL);
        self.texto(MARGEM, self.y - 10.0, Fonte::Normal, 10.0, &gerado);
        self.y -= 25.0;
    }

    /// A shaded header row with bold titles; `colunas` are (title, width, alignment).
    fn cabecalho_tabela(&mut self, colunas: &[(&str, f32, Alinhamento)]) {
        let largura: f32 = colunas.iter().map(|c| c.1).sum();
        self.retangulo(MARGEM, self.y - LINHA_H, largura, LINHA_H, CINZA_CABECALHO);
        let base = self.y - BASE_LINHA;
        let mut x = MARGEM;
        self.abrir_texto(Fonte::Negrito, CORPO);
        for &(titulo, w, alinhamento) in colunas {
            self.celula(x, w, base, Fonte::Negrito, titulo, alinhamento);
            x += w;
        }
        self.fechar_texto();
        self.ops.push(Op::SetOutlineThickness { pt: Pt(0.75) });
        self.linha(MARGEM, MARGEM + largura, self.y - LINHA_H);
        self.y -= LINHA_H;
    }

    fn tabela(&mut self, linhas: &[LinhaRelatorio], prog: &mut ProgressoDesenho<'_>) {
        let colunas: Vec<(&str, f32, Alinhamento)> = COLUNAS
            .iter()
            .map(|&(t, w)| (t, w, Alinhamento::Esquerda))
            .collect();
        // The header and at least one row together.
        self.cabe(2.0 * LINHA_H);
        self.cabecalho_tabela(&colunas);
        if linhas.is_empty() {
            let base = self.y - BASE_LINHA;
            self.texto(
                MARGEM + PAD,
                base,
                Fonte::Normal,
                CORPO,
                "Nenhuma consulta encontrada.",
            );
            self.y -= LINHA_H;
        }
        // Report at least every 2% of the rows.
        let passo = (linhas.len() / 50).max(1);
        for (i, l) in linhas.iter().enumerate() {
            if !self.cabe(LINHA_H) {
                self.cabecalho_tabela(&colunas);
            }
            if i % 2 == 1 {
                self.retangulo(MARGEM, self.y - LINHA_H, LARGURA_UTIL, LINHA_H, CINZA_ZEBRA);
            }
            let base = self.y - BASE_LINHA;
            let d = l.inicio;
            let data = format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year());
            let hora = format!("{:02}:{:02}", d.hour(), d.minute());
            let celulas: [&str; 5] = [
                &data,
                &hora,
                &l.medico,
                &l.paciente,
                rotulo_status(l.status),
            ];
            let mut x = MARGEM;
            self.abrir_texto(Fonte::Normal, CORPO);
            for (texto, &(_, w)) in celulas.iter().zip(COLUNAS.iter()) {
                self.celula(x, w, base, Fonte::Normal, texto, Alinhamento::Esquerda);
                x += w;
            }
            self.fechar_texto();
            self.y -= LINHA_H;
            if (i + 1) % passo == 0 {
                prog.linhas(i + 1, linhas.len());
            }
        }
        self.ops.push(Op::SetOutlineThickness { pt: Pt(0.75) });
        self.linha(MARGEM, PAGE_W - MARGEM, self.y);
        prog.linhas(linhas.len(), linhas.len());
    }

    /// A two-column totals table (name, count) under a heading, repeating its header
    /// after a page break.
    fn tabela_totais(&mut self, titulo: &str, coluna: &str, itens: &[(&str, usize)]) {
        let colunas = [
            (coluna, TOTAL_NOME_W, Alinhamento::Esquerda),
            ("Quantidade", TOTAL_QTD_W, Alinhamento::Direita),
        ];
        self.y -= 8.0;
        self.cabe(18.0 + 2.0 * LINHA_H);
        self.texto(MARGEM, self.y - 11.0, Fonte::Negrito, 11.0, titulo);
        self.y -= 18.0;
        self.cabecalho_tabela(&colunas);
        for (i, &(nome, n)) in itens.iter().enumerate() {
            if !self.cabe(LINHA_H) {
                self.cabecalho_tabela(&colunas);
            }
            if i % 2 == 1 {
                self.retangulo(
                    MARGEM,
                    self.y - LINHA_H,
                    TOTAL_NOME_W + TOTAL_QTD_W,
                    LINHA_H,
                    CINZA_ZEBRA,
                );
            }
            let base = self.y - BASE_LINHA;
            self.abrir_texto(Fonte::Normal, CORPO);
            self.celula(
                MARGEM,
                TOTAL_NOME_W,
                base,
                Fonte::Normal,
                nome,
                Alinhamento::Esquerda,
            );
            let qtd = n.to_string();
            self.celula(
                MARGEM + TOTAL_NOME_W,
                TOTAL_QTD_W,
                base,
                Fonte::Normal,
                &qtd,
                Alinhamento::Direita,
            );
            self.fechar_texto();
            self.y -= LINHA_H;
        }
        self.ops.push(Op::SetOutlineThickness { pt: Pt(0.75) });
        self.linha(MARGEM, MARGEM + TOTAL_NOME_W + TOTAL_QTD_W, self.y);
    }

    fn totais(&mut self, linhas: &[LinhaRelatorio]) {
        let mut por_status = [0usize; StatusConsulta::ALL.len()];
        let mut por_medico: HashMap<&str, usize> = HashMap::new();
        for l in linhas {
            if let Some(i) = StatusConsulta::ALL.iter().position(|s| *s == l.status) {
                por_status[i] += 1;
            }
            *por_medico.entry(l.medico.as_str()).or_default() += 1;
        }

        self.y -= 14.0;
        self.cabe(20.0);
        self.texto(MARGEM, self.y - 13.0, Fonte::Negrito, 13.0, "Totais");
        self.y -= 22.0;
        self.cabe(15.0);
        let total = format!("Total de consultas: {}", linhas.len());
        self.texto(MARGEM, self.y - 10.0, Fonte::Negrito, 10.0, &total);
        self.y -= 15.0;

        let status: Vec<(&str, usize)> = StatusConsulta::ALL
            .iter()
            .zip(por_status)
            .filter(|&(_, n)| n > 0)
            .map(|(s, n)| (rotulo_status(*s), n))
            .collect();
        if !status.is_empty() {
            self.tabela_totais("Por status", "Status", &status);
        }

        let mut medicos: Vec<(String, &str, usize)> = por_medico
            .into_iter()
            .map(|(nome, n)| (chave_ordenacao(nome), nome, n))
            .collect();
        medicos.sort();
        let medicos: Vec<(&str, usize)> = medicos.iter().map(|(_, nome, n)| (*nome, *n)).collect();
        if !medicos.is_empty() {
            self.tabela_totais("Por médico", "Médico", &medicos);
        }
    }
}

/// Sorts names the way a reader expects: case- and accent-insensitive.
fn chave_ordenacao(s: &str) -> String {
    use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Text measurement

/// `s` cut with "…" so that it is at most `max` points wide; control characters become
/// spaces.
fn ajustar<'s>(s: &'s str, fonte: Fonte, tamanho: f32, max: f32) -> Cow<'s, str> {
    let s: Cow<'s, str> = if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    };
    if largura_texto(&s, fonte, tamanho) <= max {
        return s;
    }
    let reticencias = largura_texto("…", fonte, tamanho);
    let escala = tamanho / 1000.0;
    let mut usado = 0.0;
    let mut fim = 0;
    for (i, c) in s.char_indices() {
        let w = f32::from(largura_char(c, fonte)) * escala;
        if usado + w + reticencias > max {
            break;
        }
        usado += w;
        fim = i + c.len_utf8();
    }
    let mut cortado = s[..fim].trim_end().to_string();
    cortado.push('…');
    Cow::Owned(cortado)
}

/// The width of `s` in points.
fn largura_texto(s: &str, fonte: Fonte, tamanho: f32) -> f32 {
    let milesimos: u32 = s.chars().map(|c| u32::from(largura_char(c, fonte))).sum();
    milesimos as f32 * tamanho / 1000.0
}

/// The advance width of `c` in 1/1000 em, as the PDF viewer will draw it: printpdf writes
/// characters outside WinAnsi as `?`.
fn largura_char(c: char, fonte: Fonte) -> u16 {
    let (ascii, latin1, extra) = match fonte {
        Fonte::Normal => (&HELVETICA_ASCII, &HELVETICA_LATIN1, &HELVETICA_EXTRA),
        Fonte::Negrito => (
            &HELVETICA_BOLD_ASCII,
            &HELVETICA_BOLD_LATIN1,
            &HELVETICA_BOLD_EXTRA,
        ),
    };
    let cp = c as u32;
    match cp {
        0x20..=0x7E => ascii[(cp - 0x20) as usize],
        0xA0..=0xFF => latin1[(cp - 0xA0) as usize],
        _ => extra
            .iter()
            .find(|(e, _)| *e == c)
            .map_or(ascii[usize::from(b'?' - 0x20)], |&(_, w)| w),
    }
}

// Adobe's standard AFM advance widths (1/1000 em) for Helvetica and Helvetica-Bold, the
// WinAnsi characters U+0020..U+007E and U+00A0..U+00FF (checked against printpdf's
// built-in font metrics by a test below).
#[rustfmt::skip]
const HELVETICA_ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
#[rustfmt::skip]
const HELVETICA_LATIN1: [u16; 96] = [
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 549, 333, 333, 333, 576, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 549, 611, 556, 556, 556, 556, 500, 556, 500,
];
#[rustfmt::skip]
const HELVETICA_BOLD_ASCII: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];
#[rustfmt::skip]
const HELVETICA_BOLD_LATIN1: [u16; 96] = [
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 549, 333, 333, 333, 576, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 549, 611, 611, 611, 611, 611, 556, 611, 556,
];
/// WinAnsi's 0x80..=0x9F characters (rounded up where the metric sources disagree: a
/// slightly wide estimate only cuts a name a little earlier).
#[rustfmt::skip]
const HELVETICA_EXTRA: [(char, u16); 27] = [
    ('€', 744), ('‚', 222), ('ƒ', 556), ('„', 333), ('…', 1000), ('†', 556), ('‡', 556),
    ('ˆ', 333), ('‰', 1000), ('Š', 667), ('‹', 333), ('Œ', 1000), ('Ž', 611), ('‘', 222),
    ('’', 222), ('“', 333), ('”', 333), ('•', 350), ('–', 556), ('—', 1000), ('˜', 333),
    ('™', 1000), ('š', 500), ('›', 333), ('œ', 944), ('ž', 500), ('Ÿ', 667),
];
#[rustfmt::skip]
const HELVETICA_BOLD_EXTRA: [(char, u16); 27] = [
    ('€', 744), ('‚', 278), ('ƒ', 556), ('„', 500), ('…', 1000), ('†', 556), ('‡', 556),
    ('ˆ', 333), ('‰', 1000), ('Š', 667), ('‹', 333), ('Œ', 1000), ('Ž', 611), ('‘', 278),
    ('’', 278), ('“', 500), ('”', 500), ('•', 350), ('–', 556), ('—', 1000), ('˜', 333),
    ('™', 1000), ('š', 556), ('›', 333), ('œ', 944), ('ž', 500), ('Ÿ', 667),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> jiff::civil::DateTime {
        s.parse().expect("datetime")
    }

    fn linha(inicio: &str, medico: &str, paciente: &str, status: StatusConsulta) -> LinhaRelatorio {
        LinhaRelatorio {
            inicio: dt(inicio),
            medico: medico.to_string(),
            paciente: paciente.to_string(),
            status,
        }
    }

    fn amostra() -> Relatorio {
        use StatusConsulta::*;
        Relatorio {
            titulo: "Relatório de consultas".to_string(),
            identificador: "tarefa-0195-teste".to_string(),
            filtros: vec![
                ("Médico".to_string(), "Dra. Ana Lúcia".to_string()),
                ("Período".to_string(), "01/03/2026 a 31/03/2026".to_string()),
            ],
            gerado_em: "22/11/2026 04:31".to_string(),
            linhas: vec![
                linha(
                    "2026-03-02T08:00",
                    "Dra. Ana Lúcia",
                    "João Conceição",
                    Agendada,
                ),
                linha(
                    "2026-03-02T08:30",
                    "Dr. Antônio Brandão",
                    "Luíza Gonçalves",
                    Confirmada,
                ),
                linha(
                    "2026-03-03T09:00",
                    "Dra. Ana Lúcia",
                    "Maria da Glória — 2º retorno",
                    Concluida,
                ),
                linha(
                    "2026-03-04T10:15",
                    "Dr. Antônio Brandão",
                    "Açucena Ímola Úrsula",
                    Faltou,
                ),
                linha(
                    "2026-03-05T14:45",
                    "Dra. Ana Lúcia",
                    "José Araújo",
                    Concluida,
                ),
                linha(
                    "2026-03-06T16:00",
                    "Dr. Antônio Brandão",
                    "Pedro Álvares Cabral",
                    Concluida,
                ),
                linha(
                    "2026-03-07T17:30",
                    "Dr. Nome Extremamente Comprido de Teste da Silva Sauro Pereira Lopes",
                    "Paciente Com Um Nome Absurdamente Longo Que Não Cabe Na Coluna Júnior",
                    Agendada,
                ),
            ],
        }
    }

    fn render_ok(r: &Relatorio) -> (Vec<u8>, Vec<u8>) {
        let mut progresso = Vec::new();
        let pdf = render(r, &mut |p| progresso.push(p)).expect("render");
        (pdf, progresso)
    }

    /// The text of each page, as lopdf extracts it.
    fn paginas(pdf: &[u8]) -> Vec<String> {
        let doc = lopdf::Document::load_mem(pdf).expect("parse");
        let n = doc.get_pages().len() as u32;
        (1..=n)
            .map(|p| doc.extract_text(&[p]).expect("text"))
            .collect()
    }

    /// The lines of the text, trimmed.
    fn linhas_texto(texto: &str) -> Vec<&str> {
        texto
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The line following `rotulo` in the totals section whose heading is `secao`.
    fn total_secao(texto: &str, secao: &str, rotulo: &str) -> Option<usize> {
        let ls = linhas_texto(texto);
        let inicio = ls.iter().position(|l| *l == secao)?;
        let i = ls[inicio..].iter().position(|l| *l == rotulo)? + inicio;
        ls.get(i + 1)?.parse().ok()
    }

    #[test]
    fn accents_title_filters_and_totals_extract_as_written() {
        let r = amostra();
        let (pdf, progresso) = render_ok(&r);
        assert!(pdf.starts_with(b"%PDF-"));
        let paginas = paginas(&pdf);
        assert_eq!(paginas.len(), 1);
        let texto = &paginas[0];

        for esperado in [
            "Relatório de consultas",
            "Filtros:",
            "Médico: Dra. Ana Lúcia",
            "Período: 01/03/2026 a 31/03/2026",
            "Gerado em: 22/11/2026 04:31",
            "João Conceição",
            "Luíza Gonçalves",
            "Dr. Antônio Brandão",
            "Maria da Glória — 2º retorno",
            "Açucena Ímola Úrsula",
            "Data",
            "Hora",
            "Médico",
            "Paciente",
            "Status",
            "02/03/2026",
            "08:30",
            "10:15",
            "Concluída",
            "Página 1 de 1",
            "Total de consultas: 7",
        ] {
            assert!(
                texto.contains(esperado),
                "{esperado:?} missing from:\n{texto}"
            );
        }
        let ls = linhas_texto(texto);
        // Every cell is its own line: the table reads row by row, in the given order.
        let i = ls.iter().position(|l| *l == "João Conceição").expect("row");
        assert_eq!(
            &ls[i - 3..i + 2],
            [
                "02/03/2026",
                "08:00",
                "Dra. Ana Lúcia",
                "João Conceição",
                "Agendada"
            ]
        );

        assert_eq!(total_secao(texto, "Por status", "Agendada"), Some(2));
        assert_eq!(total_secao(texto, "Por status", "Confirmada"), Some(1));
        assert_eq!(total_secao(texto, "Por status", "Concluída"), Some(3));
        assert_eq!(total_secao(texto, "Por status", "Faltou"), Some(1));
        assert_eq!(
            total_secao(texto, "Por status", "Cancelada"),
            None,
            "absent status listed"
        );
        assert_eq!(total_secao(texto, "Por médico", "Dra. Ana Lúcia"), Some(3));
        assert_eq!(
            total_secao(texto, "Por médico", "Dr. Antônio Brandão"),
            Some(3)
        );

        assert_eq!(progresso.first(), Some(&0));
        assert_eq!(progresso.last(), Some(&100));
        assert!(progresso.windows(2).all(|w| w[0] < w[1]), "{progresso:?}");
    }

    #[test]
    fn long_names_are_cut_to_their_column() {
        let r = amostra();
        let (pdf, _) = render_ok(&r);
        let texto = &paginas(&pdf)[0];
        let ls = linhas_texto(texto);
        let medico = ls
            .iter()
            .find(|l| l.starts_with("Dr. Nome Extremamente"))
            .expect("doctor");
        let paciente = ls
            .iter()
            .find(|l| l.starts_with("Paciente Com Um"))
            .expect("patient");
        assert!(
            medico.ends_with('…') && paciente.ends_with('…'),
            "{medico} / {paciente}"
        );
        assert!(largura_texto(medico, Fonte::Normal, CORPO) <= COLUNAS[2].1 - 2.0 * PAD);
        assert!(largura_texto(paciente, Fonte::Normal, CORPO) <= COLUNAS[3].1 - 2.0 * PAD);
        assert!(!texto.contains("Júnior"));
    }

    #[test]
    fn fitting() {
        assert_eq!(ajustar("João", Fonte::Normal, 9.0, 100.0), "João");
        let s = "W".repeat(50);
        let cortado = ajustar(&s, Fonte::Negrito, 9.0, 60.0);
        assert!(cortado.ends_with('…'));
        assert!(largura_texto(&cortado, Fonte::Negrito, 9.0) <= 60.0);
        assert!(largura_texto(&cortado, Fonte::Negrito, 9.0) > 60.0 - 9.0 * 0.944);
        assert_eq!(ajustar("a\nb\tc", Fonte::Normal, 9.0, 100.0), "a b c");
        // Nothing fits: just the ellipsis.
        assert_eq!(ajustar("abc", Fonte::Normal, 9.0, 1.0), "…");
        // Characters outside WinAnsi are measured as the `?` printpdf writes.
        assert_eq!(
            largura_char('漢', Fonte::Normal),
            largura_char('?', Fonte::Normal)
        );
        assert_eq!(largura_char('—', Fonte::Normal), 1000);
    }

    #[test]
    fn width_tables_match_printpdf_builtin_metrics() {
        for (fonte, builtin) in [
            (Fonte::Normal, BuiltinFont::Helvetica),
            (Fonte::Negrito, BuiltinFont::HelveticaBold),
        ] {
            let f = builtin.get_parsed_font().expect("builtin font");
            let upem = u32::from(f.units_per_em);
            for cp in (0x21u32..=0x7E).chain(0xA1..=0xFF).filter(|&c| c != 0xAD) {
                let c = char::from_u32(cp).expect("char");
                let gid = f.lookup_glyph_index(cp).expect("glyph");
                let w = u32::from(f.get_glyph_width(gid).expect("width"));
                let w = (w * 1000 + upem / 2) / upem;
                assert_eq!(u32::from(largura_char(c, fonte)), w, "{c:?}");
            }
        }
    }

    #[test]
    fn the_identifier_is_in_the_file() {
        let (pdf, _) = render_ok(&amostra());
        assert!(
            contem_identificador(&pdf, "tarefa-0195-teste"),
            "the task id is findable in the PDF's bytes"
        );
        assert!(!contem_identificador(&pdf, "tarefa-0195-outra"));
    }

    #[test]
    fn no_filters_and_no_rows() {
        let r = Relatorio {
            titulo: "Relatório de consultas".to_string(),
            identificador: "tarefa-0195-teste".to_string(),
            filtros: vec![],
            gerado_em: "01/01/2026 00:00".to_string(),
            linhas: vec![],
        };
        let (pdf, progresso) = render_ok(&r);
        let texto = paginas(&pdf).join("\n");
        for esperado in [
            "Filtros: nenhum",
            "Nenhuma consulta encontrada.",
            "Total de consultas: 0",
            "Página 1 de 1",
        ] {
            assert!(
                texto.contains(esperado),
                "{esperado:?} missing from:\n{texto}"
            );
        }
        assert!(!texto.contains("Por status") && !texto.contains("Por médico"));
        assert_eq!(progresso.last(), Some(&100));
    }

    #[test]
    fn creation_date_is_now() {
        let (pdf, _) = render_ok(&amostra());
        let doc = lopdf::Document::load_mem(&pdf).expect("parse");
        let info = doc
            .trailer
            .get(b"Info")
            .and_then(|o| o.as_reference())
            .expect("Info");
        let info = doc.get_dictionary(info).expect("Info dict");
        let data = info
            .get(b"CreationDate")
            .and_then(|o| o.as_str())
            .expect("CreationDate");
        let data = String::from_utf8_lossy(data);
        let ano = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .year();
        assert!(data.starts_with(&format!("D:{ano}")), "{data}");
    }

    fn grande(n: usize) -> Relatorio {
        let medicos = [
            "Dra. Ana Lúcia",
            "Dr. Antônio Brandão",
            "Dra. Conceição Évora",
            "Dr. João Ângelo",
        ];
        let inicio = dt("2026-01-05T08:00");
        let linhas = (0..n)
            .map(|i| LinhaRelatorio {
                inicio: inicio
                    .checked_add(jiff::SignedDuration::from_mins(30 * i as i64))
                    .expect("date"),
                medico: medicos[i % medicos.len()].to_string(),
                paciente: format!("Paciente nº {i:05} Gonçalves"),
                status: StatusConsulta::ALL[i % StatusConsulta::ALL.len()],
            })
            .collect();
        Relatorio {
            titulo: "Relatório de consultas".to_string(),
            identificador: "tarefa-0195-teste".to_string(),
            filtros: vec![],
            gerado_em: "22/11/2026 04:31".to_string(),
            linhas,
        }
    }

    #[test]
    fn ten_thousand_rows_every_row_and_page_numbers() {
        const N: usize = 10_000;
        let r = grande(N);
        let t = std::time::Instant::now();
        let (pdf, progresso) = render_ok(&r);
        let pico = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM"))
                    .map(str::to_string)
            });
        eprintln!("10k rows: {:?}, {} bytes, {pico:?}", t.elapsed(), pdf.len());

        let paginas = paginas(&pdf);
        let total = paginas.len();
        assert!(total > 1);
        let mut vistos = vec![false; N];
        for (i, texto) in paginas.iter().enumerate() {
            let rodape = format!("Página {} de {}", i + 1, total);
            assert!(texto.contains(&rodape), "page {} lacks {rodape:?}", i + 1);
            if i > 0 && texto.contains("Paciente nº ") {
                assert!(
                    texto.contains("Data\nHora\nMédico\nPaciente\nStatus"),
                    "header on page {}",
                    i + 1
                );
            }
            for l in linhas_texto(texto) {
                if let Some(resto) = l.strip_prefix("Paciente nº ") {
                    let k: usize = resto[..5].parse().expect("row number");
                    assert!(!vistos[k], "row {k} twice");
                    vistos[k] = true;
                }
            }
        }
        assert!(vistos.iter().all(|v| *v), "missing rows");
        let tudo = paginas.join("\n");
        assert!(tudo.contains(&format!("Total de consultas: {N}")));
        assert_eq!(
            total_secao(&tudo, "Por médico", "Dra. Conceição Évora"),
            Some(N / 4)
        );
        assert_eq!(total_secao(&tudo, "Por status", "Cancelada"), Some(N / 5));

        assert_eq!(progresso.last(), Some(&100));
        assert!(progresso.windows(2).all(|w| w[0] < w[1]));
        // At least one report per 5% of the rows.
        assert!(
            progresso.iter().filter(|p| **p <= PROGRESSO_LINHAS).count() >= 20,
            "{progresso:?}"
        );
    }

    /// Writes /tmp/relatorio_amostra.pdf for a visual check:
    /// `cargo test --lib relatorio_pdf -- --ignored amostra_em_disco`.
    #[test]
    #[ignore]
    fn amostra_em_disco() {
        let mut r = amostra();
        r.linhas.extend(grande(90).linhas);
        r.linhas.sort_by_key(|l| l.inicio);
        let (pdf, _) = render_ok(&r);
        std::fs::write("/tmp/relatorio_amostra.pdf", pdf).expect("write");
    }
}
