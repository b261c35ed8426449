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

/// Passwords too common to allow when a connection enables its dictionary
/// (`password_dictionary`). A short list of the most used passwords; the
/// connection's own `dictionary` adds to it.
const COMMON: &[&str] = &[
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "password",
    "password1",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "qwerty",
    "qwerty123",
    "qwertyuiop",
    "abc123",
    "111111",
    "000000",
    "123123",
    "654321",
    "iloveyou",
    "letmein",
    "welcome",
    "welcome1",
    "admin",
    "admin123",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "master",
    "shadow",
    "superman",
    "trustno1",
    "whatever",
    "starwars",
    "login",
    "hello123",
    "freedom",
    "changeme",
    "secret",
    "summer2024",
    "winter2024",
    "qazwsx",
    "1q2w3e4r",
    "zaq12wsx",
    "asdfghjkl",
    "michael",
    "jennifer",
    "password!",
    "Password1",
    "Password123",
];

/// The connection's extra password rules, besides the strength level.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PasswordRules {
    pub no_personal_info: bool,
    pub dictionary: Option<Vec<String>>,
    /// How many previous passwords may not be reused (0: no history).
    pub history: usize,
}

impl PasswordRules {
    /// Reads `password_no_personal_info`, `password_dictionary` and
    /// `password_history` from a connection's options.
    pub fn from_options(options: &serde_json::Map<String, serde_json::Value>) -> Self {
        let enabled = |k: &str| {
            options.get(k).and_then(|v| v.get("enable")).and_then(serde_json::Value::as_bool).unwrap_or(false)
        };
        PasswordRules {
            no_personal_info: enabled("password_no_personal_info"),
            dictionary: enabled("password_dictionary").then(|| {
                options
                    .get("password_dictionary")
                    .and_then(|d| d.get("dictionary"))
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|w| w.as_str().map(str::to_lowercase))
                    .collect()
            }),
            history: if enabled("password_history") {
                options
                    .get("password_history")
                    .and_then(|h| h.get("size"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(5)
                    .clamp(1, 24) as usize
            } else {
                0
            },
        }
    }

    /// The rules that need no stored state: personal data and dictionary.
    /// `personal` holds the user's name, nickname, username, email and the
    /// email's local part.
    pub fn check(&self, password: &str, personal: &[&str]) -> Result<(), DomainError> {
        let lower = password.to_lowercase();
        if self.no_personal_info
            && personal.iter().map(|p| p.trim().to_lowercase()).any(|p| p.chars().count() >= 3 && lower.contains(&p))
        {
            return Err(DomainError::BadRequest("PasswordNoUserInfoError: Password contains user information".into()));
        }
        if let Some(words) = &self.dictionary {
            if COMMON.iter().any(|w| w.to_lowercase() == lower) || words.contains(&lower) {
                return Err(DomainError::BadRequest("PasswordDictionaryError: Password is too common".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod rules_tests {
    use super::*;
    use serde_json::json;

    fn rules(v: serde_json::Value) -> PasswordRules {
        PasswordRules::from_options(v.as_object().unwrap())
    }

    #[test]
    fn options_and_checks() {
        assert_eq!(rules(json!({})), PasswordRules::default());
        let r = rules(
            json!({"password_no_personal_info": {"enable": true}, "password_dictionary": {"enable": true, "dictionary": ["Castellan2024"]},
                             "password_history": {"enable": true, "size": 3}}),
        );
        assert_eq!(r.history, 3);
        let personal = ["Jane Doe", "jane", "jane.doe@example.com", "jane.doe"];
        assert!(r.check("xJANE.DOE!9", &personal).is_err());
        assert!(r.check("Tr0ub4dor&3", &personal).is_ok());
        assert!(r.check("Password123", &personal).is_err());
        assert!(r.check("castellan2024", &personal).is_err());
        assert!(rules(json!({"password_dictionary": {"enable": false}})).check("password", &[]).is_ok());
        assert_eq!(rules(json!({"password_history": {"enable": true, "size": 99}})).history, 24);
    }
}
