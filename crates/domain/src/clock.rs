//! Time as the rest of castellan sees it: an injectable clock in unix
//! milliseconds, and Auth0's timestamp format (ISO-8601 UTC with millis).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub trait Clock: Send + Sync + 'static {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock tests can freeze and advance.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<AtomicI64>);

impl FixedClock {
    pub fn new(ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(ms)))
    }
    pub fn advance_ms(&self, by: i64) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The latest instant the fast paths below write and read (the end of
/// year 9999); chrono handles the rest.
const FAST_MAX_MS: i64 = 253_402_300_799_999;

/// `2023-01-25T19:00:26.187Z`
pub fn format_ms(ms: i64) -> String {
    if (0..=FAST_MAX_MS).contains(&ms) {
        // Every event and every user write formats a time: digits written
        // straight into the buffer instead of through chrono's formatter
        // (a tenth of a log event's cost on the token path).
        let mut out = *b"0000-00-00T00:00:00.000Z";
        fill(&mut out, ms, [0..4, 5..7, 8..10, 11..13, 14..16, 17..19, 20..23]);
        return out.iter().map(|&b| b as char).collect();
    }
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// `yyyyMMddHHmmssSSS` of `ms` (log ids start with it), or None outside
/// years 0000–9999.
pub fn compact_ms(ms: i64) -> Option<String> {
    if !(0..=FAST_MAX_MS).contains(&ms) {
        return None;
    }
    let mut out = [b'0'; 17];
    fill(&mut out, ms, [0..4, 4..6, 6..8, 8..10, 10..12, 12..14, 14..17]);
    Some(out.iter().map(|&b| b as char).collect())
}

/// Parses the format written by [`format_ms`] (and any RFC 3339 time).
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    if let Some(ms) = parse_exact(s.as_bytes()) {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis())
}

/// `format_ms`'s own shape (`YYYY-MM-DDTHH:MM:SS.mmmZ`, a valid date),
/// read without chrono; None for anything else.
fn parse_exact(b: &[u8]) -> Option<i64> {
    if b.len() != 24 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if b[19] != b'.' || b[23] != b'Z' {
        return None;
    }
    read(b, [0..4, 5..7, 8..10, 11..13, 14..16, 17..19, 20..23])
}

/// Reads back what [`compact_ms`] writes (`yyyyMMddHHmmssSSS`, a valid
/// date); None for anything else.
pub fn parse_compact_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 17 {
        return None;
    }
    read(b, [0..4, 4..6, 6..8, 8..10, 10..12, 12..14, 14..17])
}

/// The instant whose year, month, day, hour, minute, second and
/// millisecond are the decimal digits of `b` at `at` (what `fill` wrote);
/// None unless every one is digits and they make a valid time.
fn read(b: &[u8], at: [std::ops::Range<usize>; 7]) -> Option<i64> {
    let [y, mo, d, h, mi, s, milli] =
        at.map(|r| b[r].iter().try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))));
    let (y, mo, d, h, mi, s, milli) = (y?, mo?, d?, h?, mi?, s?, milli?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + milli)
}

/// Days in `month` (1..=12) of `year`, proleptic Gregorian.
pub fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`m` in 1..=12).
/// Years are counted from March, so that the leap day ends a year; 400
/// years are 146,097 days, and 719,468 days separate 0000-03-01 from
/// 1970-01-01.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (m + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Year, month, day.
type Date = (i64, i64, i64);
/// Hour, minute, second, millisecond.
type Time = (i64, i64, i64, i64);

/// The date and time of a non-negative `ms`; the inverse of
/// `days_from_civil`.
fn civil(ms: i64) -> (Date, Time) {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let m = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let y = year_of_era + era * 400 + i64::from(m <= 2);
    let time = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    ((y, m, d), time)
}

/// Writes year, month, day, hour, minute, second and millisecond of `ms`
/// into `out` at `at` (one range each, zero-padded).
fn fill(out: &mut [u8], ms: i64, at: [std::ops::Range<usize>; 7]) {
    let ((y, mo, d), (h, mi, s, milli)) = civil(ms);
    for (range, v) in at.into_iter().zip([y, mo, d, h, mi, s, milli]) {
        digits(&mut out[range], v as u64);
    }
}

/// `v` in decimal, zero-padded to fill `out`.
fn digits(out: &mut [u8], mut v: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_z() {
        assert_eq!(format_ms(1_674_673_226_187), "2023-01-25T19:00:26.187Z");
        assert_eq!(parse_iso_ms("2023-01-25T19:00:26.187Z"), Some(1_674_673_226_187));
    }

    /// The fast paths agree with chrono: every day boundary of the years
    /// around leap rules (1900, 2000, 2100), random instants up to year
    /// 9999, and both ends of the range.
    #[test]
    fn fast_paths_agree_with_chrono() {
        let slow_format = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        };
        let slow_compact =
            |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y%m%d%H%M%S%3f").to_string());
        let mut instants = vec![0, 1, 999, 86_399_999, 86_400_000, FAST_MAX_MS, FAST_MAX_MS - 1];
        for year_start in [-2_208_988_800_000i64, 946_684_800_000, 4_102_444_800_000] {
            for day in -400..800 {
                let ms = year_start + day * 86_400_000;
                instants.extend([ms, ms - 1, ms + 45_296_789]);
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            instants.push((x % (FAST_MAX_MS as u64 + 1)) as i64);
        }
        for ms in instants.into_iter().filter(|ms| *ms >= 0) {
            let text = format_ms(ms);
            assert_eq!(Some(text.clone()), slow_format(ms), "format_ms({ms})");
            assert_eq!(compact_ms(ms), slow_compact(ms), "compact_ms({ms})");
            assert_eq!(parse_iso_ms(&text), Some(ms), "parse_iso_ms({text})");
            assert_eq!(parse_exact(text.as_bytes()), Some(ms), "parse_exact({text})");
        }
        // Outside the fast range: chrono's answers.
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(compact_ms(-1), None);
        assert_eq!(compact_ms(FAST_MAX_MS + 1), None);
        // Not the exact shape, or not a real date: left to chrono, which
        // takes what RFC 3339 allows and refuses the rest.
        for (text, want) in [
            ("2023-02-29T00:00:00.000Z", None),
            ("2100-02-29T00:00:00.000Z", None),
            ("2000-02-29T00:00:00.000Z", Some(951_782_400_000)),
            ("2024-02-29T00:00:00.000Z", Some(1_709_164_800_000)),
            ("2023-01-25T24:00:00.000Z", None),
            ("2023-13-01T00:00:00.000Z", None),
            ("2023-01-25T19:00:26.187+01:00", Some(1_674_669_626_187)),
            ("2023-01-25T19:00:26Z", Some(1_674_673_226_000)),
            ("2023-01-2aT19:00:26.187Z", None),
            ("", None),
        ] {
            assert_eq!(parse_iso_ms(text), want, "{text}");
        }
    }

    #[test]
    fn fixed_clock_advances() {
        let c = FixedClock::new(10);
        c.advance_ms(5);
        assert_eq!(c.now_ms(), 15);
    }
}
