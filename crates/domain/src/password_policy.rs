//! Auth0's database-connection password policies.
//!
//! Levels (Auth0 docs, "Password Strength in Auth0 Database Connections"):
//! - none: at least 1 character
//! - low: at least 6 characters
//! - fair: at least 8, with lower-case, upper-case and digits
//! - good: at least 8, with 3 of the 4 kinds (lower, upper, digit, special)
//! - excellent: at least 10, 3 of the 4 kinds, no more than 2 identical
//!   characters in a row
//!
//! `min_length` from the connection's `password_complexity_options` raises the
//! level's minimum. Passwords are limited to 72 bytes (bcrypt's input).

use serde::{Deserialize, Serialize};

use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PolicyLevel {
    None,
    Low,
    Fair,
    #[default]
    Good,
    Excellent,
}

impl PolicyLevel {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Self::None,
            "low" => Self::Low,
            "fair" => Self::Fair,
            "good" => Self::Good,
            "excellent" => Self::Excellent,
            _ => return None,
        })
    }
    fn base_min_len(self) -> usize {
        match self {
            Self::None => 1,
            Self::Low => 6,
            Self::Fair | Self::Good => 8,
            Self::Excellent => 10,
        }
    }
}

pub const MAX_PASSWORD_BYTES: usize = 72;

/// The character classes are ASCII-only, as in Auth0's password-sheriff:
/// `[a-z]`, `[A-Z]`, digits, and this OWASP list of specials (space included).
pub const SPECIAL: &str = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

pub fn check(level: PolicyLevel, min_length: Option<usize>, password: &str) -> Result<(), DomainError> {
    let min = level.base_min_len().max(min_length.unwrap_or(0));
    if password.chars().count() < min || password.len() > MAX_PASSWORD_BYTES {
        return Err(DomainError::PasswordTooWeak);
    }
    let lower = password.chars().any(|c| c.is_ascii_lowercase());
    let upper = password.chars().any(|c| c.is_ascii_uppercase());
    let digit = password.chars().any(|c| c.is_ascii_digit());
    let special = password.chars().any(|c| SPECIAL.contains(c));
    let kinds = [lower, upper, digit, special].iter().filter(|b| **b).count();
    let ok = match level {
        PolicyLevel::None | PolicyLevel::Low => true,
        PolicyLevel::Fair => lower && upper && digit,
        PolicyLevel::Good => kinds >= 3,
        PolicyLevel::Excellent => kinds >= 3 && !has_run_of_three(password),
    };
    if ok {
        Ok(())
    } else {
        Err(DomainError::PasswordTooWeak)
    }
}

fn has_run_of_three(s: &str) -> bool {
    let c: Vec<char> = s.chars().collect();
    c.windows(3).any(|w| w[0] == w[1] && w[1] == w[2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use PolicyLevel::*;

    #[test]
    fn levels_table() {
        let cases: &[(PolicyLevel, &str, bool)] = &[
            (None, "a", true),
            (None, "", false),
            (Low, "abcde", false),
            (Low, "abcdef", true),
            (Fair, "abcdefgh", false),
            (Fair, "Abcdefg1", true),
            (Fair, "Abcdefg!", false),
            (Good, "abcdefg1", false),
            (Good, "Abcdefg1", true),
            (Good, "abcdef1!", true),
            (Good, "Abc1!", false),
            (Excellent, "Abcdefgh1!", true),
            (Excellent, "Abcdefg1", false),
            (Excellent, "Abbbcdef1!", false),
            // Non-ASCII letters count in no class.
            (Good, "ÉÉÉÉÉÉ1!", false),
            (Good, "abc def1", true),
        ];
        for (lvl, pw, ok) in cases {
            assert_eq!(check(*lvl, Option::None, pw).is_ok(), *ok, "{lvl:?} {pw}");
        }
    }

    #[test]
    fn min_length_and_byte_cap() {
        assert!(check(Low, Some(12), "abcdefghij").is_err());
        assert!(check(Low, Some(12), "abcdefghijkl").is_ok());
        assert!(check(None, Option::None, &"a".repeat(73)).is_err());
    }
}
