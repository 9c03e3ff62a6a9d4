//! Time of day as `HH:MM`, kept as minutes since midnight for cheap slot arithmetic.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A time of day with minute precision (`00:00`..=`23:59`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hora(u16);

impl Hora {
    /// Midnight.
    pub const MIN: Self = Self(0);
    /// 23:59.
    pub const MAX: Self = Self(23 * 60 + 59);

    /// The schema pattern: `HH:MM`, optionally with `:00` seconds.
    pub const PATTERN: &'static str = r"^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$";

    /// Parses exactly [`Hora::PATTERN`].
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        const ERR: &str = "hora inválida: use HH:MM";
        let t = s;
        let mut parts = t.split(':');
        let h = parts.next().ok_or(ERR)?;
        let m = parts.next().ok_or(ERR)?;
        let sec_ok = match parts.next() {
            None => true,
            Some(sec) => sec == "00",
        };
        let num = |p: &str, max: u16| -> Option<u16> {
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok().filter(|v| *v <= max)
        };
        match (num(h, 23), num(m, 59), parts.next(), sec_ok && m.len() == 2) {
            (Some(h), Some(m), None, true) => Ok(Self(h * 60 + m)),
            _ => Err(ERR),
        }
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// The civil time, for date arithmetic.
    pub fn to_time(self) -> jiff::civil::Time {
        jiff::civil::Time::constant((self.0 / 60) as i8, (self.0 % 60) as i8, 0, 0)
    }
}

impl fmt::Display for Hora {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for Hora {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hora {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_hh_mm() {
        assert_eq!(
            Hora::parse("08:30").map(|h| h.to_string()),
            Ok("08:30".into())
        );
        assert_eq!(Hora::parse("08:05").map(|h| h.minutes()), Ok(485));
        assert_eq!(Hora::parse("23:59:00").map(|h| h.minutes()), Ok(1439));
    }

    #[test]
    fn rejects_bad_times() {
        for bad in [
            "24:00", "12:60", "12", "12:5", "ab:cd", "12:00:30", "", "-1:00", "1:2:3:4", "8:05",
            " 08:00",
        ] {
            assert!(Hora::parse(bad).is_err(), "{bad}");
        }
    }
}
