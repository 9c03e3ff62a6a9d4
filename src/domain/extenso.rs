//! Text for people rather than programs: HTML escaping and clinic dates in Portuguese words,
//! shared by the public link pages and the e-mail messages (SPEC-2 §13).

use jiff::civil::Date;

/// HTML-escapes text for element content and quoted attributes.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const DIAS: [&str; 7] = [
    "segunda-feira",
    "terça-feira",
    "quarta-feira",
    "quinta-feira",
    "sexta-feira",
    "sábado",
    "domingo",
];
const MESES: [&str; 12] = [
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
];

/// A date in words: `segunda-feira, 2 de março de 2026`.
pub fn data(d: Date) -> String {
    let dia = DIAS[usize::from(d.weekday().to_monday_zero_offset().unsigned_abs())];
    let mes = MESES[usize::from(d.month().unsigned_abs()).saturating_sub(1) % 12];
    format!("{dia}, {} de {mes} de {}", d.day(), d.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_in_portuguese_and_markup_is_escaped() {
        assert_eq!(
            data(jiff::civil::date(2026, 3, 2)),
            "segunda-feira, 2 de março de 2026"
        );
        assert_eq!(
            data(jiff::civil::date(2026, 3, 8)),
            "domingo, 8 de março de 2026"
        );
        assert_eq!(
            html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
