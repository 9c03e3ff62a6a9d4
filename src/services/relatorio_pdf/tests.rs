//! Tests of the PDF report: layout, text extraction, page breaks, progress.

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
        plano: PlanoLinha::SemPagamento,
        recebido_centavos: 0,
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
fn long_names_are_written_whole_wrapped_in_their_column() {
    let r = amostra();
    let (pdf, _) = render_ok(&r);
    let texto = &paginas(&pdf)[0];
    let ls = linhas_texto(texto);
    for (nome, coluna) in [
        (
            "Dr. Nome Extremamente Comprido de Teste da Silva Sauro Pereira Lopes",
            COLUNAS[2].1,
        ),
        (
            "Paciente Com Um Nome Absurdamente Longo Que Não Cabe Na Coluna Júnior",
            COLUNAS[3].1,
        ),
    ] {
        let primeira = ls
            .iter()
            .position(|l| nome.starts_with(*l) && l.len() > 10)
            .unwrap_or_else(|| panic!("{nome} not found in {ls:?}"));
        // The name's lines follow one another in the text (one text run per line).
        let mut junto = String::new();
        for l in &ls[primeira..] {
            if !nome.contains(*l) {
                break;
            }
            assert!(
                largura_texto(l, Fonte::Normal, CORPO) <= coluna - 2.0 * PAD,
                "{l} fits its column"
            );
            if !junto.is_empty() {
                junto.push(' ');
            }
            junto.push_str(l);
        }
        assert_eq!(junto, nome, "written whole, as written");
    }
    assert!(!texto.contains('…'));
}

#[test]
fn wrapping() {
    let w = 60.0;
    let ls = quebrar("Ana Beatriz de Souza", Fonte::Normal, 9.0, w, 8);
    assert!(ls.len() > 1, "{ls:?}");
    assert_eq!(ls.join(" "), "Ana Beatriz de Souza");
    assert!(ls.iter().all(|l| largura_texto(l, Fonte::Normal, 9.0) <= w));
    // A word wider than a line is cut between characters.
    let ls = quebrar(&"W".repeat(30), Fonte::Normal, 9.0, w, 8);
    assert_eq!(ls.concat(), "W".repeat(30));
    assert!(ls.iter().all(|l| largura_texto(l, Fonte::Normal, 9.0) <= w));
    // Past the line limit the last line ends with "…".
    let ls = quebrar(&"Nome ".repeat(40), Fonte::Normal, 9.0, w, 3);
    assert_eq!(ls.len(), 3);
    assert!(ls[2].ends_with('…'));
    assert_eq!(quebrar("", Fonte::Normal, 9.0, w, 8), [String::new()]);
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
            plano: PlanoLinha::SemPagamento,
            recebido_centavos: 0,
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

#[test]
fn amounts_are_written_in_reais() {
    assert_eq!(reais(0), "R$ 0,00");
    assert_eq!(reais(5), "R$ 0,05");
    assert_eq!(reais(99_999), "R$ 999,99");
    assert_eq!(reais(123_456), "R$ 1.234,56");
    assert_eq!(reais(100_000_000), "R$ 1.000.000,00");
    assert_eq!(reais(u64::MAX), "R$ 184.467.440.737.095.516,15");
}

#[test]
fn totals_by_plan_follow_the_other_totals_with_the_amounts_received() {
    let mut r = amostra();
    let planos = [
        (PlanoLinha::Convenio("Unimed".into()), 0),
        (PlanoLinha::Particular, 25_000),
        (PlanoLinha::Particular, 0),
        (PlanoLinha::SemPagamento, 0),
        (PlanoLinha::Convenio("Amil".into()), 0),
        (PlanoLinha::Particular, 98_456),
        (PlanoLinha::Convenio("Unimed".into()), 0),
    ];
    assert_eq!(r.linhas.len(), planos.len());
    for (l, (p, v)) in r.linhas.iter_mut().zip(planos) {
        l.plano = p;
        l.recebido_centavos = v;
    }
    let (pdf, _) = render_ok(&r);
    let texto = paginas(&pdf).join("\n");
    let ls = linhas_texto(&texto);
    let secao = ls
        .iter()
        .position(|l| *l == "Por convênio")
        .expect("section");
    assert!(
        ls.iter().position(|l| *l == "Por médico").expect("médico") < secao,
        "{ls:?}"
    );
    assert_eq!(
        &ls[secao..secao + 17],
        [
            "Por convênio",
            "Convênio",
            "Quantidade",
            "Recebido",
            "Amil",
            "1",
            "R$ 0,00",
            "Unimed",
            "2",
            "R$ 0,00",
            "Particular",
            "3",
            "R$ 1.234,56",
            "Sem pagamento",
            "1",
            "R$ 0,00",
            "Total recebido: R$ 1.234,56",
        ]
    );
}
