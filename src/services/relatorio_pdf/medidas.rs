//! Text measurement with the fonts' standard (AFM) advance widths, and cutting a cell's
//! text with "…" so it never runs into the next column.

use super::*;

// ---------------------------------------------------------------------------------------
// Text measurement

/// `s` with its control characters (a newline, a tab) as spaces.
fn sem_controles(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// `s` cut with "…" so that it is at most `max` points wide; control characters become
/// spaces.
pub(super) fn ajustar<'s>(s: &'s str, fonte: Fonte, tamanho: f32, max: f32) -> Cow<'s, str> {
    let s = sem_controles(s);
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

/// `s` broken into lines at most `max` points wide, at spaces where it can (a word wider
/// than a line is cut between characters); control characters become spaces. At least one
/// line, at most `limite` (the last one then ends with "…").
pub(super) fn quebrar(s: &str, fonte: Fonte, tamanho: f32, max: f32, limite: usize) -> Vec<String> {
    let limpo = sem_controles(s);
    let mut linhas: Vec<String> = Vec::new();
    let mut atual = String::new();
    for palavra in limpo.split_whitespace() {
        let junto = if atual.is_empty() {
            palavra.to_owned()
        } else {
            format!("{atual} {palavra}")
        };
        if largura_texto(&junto, fonte, tamanho) <= max {
            atual = junto;
            continue;
        }
        if !atual.is_empty() {
            linhas.push(std::mem::take(&mut atual));
        }
        // The word alone: cut between characters while it is wider than a line.
        for c in palavra.chars() {
            atual.push(c);
            if largura_texto(&atual, fonte, tamanho) > max && atual.chars().count() > 1 {
                atual.pop();
                linhas.push(std::mem::take(&mut atual));
                atual.push(c);
            }
        }
    }
    if !atual.is_empty() || linhas.is_empty() {
        linhas.push(atual);
    }
    if linhas.len() > limite {
        let resto = linhas[limite - 1..].join(" ");
        linhas.truncate(limite - 1);
        linhas.push(ajustar(&resto, fonte, tamanho, max).into_owned());
    }
    linhas
}

/// The width of `s` in points.
pub(super) fn largura_texto(s: &str, fonte: Fonte, tamanho: f32) -> f32 {
    let milesimos: u32 = s.chars().map(|c| u32::from(largura_char(c, fonte))).sum();
    milesimos as f32 * tamanho / 1000.0
}

/// The advance width of `c` in 1/1000 em, as the PDF viewer will draw it: printpdf writes
/// characters outside WinAnsi as `?`.
pub(super) fn largura_char(c: char, fonte: Fonte) -> u16 {
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
pub(super) const HELVETICA_ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
#[rustfmt::skip]
pub(super) const HELVETICA_LATIN1: [u16; 96] = [
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 549, 333, 333, 333, 576, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 549, 611, 556, 556, 556, 556, 500, 556, 500,
];
#[rustfmt::skip]
pub(super) const HELVETICA_BOLD_ASCII: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];
#[rustfmt::skip]
pub(super) const HELVETICA_BOLD_LATIN1: [u16; 96] = [
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
pub(super) const HELVETICA_EXTRA: [(char, u16); 27] = [
    ('€', 744), ('‚', 222), ('ƒ', 556), ('„', 333), ('…', 1000), ('†', 556), ('‡', 556),
    ('ˆ', 333), ('‰', 1000), ('Š', 667), ('‹', 333), ('Œ', 1000), ('Ž', 611), ('‘', 222),
    ('’', 222), ('“', 333), ('”', 333), ('•', 350), ('–', 556), ('—', 1000), ('˜', 333),
    ('™', 1000), ('š', 500), ('›', 333), ('œ', 944), ('ž', 500), ('Ÿ', 667),
];
#[rustfmt::skip]
pub(super) const HELVETICA_BOLD_EXTRA: [(char, u16); 27] = [
    ('€', 744), ('‚', 278), ('ƒ', 556), ('„', 500), ('…', 1000), ('†', 556), ('‡', 556),
    ('ˆ', 333), ('‰', 1000), ('Š', 667), ('‹', 333), ('Œ', 1000), ('Ž', 611), ('‘', 278),
    ('’', 278), ('“', 500), ('”', 500), ('•', 350), ('–', 556), ('—', 1000), ('˜', 333),
    ('™', 1000), ('š', 556), ('›', 333), ('œ', 944), ('ž', 500), ('Ÿ', 667),
];
