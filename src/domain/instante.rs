//! Clinic-local dates and datetimes (SPEC "words used"): parsing the accepted input forms,
//! the clock that knows the clinic's time zone, and [`Momento`], a clinic-local datetime
//! pinned to one instant so that daylight-saving changes are handled (a local time in the
//! spring-forward gap does not exist; one in the fall-back fold happens twice).

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
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
        self.stamp_at(Timestamp::now())
    }

    /// An instant as RFC 3339 with the clinic's offset.
    pub fn stamp_at(&self, t: Timestamp) -> String {
        t.to_zoned(self.tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    /// An instant as `YYYYMMDD_HHMMSS` in the clinic's zone, for backup and report names.
    pub fn file_stamp(&self, t: Timestamp) -> String {
        t.to_zoned(self.tz.clone())
            .strftime("%Y%m%d_%H%M%S")
            .to_string()
    }
}

/// Drops sub-second precision: the API speaks whole seconds.
fn truncate(dt: DateTime) -> DateTime {
    dt.with().subsec_nanosecond(0).build().unwrap_or(dt)
}

/// The schema pattern of a datetime input: clinic-local `YYYY-MM-DDTHH:MM[:SS[.f]]`, or
/// with an offset (`Z`, `±HH:MM`).
pub const DATETIME_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$";
/// The schema pattern of a date: `YYYY-MM-DD`.
pub const DATE_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// Whether `s` has the shape of [`DATETIME_PATTERN`] (the calendar is checked by jiff).
fn datetime_shape(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let head = b.len() >= 16
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't' | b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16);
    if !head {
        return false;
    }
    let mut i = 16;
    if b.get(i) == Some(&b':') {
        if !digits(i + 1..i + 3) {
            return false;
        }
        i += 3;
        if b.get(i) == Some(&b'.') {
            let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if !(1..=9).contains(&n) {
                return false;
            }
            i += 1 + n;
        }
    }
    match &b[i..] {
        [] | [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// Parses a clinic-local datetime: `YYYY-MM-DDTHH:MM[:SS[.fff]]`, or an RFC 3339 instant
/// with an offset (converted to the clinic's zone), exactly [`DATETIME_PATTERN`].
/// Fractional seconds are dropped.
pub fn parse_datetime(s: &str, tz: &TimeZone) -> Result<DateTime, &'static str> {
    const ERR: &str = "data e hora inválidas: use AAAA-MM-DDTHH:MM:SS";
    if !datetime_shape(s) {
        return Err(ERR);
    }
    let has_offset = s.len() > 16 && (s.ends_with(['Z', 'z']) || s[16..].contains(['+', '-']));
    let dt = if has_offset {
        s.parse::<Timestamp>()
            .map_err(|_| ERR)?
            .to_zoned(tz.clone())
            .datetime()
    } else {
        s.parse::<DateTime>().map_err(|_| ERR)?
    };
    Ok(truncate(dt))
}

/// A clinic-local datetime and the one instant it stands for in the clinic's zone. Times are
/// shown by `local` (the wire format stays clinic-local) and compared by `instante`.
///
/// A naive local time in a daylight-saving fold (the repeated hour when clocks go back)
/// means its *earlier* occurrence; the later one is reached by sending an RFC 3339 offset
/// and is remembered by storing that offset ([`Momento::fold_offset`]). A naive local time
/// in a gap (the hour skipped when clocks go forward) does not exist: input is refused,
/// and a stored one (recorded before this rule) is read as jiff's "compatible" instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Momento {
    /// The clinic-local datetime, to the second.
    pub local: DateTime,
    /// The instant, to the second.
    pub instante: Timestamp,
}

/// Why a naive local time in a daylight-saving gap is refused.
pub const GAP_ERR: &str =
    "esse horário não existe no fuso da clínica (o relógio é adiantado na mudança de horário)";

impl Momento {
    /// A naive local time from a client: a gap time is an error, a fold time is its earlier
    /// occurrence.
    pub fn resolve(local: DateTime, tz: &TimeZone) -> Result<Self, &'static str> {
        let amb = tz.to_ambiguous_timestamp(local);
        if let AmbiguousOffset::Gap { .. } = amb.offset() {
            return Err(GAP_ERR);
        }
        let instante = amb.earlier().map_err(|_| GAP_ERR)?;
        Ok(Self { local, instante })
    }

    /// A stored local time: exactly `offset` when one was stored (the later occurrence of a
    /// fold), else the earlier occurrence of a fold, or the compatible instant of a gap.
    pub fn stored(local: DateTime, offset: Option<Offset>, tz: &TimeZone) -> Self {
        let amb = tz.to_ambiguous_timestamp(local);
        let instante = offset
            .and_then(|o| o.to_timestamp(local).ok())
            .or_else(|| amb.compatible().ok())
            .unwrap_or(Timestamp::MIN);
        Self { local, instante }
    }

    /// The moment of an instant, in the clinic's zone (sub-seconds dropped).
    pub fn at(t: Timestamp, tz: &TimeZone) -> Self {
        let instante = Timestamp::from_second(t.as_second()).unwrap_or(t);
        Self {
            local: truncate(instante.to_zoned(tz.clone()).datetime()),
            instante,
        }
    }

    /// The offset to store beside `local` so it reads back as this instant: only for the
    /// later occurrence of a fold (a naive read gives the earlier one).
    pub fn fold_offset(&self, tz: &TimeZone) -> Option<Offset> {
        match tz.to_ambiguous_timestamp(self.local).offset() {
            AmbiguousOffset::Fold { before, after } => {
                let off = tz.to_offset(self.instante);
                (off == after && before != after).then_some(off)
            }
            _ => None,
        }
    }
}

