//! Text helpers: accent- and case-insensitive folding (for search and day names) and the
//! trimmed, length-checked name type.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lower-cases `s` and strips its accents (`"Terça"` → `"terca"`), for comparisons that
/// must ignore both, as SPEC §2 asks of searches and day names.
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whitespace: Unicode White_Space, exactly the characters of [`WHITESPACE_CLASS`].
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// The characters [`is_space`] accepts, as a regex class body for the published schema
/// (spelled out: `\s` means different things to different regex engines).
pub const WHITESPACE_CLASS: &str =
    r"\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// Schema pattern: contains a character that is not whitespace.
pub fn not_blank_pattern() -> String {
    format!("[^{WHITESPACE_CLASS}]")
}

/// Schema pattern of a [`Nome`]: 1..=200 characters once leading and trailing whitespace is
/// trimmed (SPEC §2 counts after trimming, so padding does not count).
pub fn nome_pattern() -> String {
    let ws = WHITESPACE_CLASS;
    let max_inner = Nome::MAX - 2;
    format!("^[{ws}]*(?:[^{ws}]|[^{ws}][\\s\\S]{{0,{max_inner}}}[^{ws}])[{ws}]*$")
}

/// `s` without leading and trailing [`is_space`] characters.
pub fn trim(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// A person's name: 1..=200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nome(String);

impl Nome {
    /// Maximum length in characters, after trimming.
    pub const MAX: usize = 200;

    /// Trims `s`, composes it (Unicode NFC: "João" pasted as `a` + U+0303 becomes one `ã`,
    /// as the PDF report can print it and as a length counts it) and checks its length.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        use unicode_normalization::UnicodeNormalization as _;
        let t: String = trim(s).nfc().collect();
        if t.is_empty() {
            Err("não pode ser vazio")
        } else if t.chars().count() > Self::MAX {
            Err("deve ter no máximo 200 caracteres")
        } else {
            Ok(Self(t))
        }
    }

    /// The trimmed name.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Longest accepted `observacoes` of an appointment.
pub const MAX_OBS: usize = 2000;

/// A doctor's speciality: trimmed, not empty, at most 100 characters.
pub fn especialidade(s: &str) -> Result<String, &'static str> {
    match trim(s) {
        "" => Err("não pode ser vazia"),
        t if t.chars().count() > 100 => Err("deve ter no máximo 100 caracteres"),
        t => Ok(t.to_owned()),
    }
}

/// A patient's insurance plan: trimmed, `""` allowed, at most 100 characters.
pub fn convenio(s: &str) -> Result<String, &'static str> {
    texto_opcional(Some(s), 100)
        .map(Option::unwrap_or_default)
        .map_err(|_| "deve ter no máximo 100 caracteres")
}

/// An optional free-text field: trimmed, `""` means absent, at most `max` characters.
pub fn texto_opcional(s: Option<&str>, max: usize) -> Result<Option<String>, String> {
    match s {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > max => Err(format!("deve ter no máximo {max} caracteres")),
        Some(t) => Ok(Some(trim(t).to_owned()).filter(|t| !t.is_empty())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_strips_accents_and_case() {
        assert_eq!(fold("Terça"), "terca");
        assert_eq!(fold("SÁBADO"), "sabado");
        assert_eq!(fold("João Conceição"), "joao conceicao");
    }

    #[test]
    fn nome_is_trimmed_and_bounded() {
        assert_eq!(
            Nome::parse("  Ana  ").map(Nome::into_inner),
            Ok("Ana".into())
        );
        assert!(Nome::parse("   ").is_err());
        assert!(Nome::parse(&"a".repeat(201)).is_err());
        assert!(Nome::parse(&"ã".repeat(200)).is_ok());
        // Decomposed ("a" + combining tilde, as pasted from some sources) is composed.
        assert_eq!(
            Nome::parse("Joa\u{303}o").map(Nome::into_inner),
            Ok("João".to_owned())
        );
        assert!(
            Nome::parse(&"a\u{303}".repeat(200)).is_ok(),
            "200 characters once composed"
        );
        // SPEC §2: the limit applies after trimming, so padding does not count.
        let padded = format!("  {}  ", "a".repeat(200));
        assert_eq!(Nome::parse(&padded).map(|n| n.into_inner().len()), Ok(200));
    }

    #[test]
    fn texto_opcional_treats_empty_as_absent() {
        assert_eq!(texto_opcional(Some("  "), 10), Ok(None));
        assert_eq!(texto_opcional(None, 10), Ok(None));
        assert_eq!(texto_opcional(Some(" x "), 10), Ok(Some("x".into())));
        assert!(texto_opcional(Some("abc"), 2).is_err());
    }
}
