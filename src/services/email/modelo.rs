//! The two bodies of a patient e-mail, from one [`Bloco`]: plain text and HTML (every value
//! escaped, so a name like `<script>` stays text). Plain `format!`, no template engine.

use std::fmt::Write as _;

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

/// What a message says, shared by both bodies.
pub struct Bloco<'a> {
    /// The patient's name, for the greeting.
    pub nome: &'a str,
    /// The first paragraph.
    pub abertura: &'a str,
    /// Label → value lines (doctor, date and time…).
    pub fatos: &'a [(&'a str, String)],
    /// Label → URL of each link.
    pub acoes: &'a [(&'a str, String)],
    /// The last paragraph (may be empty).
    pub fecho: &'a str,
    /// Whether `consulta.ics` is attached.
    pub com_ics: bool,
}

const ICS: &str = "O arquivo consulta.ics anexo adiciona a consulta à sua agenda.";
const RODAPE: &str = "Você recebe este e-mail porque é paciente da clínica. Para não \
                      receber mais e-mails, peça à recepção ou desative as notificações por \
                      e-mail no seu cadastro.";

/// The `text/plain` body.
pub fn texto(b: &Bloco<'_>) -> String {
    let mut s = format!("Olá, {}.\n\n{}\n\n", b.nome, b.abertura);
    for (rotulo, valor) in b.fatos {
        let _ = writeln!(s, "{rotulo}: {valor}");
    }
    if !b.acoes.is_empty() {
        s.push('\n');
        for (rotulo, url) in b.acoes {
            let _ = writeln!(s, "{rotulo}: {url}");
        }
    }
    for p in [b.fecho, if b.com_ics { ICS } else { "" }] {
        if !p.is_empty() {
            let _ = write!(s, "\n{p}\n");
        }
    }
    let _ = write!(s, "\n--\n{RODAPE}\n");
    s
}

/// The `text/html` body, titled `titulo`.
pub fn html(titulo: &str, b: &Bloco<'_>) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"pt-BR\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family: Arial, sans-serif; color: #222;\">\n<p>Olá, {}.</p>\n<p>{}</p>\n<table>\n",
        esc(titulo),
        esc(b.nome),
        esc(b.abertura)
    );
    for (rotulo, valor) in b.fatos {
        let _ = writeln!(
            s,
            "<tr><th style=\"text-align: left; padding-right: 1em;\">{}</th><td>{}</td></tr>",
            esc(rotulo),
            esc(valor)
        );
    }
    s.push_str("</table>\n");
    if !b.acoes.is_empty() {
        s.push_str("<p>");
        for (i, (rotulo, url)) in b.acoes.iter().enumerate() {
            if i > 0 {
                s.push_str(" · ");
            }
            let _ = write!(s, "<a href=\"{}\">{}</a>", esc(url), esc(rotulo));
        }
        s.push_str("</p>\n");
    }
    for p in [b.fecho, if b.com_ics { ICS } else { "" }] {
        if !p.is_empty() {
            let _ = writeln!(s, "<p>{}</p>", esc(p));
        }
    }
    let _ = write!(
        s,
        "<hr>\n<p style=\"font-size: small; color: #666;\">{}</p>\n</body>\n</html>\n",
        esc(RODAPE)
    );
    s
}

pub use crate::domain::extenso::html as esc;

/// A clinic-local time in words: `segunda-feira, 2 de março de 2026, às 08:00`; with
/// `offset` (the later of a repeated hour, see `Consulta::inicio_offset`) the UTC offset
/// follows, so the two 01:30s of a night can be told apart.
pub fn quando(dt: DateTime, offset: Option<Offset>) -> String {
    let mut s = format!(
        "{}, às {:02}:{:02}",
        crate::domain::extenso::data(dt.date()),
        dt.hour(),
        dt.minute()
    );
    if let Some(o) = offset {
        let secs = o.seconds();
        let sinal = if secs < 0 { '-' } else { '+' };
        let m = secs.unsigned_abs() / 60;
        let _ = write!(s, " (UTC{sinal}{:02}:{:02})", m / 60, m % 60);
    }
    s
}

/// `02/03/2026 às 08:00`, for subjects.
pub fn curto(dt: DateTime) -> String {
    dt.strftime("%d/%m/%Y às %H:%M").to_string()
}

/// An RFC 3339 instant (as records store them) in the clinic's zone, in words; the text
/// itself if it does not parse.
pub fn instante(rfc3339: &str, tz: &TimeZone) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) => quando(t.to_zoned(tz.clone()).datetime(), None),
        Err(_) => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            esc(r#"<script>alert('x') & "y"</script>"#),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn writes_clinic_local_times_in_portuguese() {
        let dt: DateTime = "2026-03-02T08:00:00".parse().expect("dt");
        assert_eq!(
            quando(dt, None),
            "segunda-feira, 2 de março de 2026, às 08:00"
        );
        assert_eq!(curto(dt), "02/03/2026 às 08:00");
        let sab: DateTime = "2026-11-07T14:30:00".parse().expect("dt");
        let o = Offset::from_seconds(-3 * 3600).expect("offset");
        assert_eq!(
            quando(sab, Some(o)),
            "sábado, 7 de novembro de 2026, às 14:30 (UTC-03:00)"
        );
        let tz = TimeZone::get("America/Sao_Paulo").expect("tz");
        assert_eq!(
            instante("2026-03-02T11:15:00+00:00", &tz),
            "segunda-feira, 2 de março de 2026, às 08:15"
        );
    }
}
