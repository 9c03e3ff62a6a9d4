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

/// A person's name: 1..=200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nome(String);

impl Nome {
    /// Maximum length in characters, after trimming.
    pub const MAX: usize = 200;

    /// Trims `s` and checks its length.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let t = s.trim();
        match t.chars().count() {
            0 => Err("não pode ser vazio"),
            n if n > Self::MAX => Err("deve ter no máximo 200 caracteres"),
            _ => Ok(Self(t.to_owned())),
        }
    }

    /// The trimmed name.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An optional free-text field: trimmed, `""` means absent, at most `max` characters.
pub fn texto_opcional(s: Option<&str>, max: usize) -> Result<Option<String>, String> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > max => Err(format!("deve ter no máximo {max} caracteres")),
        Some(t) => Ok(Some(t.to_owned())),
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
    }

    #[test]
    fn texto_opcional_treats_empty_as_absent() {
        assert_eq!(texto_opcional(Some("  "), 10), Ok(None));
        assert_eq!(texto_opcional(None, 10), Ok(None));
        assert_eq!(texto_opcional(Some(" x "), 10), Ok(Some("x".into())));
        assert!(texto_opcional(Some("abc"), 2).is_err());
    }
}
