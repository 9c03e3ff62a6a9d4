//! Clinic-local dates and datetimes (SPEC "words used"): parsing the accepted input forms
//! and the clock that knows the clinic's time zone.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The clinic's clock: now and today in its configured time zone.
#[derive(Debug, Clone)]
pub struct Relogio {
    tz: TimeZone,
}

impl Relogio {
    /// A clock in the given zone.
    pub fn new(tz: TimeZone) -> Self {
        Self { tz }
    }

    /// The clinic's time zone.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// Now, as a zoned datetime in the clinic's zone.
    pub fn now(&self) -> Zoned {
        Timestamp::now().to_zoned(self.tz.clone())
    }

    /// Now as a clinic-local datetime, to the second.
    pub fn now_local(&self) -> DateTime {
        truncate(self.now().datetime())
    }

    /// Today's date in the clinic.
    pub fn today(&self) -> Date {
        self.now().date()
    }

    /// Now as RFC 3339 with the clinic's offset, for `created_at`/`updated_at`.
    pub fn stamp(&self) -> String {
        self.now().strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// Drops sub-second precision: the API speaks whole seconds.
fn truncate(dt: DateTime) -> DateTime {
    dt.with().subsec_nanosecond(0).build().unwrap_or(dt)
}

/// Parses a clinic-local datetime: `YYYY-MM-DDTHH:MM[:SS[.fff]]`, or an RFC 3339 instant
/// with an offset (converted to the clinic's zone). Fractional seconds are dropped.
pub fn parse_datetime(s: &str, tz: &TimeZone) -> Result<DateTime, &'static str> {
    const ERR: &str = "data e hora inválidas: use AAAA-MM-DDTHH:MM:SS";
    let t = s.trim();
    // Only the time part can carry an offset; the date part has dashes of its own.
    let has_offset = t
        .get(10..)
        .is_some_and(|rest| rest.ends_with(['Z', 'z']) || rest.contains(['+', '-']));
    if t.len() < 16 || !t.is_char_boundary(10) || !matches!(t.as_bytes()[10], b'T' | b't' | b' ') {
        return Err(ERR);
    }
    let dt = if has_offset {
        t.parse::<Timestamp>()
            .map_err(|_| ERR)?
            .to_zoned(tz.clone())
            .datetime()
    } else {
        t.parse::<DateTime>().map_err(|_| ERR)?
    };
    Ok(truncate(dt))
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Result<Date, &'static str> {
    let t = s.trim();
    if t.len() != 10 {
        return Err("data inválida: use AAAA-MM-DD");
    }
    t.parse::<Date>()
        .map_err(|_| "data inválida: use AAAA-MM-DD")
}

/// Formats a clinic-local datetime as `YYYY-MM-DDTHH:MM:SS`.
pub fn format_datetime(dt: DateTime) -> String {
    dt.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp() -> TimeZone {
        TimeZone::get("America/Sao_Paulo").expect("tzdb has Sao Paulo")
    }

    #[test]
    fn accepts_the_input_forms() {
        let tz = sp();
        for (input, want) in [
            ("2026-03-02T08:00:00", "2026-03-02T08:00:00"),
            ("2026-03-02T08:00", "2026-03-02T08:00:00"),
            ("2026-03-02T08:00:00.123", "2026-03-02T08:00:00"),
            ("2026-03-02T11:00:00Z", "2026-03-02T08:00:00"),
            ("2026-03-02T08:00:00-03:00", "2026-03-02T08:00:00"),
            ("2026-03-02T12:00:00+01:00", "2026-03-02T08:00:00"),
        ] {
            let got = parse_datetime(input, &tz).map(format_datetime);
            assert_eq!(got.as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_bad_datetimes() {
        let tz = sp();
        for bad in [
            "2026-03-02",
            "2026-02-30T08:00:00",
            "amanhã",
            "2026-03-02T25:00",
            "",
            "2026-03-02X08:00",
        ] {
            assert!(parse_datetime(bad, &tz).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert!(parse_date("2026-02-28").is_ok());
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("2026-2-3").is_err());
    }
}
