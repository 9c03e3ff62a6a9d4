//! Page geometry (points; the PDF origin is the bottom-left corner), column widths, greys,
//! and the two fonts.

use super::*;

// ---------------------------------------------------------------------------------------
// Page geometry (points; PDF origin is the bottom-left corner)

pub(super) const PAGE_W: f32 = 595.276; // 210 mm
pub(super) const PAGE_H: f32 = 841.89; // 297 mm
pub(super) const MARGEM: f32 = 40.0;
pub(super) const LARGURA_UTIL: f32 = PAGE_W - 2.0 * MARGEM;
/// Content never goes below this; the footer lives under it.
pub(super) const LIMITE_INFERIOR: f32 = 52.0;
pub(super) const RODAPE_Y: f32 = 26.0;

pub(super) const CORPO: f32 = 9.0;
pub(super) const LINHA_H: f32 = 15.0;
/// The distance between two lines of a wrapped name in a table row.
pub(super) const ENTRELINHA: f32 = 11.0;
/// The most lines a name takes in a row (a 200-character name fits in about six).
pub(super) const LINHAS_POR_NOME: usize = 8;
/// Baseline offset from the top of a table row.
pub(super) const BASE_LINHA: f32 = 10.5;
pub(super) const PAD: f32 = 4.0;

/// The main table's columns: title and width.
pub(super) const COLUNAS: [(&str, f32); 5] = [
    ("Data", 62.0),
    ("Hora", 38.0),
    ("Médico", 160.0),
    ("Paciente", 175.0),
    ("Status", LARGURA_UTIL - 62.0 - 38.0 - 160.0 - 175.0),
];

/// The totals tables: name column and count column.
pub(super) const TOTAL_NOME_W: f32 = 300.0;
pub(super) const TOTAL_QTD_W: f32 = 80.0;
/// The amount column of the totals by plan (SPEC-2 §12).
pub(super) const TOTAL_VALOR_W: f32 = 110.0;

pub(super) const CINZA_CABECALHO: f32 = 0.85;
pub(super) const CINZA_ZEBRA: f32 = 0.95;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Fonte {
    Normal,
    Negrito,
}

impl Fonte {
    pub(super) fn builtin(self) -> BuiltinFont {
        match self {
            Fonte::Normal => BuiltinFont::Helvetica,
            Fonte::Negrito => BuiltinFont::HelveticaBold,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Alinhamento {
    Esquerda,
    Direita,
}
