//! The page writer: title, filters, the table that breaks across pages repeating its
//! header, the totals, and the "Página N de M" footers.

use super::*;

/// Lays out pages one op at a time, top to bottom.
pub(super) struct Escritor<'a> {
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
    pub(super) fn new(titulo: &'a str, gerado_em: &'a str) -> Self {
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

    pub(super) fn cinza(&mut self, g: f32) {
        if self.preenchimento != g {
            self.preenchimento = g;
            self.ops.push(Op::SetFillColor {
                col: Color::Greyscale(Greyscale::new(g, None)),
            });
        }
    }

    /// Opens a text object (`BT`) in black with this font.
    pub(super) fn abrir_texto(&mut self, fonte: Fonte, tamanho: f32) {
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
    pub(super) fn run(&mut self, x: f32, y: f32, s: String) {
        self.ops.push(Op::SetTextMatrix {
            matrix: TextMatrix::Translate(Pt(x), Pt(y)),
        });
        self.ops.push(Op::MoveToNextLineShowText { text: s });
    }

    pub(super) fn fechar_texto(&mut self) {
        self.ops.push(Op::EndTextSection);
    }

    /// One text run with its baseline at (`x`, `y`), in its own text object.
    pub(super) fn texto(&mut self, x: f32, y: f32, fonte: Fonte, tamanho: f32, s: &str) {
        self.abrir_texto(fonte, tamanho);
        self.run(x, y, s.to_string());
        self.fechar_texto();
    }

    /// A table cell: body-size text in `fonte` (already selected by [`Self::abrir_texto`])
    /// fitted into a box `largura` wide starting at `x` (padding included).
    pub(super) fn celula(
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

    /// A left-aligned cell of several lines (a wrapped name), the first on `baseline`.
    fn celula_em_linhas(&mut self, x: f32, largura: f32, baseline: f32, linhas: &[String]) {
        for (k, linha) in linhas.iter().enumerate() {
            let y = baseline - k as f32 * ENTRELINHA;
            self.celula(x, largura, y, Fonte::Normal, linha, Alinhamento::Esquerda);
        }
    }

    pub(super) fn retangulo(&mut self, x: f32, y_base: f32, w: f32, h: f32, g: f32) {
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

    pub(super) fn linha(&mut self, x1: f32, x2: f32, y: f32) {
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

    pub(super) fn nova_pagina(&mut self) {
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
    pub(super) fn cabe(&mut self, altura: f32) -> bool {
        if self.y - altura < LIMITE_INFERIOR {
            self.nova_pagina();
            false
        } else {
            true
        }
    }

    /// Closes the last page and stamps every page's footer.
    pub(super) fn finalizar(mut self) -> Vec<Vec<Op>> {
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

    pub(super) fn cabecalho(&mut self, r: &Relatorio) {
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
    pub(super) fn cabecalho_tabela(&mut self, colunas: &[(&str, f32, Alinhamento)]) {
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

    pub(super) fn tabela(&mut self, linhas: &[LinhaRelatorio], prog: &mut ProgressoDesenho<'_>) {
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
            let d = l.inicio;
            let data = format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year());
            let hora = format!("{:02}:{:02}", d.hour(), d.minute());
            // Names are written whole (SPEC §7: extracted "as written"), wrapped in their
            // column; the row is as tall as its longest name.
            let celulas: [Vec<String>; 5] = [
                vec![data],
                vec![hora],
                linhas_do_nome(&l.medico, COLUNAS[2].1),
                linhas_do_nome(&l.paciente, COLUNAS[3].1),
                vec![rotulo_status(l.status).to_owned()],
            ];
            let altura = altura_da_linha(celulas.iter().map(Vec::len).max().unwrap_or(1));
            if !self.cabe(altura) {
                self.cabecalho_tabela(&colunas);
            }
            if i % 2 == 1 {
                self.retangulo(MARGEM, self.y - altura, LARGURA_UTIL, altura, CINZA_ZEBRA);
            }
            let base = self.y - BASE_LINHA;
            let mut x = MARGEM;
            self.abrir_texto(Fonte::Normal, CORPO);
            for (textos, &(_, w)) in celulas.iter().zip(COLUNAS.iter()) {
                self.celula_em_linhas(x, w, base, textos);
                x += w;
            }
            self.fechar_texto();
            self.y -= altura;
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
    pub(super) fn tabela_totais(&mut self, titulo: &str, coluna: &str, itens: &[(&str, usize)]) {
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
            let nomes = linhas_do_nome(nome, TOTAL_NOME_W);
            let altura = altura_da_linha(nomes.len());
            if !self.cabe(altura) {
                self.cabecalho_tabela(&colunas);
            }
            if i % 2 == 1 {
                self.retangulo(
                    MARGEM,
                    self.y - altura,
                    TOTAL_NOME_W + TOTAL_QTD_W,
                    altura,
                    CINZA_ZEBRA,
                );
            }
            let base = self.y - BASE_LINHA;
            self.abrir_texto(Fonte::Normal, CORPO);
            self.celula_em_linhas(MARGEM, TOTAL_NOME_W, base, &nomes);
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
            self.y -= altura;
        }
        self.ops.push(Op::SetOutlineThickness { pt: Pt(0.75) });
        self.linha(MARGEM, MARGEM + TOTAL_NOME_W + TOTAL_QTD_W, self.y);
    }

    pub(super) fn totais(&mut self, linhas: &[LinhaRelatorio]) {
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
        self.totais_convenio(linhas);
    }

    /// The totals by insurance plan (SPEC-2 §12), after the others: appointments and the
    /// amount received per plan (plans by name, then `Particular`, then `Sem pagamento`),
    /// and the total received.
    fn totais_convenio(&mut self, linhas: &[LinhaRelatorio]) {
        if linhas.is_empty() {
            return;
        }
        let mut por_plano: HashMap<&PlanoLinha, (usize, u64)> = HashMap::new();
        let mut recebido: u64 = 0;
        for l in linhas {
            let e = por_plano.entry(&l.plano).or_default();
            e.0 += 1;
            e.1 = e.1.saturating_add(l.recebido_centavos);
            recebido = recebido.saturating_add(l.recebido_centavos);
        }
        let mut planos: Vec<((u8, String), &PlanoLinha, usize, u64)> = por_plano
            .into_iter()
            .map(|(p, (n, v))| {
                let chave = match p {
                    PlanoLinha::Convenio(nome) => (0, chave_ordenacao(nome)),
                    PlanoLinha::Particular => (1, String::new()),
                    PlanoLinha::SemPagamento => (2, String::new()),
                };
                (chave, p, n, v)
            })
            .collect();
        planos.sort_by(|a, b| a.0.cmp(&b.0));
        let colunas = [
            ("Convênio", TOTAL_NOME_W, Alinhamento::Esquerda),
            ("Quantidade", TOTAL_QTD_W, Alinhamento::Direita),
            ("Recebido", TOTAL_VALOR_W, Alinhamento::Direita),
        ];
        let largura = TOTAL_NOME_W + TOTAL_QTD_W + TOTAL_VALOR_W;
        self.y -= 8.0;
        self.cabe(18.0 + 2.0 * LINHA_H);
        self.texto(MARGEM, self.y - 11.0, Fonte::Negrito, 11.0, "Por convênio");
        self.y -= 18.0;
        self.cabecalho_tabela(&colunas);
        for (i, (_, plano, n, v)) in planos.iter().enumerate() {
            if !self.cabe(LINHA_H) {
                self.cabecalho_tabela(&colunas);
            }
            if i % 2 == 1 {
                self.retangulo(MARGEM, self.y - LINHA_H, largura, LINHA_H, CINZA_ZEBRA);
            }
            let base = self.y - BASE_LINHA;
            self.abrir_texto(Fonte::Normal, CORPO);
            let celulas = [
                (plano.rotulo().to_owned(), colunas[0]),
                (n.to_string(), colunas[1]),
                (reais(*v), colunas[2]),
            ];
            let mut x = MARGEM;
            for (texto, (_, w, alinhamento)) in &celulas {
                self.celula(x, *w, base, Fonte::Normal, texto, *alinhamento);
                x += w;
            }
            self.fechar_texto();
            self.y -= LINHA_H;
        }
        self.ops.push(Op::SetOutlineThickness { pt: Pt(0.75) });
        self.linha(MARGEM, MARGEM + largura, self.y);
        self.y -= 6.0;
        self.cabe(15.0);
        let total = format!("Total recebido: {}", reais(recebido));
        self.texto(MARGEM, self.y - 10.0, Fonte::Negrito, 10.0, &total);
        self.y -= 15.0;
    }
}

/// Sorts names the way a reader expects: case- and accent-insensitive.
pub(super) fn chave_ordenacao(s: &str) -> String {
    use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A name's lines in a column `largura` wide (padding included).
fn linhas_do_nome(nome: &str, largura: f32) -> Vec<String> {
    quebrar(
        nome,
        Fonte::Normal,
        CORPO,
        largura - 2.0 * PAD,
        LINHAS_POR_NOME,
    )
}

/// The height of a table row whose tallest cell has `linhas` lines.
fn altura_da_linha(linhas: usize) -> f32 {
    LINHA_H + linhas.saturating_sub(1) as f32 * ENTRELINHA
}
