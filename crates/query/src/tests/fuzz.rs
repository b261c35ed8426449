//! Random and hostile input: `parse` must return (never panic), and an error
//! position must be a char boundary inside the query.

use super::run;

/// xorshift64: enough randomness for input generation, no extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        // n is small; the modulo bias does not matter here.
        (self.next() % n as u64) as usize
    }
}

/// Fragments that exercise every branch of the lexer and parser.
const FRAGMENTS: &[&str] = &[
    " ",
    "  ",
    "\t",
    "\n",
    "\u{3000}",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "\\",
    ":",
    "*",
    "?",
    "~",
    "^",
    "/",
    "!",
    "+",
    "-",
    "&&",
    "||",
    "&",
    "|",
    "=",
    "AND",
    "OR",
    "NOT",
    "TO",
    "and",
    "_exists_",
    "*:*",
    "name",
    "email",
    "email.domain",
    "logins_count",
    "created_at",
    "last_login",
    "blocked",
    "user_metadata",
    "app_metadata",
    "user_metadata.a",
    ".",
    "..",
    "identities.isSocial",
    "user_id",
    "jane",
    "J",
    "ab",
    "usa",
    "0",
    "1",
    "-1",
    "99999999999999999999",
    "true",
    "false",
    "2017",
    "2017-12",
    "2017-12-31",
    "T10:30",
    ":00",
    ".123",
    "Z",
    "+02:00",
    "é",
    "É",
    "日本",
    "🦀",
    "\u{0301}",
    "İ",
    "ß",
    "\u{feff}",
    "\u{0}",
    "\u{7f}",
    "\\\"",
    "\\ ",
    "\\*",
    "\\:",
];

fn check(q: &str) {
    if let Err(e) = run(q) {
        assert!(e.position <= q.len() && q.is_char_boundary(e.position), "bad position {} for {q:?}: {e}", e.position);
        assert!(!e.message.is_empty(), "empty message for {q:?}");
    }
}

#[test]
fn fragment_soup_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..30_000 {
        let len = rng.below(24);
        let mut q = String::new();
        for _ in 0..len {
            q.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
        }
        check(&q);
    }
}

#[test]
fn random_chars_never_panic() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    for _ in 0..30_000 {
        let len = rng.below(40);
        let mut q = String::new();
        for _ in 0..len {
            let c = match rng.below(4) {
                // Mostly ASCII, where the syntax lives.
                0 | 1 => char::from(rng.below(0x80) as u8),
                // Any scalar value; surrogates are skipped by from_u32.
                2 => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{fffd}'),
                _ => ['日', 'é', '🦀', '\u{3000}', '\u{2028}', 'İ'][rng.below(6)],
            };
            q.push(c);
        }
        check(&q);
    }
}

#[test]
fn hostile_inputs_never_panic() {
    let long_word = "a".repeat(100_000);
    let long_phrase = format!("name:\"{}\"", "é".repeat(50_000));
    let many_stars = format!("name:{}", "*".repeat(10_000));
    let many_pieces = format!("name:{}", "ab*".repeat(10_000));
    let unclosed = "\"".repeat(10_001);
    let backslashes = "\\".repeat(10_001);
    let colons = ":".repeat(10_000);
    let deep_mix = "NOT (!".repeat(10_000);
    let brackets = "[".repeat(10_000);
    for q in [
        long_word.as_str(),
        &long_phrase,
        &many_stars,
        &many_pieces,
        &unclosed,
        &backslashes,
        &colons,
        &deep_mix,
        &brackets,
        "name:\"🦀",
        "🦀:🦀",
        "name:🦀?",
        "created_at:２０２０",
        "created_at:2020-01-15T10:30:05.1🦀",
        "logins_count:[🦀 TO *]",
        "_exists_:🦀",
        "\\🦀",
        "é\\",
    ] {
        check(q);
    }
}
