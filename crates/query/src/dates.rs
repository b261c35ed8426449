//! Dates: reads the ISO-8601 subset search accepts and turns it into the period of
//! time it denotes, in unix milliseconds UTC.
//!
//! Accepted: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`,
//! `YYYY-MM-DDTHH:MM:SS`, `YYYY-MM-DDTHH:MM:SS.f` (1 to 3 fraction digits), each of
//! the forms with a time optionally followed by `Z`. `T` and `Z` may be lower-case.
//! Offsets other than `Z` are rejected. A value's period is as long as its
//! precision: a year, a month, a day, a minute, a second, or a millisecond when a
//! fraction is given.

use castellan_domain::clock::{days_from_civil, days_in_month};

const MS_PER_DAY: i64 = 86_400_000;

/// `[start, end)` in unix milliseconds UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    pub start: i64,
    pub end: i64,
}

/// Parses `s`, or `None` when it is not an accepted date.
pub(crate) fn parse(s: &str) -> Option<Period> {
    let mut c = Cursor { b: s.as_bytes(), i: 0 };
    let year = c.digits(4)?;
    if c.done() {
        return Some(Period { start: day_ms(year, 1, 1), end: day_ms(year + 1, 1, 1) });
    }
    c.eat(b'-').then_some(())?;
    let month = c.digits(2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    if c.done() {
        let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
        return Some(Period { start: day_ms(year, month, 1), end: day_ms(next_year, next_month, 1) });
    }
    c.eat(b'-').then_some(())?;
    let day = c.digits(2)?;
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let midnight = day_ms(year, month, day);
    if c.done() {
        return Some(Period { start: midnight, end: midnight + MS_PER_DAY });
    }
    (c.eat(b'T') || c.eat(b't')).then_some(())?;
    let hour = c.digits(2)?;
    c.eat(b':').then_some(())?;
    let minute = c.digits(2)?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut start = midnight + (hour * 60 + minute) * 60_000;
    let mut length = 60_000;
    if c.eat(b':') {
        let second = c.digits(2)?;
        if second > 59 {
            return None;
        }
        start += second * 1000;
        length = 1000;
        if c.eat(b'.') {
            let (fraction, digits) = c.fraction()?;
            start += fraction * 10_i64.pow(3 - digits);
            length = 1;
        }
    }
    let _ = c.eat(b'Z') || c.eat(b'z');
    if !c.done() {
        return None;
    }
    Some(Period { start, end: start + length })
}

/// Reads ASCII digits from a byte string.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }

    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        if self.b.get(self.i) == Some(&byte) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` digits as a number.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut value = 0_i64;
        for _ in 0..n {
            let d = self.b.get(self.i).filter(|b| b.is_ascii_digit())?;
            value = value * 10 + i64::from(d - b'0');
            self.i += 1;
        }
        Some(value)
    }

    /// 1 to 3 digits: their value and how many there were.
    fn fraction(&mut self) -> Option<(i64, u32)> {
        let mut value = 0_i64;
        let mut count = 0_u32;
        while let Some(d) = self.b.get(self.i).filter(|b| b.is_ascii_digit()) {
            if count == 3 {
                return None;
            }
            value = value * 10 + i64::from(d - b'0');
            count += 1;
            self.i += 1;
        }
        (count > 0).then_some((value, count))
    }
}

/// Unix milliseconds at midnight UTC starting `year-month-day` (proleptic
/// Gregorian calendar; `month` in 1..=12).
fn day_ms(year: i64, month: i64, day: i64) -> i64 {
    days_from_civil(year, month, day) * MS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(day_ms(1970, 1, 1), 0);
        assert_eq!(day_ms(2000, 3, 1), 951_868_800_000);
        assert_eq!(day_ms(2020, 1, 15), 1_579_046_400_000);
        assert_eq!(day_ms(1969, 12, 31), -MS_PER_DAY);
        assert_eq!(day_ms(0, 1, 1), -62_167_219_200_000);
    }

    #[test]
    fn periods() {
        let p = |s: &str| parse(s).map(|p| (p.start, p.end));
        assert_eq!(p("2020"), Some((1_577_836_800_000, 1_609_459_200_000)));
        assert_eq!(p("2020-02"), Some((1_580_515_200_000, 1_583_020_800_000)));
        assert_eq!(p("2020-12"), Some((1_606_780_800_000, 1_609_459_200_000)));
        assert_eq!(p("2020-02-29"), Some((1_582_934_400_000, 1_583_020_800_000)));
        assert_eq!(p("2020-01-15T10:30"), Some((1_579_084_200_000, 1_579_084_260_000)));
        assert_eq!(p("2020-01-15T10:30:05Z"), Some((1_579_084_205_000, 1_579_084_206_000)));
        assert_eq!(p("2020-01-15t10:30:05.5z"), Some((1_579_084_205_500, 1_579_084_205_501)));
        assert_eq!(p("2020-01-15T10:30:05.123"), Some((1_579_084_205_123, 1_579_084_205_124)));
    }

    #[test]
    fn rejects() {
        for s in [
            "",
            "20",
            "20200",
            "2020-",
            "2020-1",
            "2020-00",
            "2020-13",
            "2021-02-29",
            "2020-04-31",
            "2020-01-00",
            "2020-01-15T",
            "2020-01-15T10",
            "2020-01-15T24:00",
            "2020-01-15T10:60",
            "2020-01-15T10:30:60",
            "2020-01-15T10:30:05.",
            "2020-01-15T10:30:05.1234",
            "2020-01-15T10:30+02:00",
            "2020-01-15Z",
            "2020-01-15 10:30",
            "２０２０",
            "2020-01-15T10:30ZZ",
            "+2020",
            "-001",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }
}