/// Parses a datetime as [`parse_datetime`] does, keeping the instant: with an RFC 3339
/// offset that exact instant (which picks the occurrence in a fold), without one the
/// naive local time resolved by [`Momento::resolve`] (a gap time is refused).
pub fn parse_momento(s: &str, tz: &TimeZone) -> Result<Momento, &'static str> {
    const ERR: &str = "data e hora inválidas: use AAAA-MM-DDTHH:MM:SS";
    if !datetime_shape(s) {
        return Err(ERR);
    }
    let has_offset = s.len() > 16 && (s.ends_with(['Z', 'z']) || s[16..].contains(['+', '-']));
    if has_offset {
        let t = s.parse::<Timestamp>().map_err(|_| ERR)?;
        Ok(Momento::at(t, tz))
    } else {
        Momento::resolve(truncate(s.parse::<DateTime>().map_err(|_| ERR)?), tz)
    }
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Result<Date, &'static str> {
    let t = s;
    let b = t.as_bytes();
    if t.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
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
            "2026-03-02T08:00:00+0300",
            "2026-03-02T08:00:00.",
            "2026-03-02 08:00 ",
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

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").expect("tzdb has New York")
    }

    #[test]
    fn a_gap_time_is_refused_and_a_fold_time_is_the_earlier_unless_an_offset_says_otherwise() {
        let tz = ny();
        // 2027-03-14: 02:00 EST jumps to 03:00 EDT. 2027-11-07: 02:00 EDT goes back to 01:00 EST.
        assert_eq!(parse_momento("2027-03-14T02:30:00", &tz), Err(GAP_ERR));
        assert!(parse_momento("2027-03-14T03:00:00", &tz).is_ok());
        let naive = parse_momento("2027-11-07T01:30:00", &tz).expect("fold time");
        let edt = parse_momento("2027-11-07T01:30:00-04:00", &tz).expect("EDT");
        let est = parse_momento("2027-11-07T01:30:00-05:00", &tz).expect("EST");
        assert_eq!(naive, edt, "naive = earlier occurrence");
        assert_eq!(edt.local, est.local);
        assert_eq!(est.instante.duration_since(edt.instante).as_secs(), 3600);
        assert_eq!(edt.fold_offset(&tz), None);
        let off = est
            .fold_offset(&tz)
            .expect("later occurrence keeps its offset");
        assert_eq!(Momento::stored(est.local, Some(off), &tz), est);
        assert_eq!(Momento::stored(est.local, None, &tz), edt);
        // São Paulo has no daylight saving: nothing is ambiguous.
        let m = parse_momento("2027-11-07T01:30:00", &sp()).expect("sp");
        assert_eq!(m.fold_offset(&sp()), None);
    }

    #[test]
    fn dates() {
        assert!(parse_date("2026-02-28").is_ok());
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("2026-2-3").is_err());
    }
}
