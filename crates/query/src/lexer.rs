//! Lexer: splits the query text into tokens that carry byte positions.
//!
//! Escapes are resolved here, but each character of a word remembers whether it was
//! escaped, so the parser can tell a wildcard `*` from a literal `\*` and a field
//! separator `:` from a literal `\:`. Characters the language rejects (`?`, `~`,
//! `^`) are reported here, where their position is known.

use std::iter::Peekable;
use std::str::CharIndices;

use crate::QueryError;

/// One character of a word, after escape processing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WChar {
    pub c: char,
    /// Written as `\c`: never a wildcard, separator or operator.
    pub escaped: bool,
    /// Byte offset of the character (of its backslash when escaped).
    pub pos: usize,
}

/// An unquoted run of term characters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Word {
    pub chars: Vec<WChar>,
    /// Byte offset of the first character.
    pub start: usize,
}

impl Word {
    /// The text with escapes resolved.
    pub fn text(&self) -> String {
        self.chars.iter().map(|w| w.c).collect()
    }

    /// True when the word is exactly `s` with no escaped characters.
    pub fn is_plain(&self, s: &str) -> bool {
        self.chars.iter().all(|w| !w.escaped) && self.chars.iter().map(|w| w.c).eq(s.chars())
    }

    /// True when the first character is `c`, unescaped.
    pub fn starts_with_plain(&self, c: char) -> bool {
        self.chars.first().is_some_and(|w| w.c == c && !w.escaped)
    }

    /// Position of the first unescaped `c`, as an index into `chars`.
    pub fn find_plain(&self, c: char) -> Option<usize> {
        self.chars.iter().position(|w| w.c == c && !w.escaped)
    }

    /// Splits `field:value` at the first unescaped colon. Returns the field part,
    /// the value part (possibly empty) and the byte offset just after the colon.
    pub fn split_field(&self) -> Option<(Word, Word, usize)> {
        let at = self.find_plain(':')?;
        let colon = self.chars.get(at)?;
        let after = colon.pos + 1;
        let field = Word { chars: self.chars.get(..at)?.to_vec(), start: self.start };
        let value = Word { chars: self.chars.get(at + 1..)?.to_vec(), start: after };
        Some((field, value, after))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    LParen,
    RParen,
    /// `[`: inclusive range start.
    LBracket,
    /// `]`: inclusive range end.
    RBracket,
    /// `{`: exclusive range start.
    LBrace,
    /// `}`: exclusive range end.
    RBrace,
    /// `AND` or `&&`.
    And,
    /// `OR` or `||`.
    Or,
    /// `NOT`, or `!` where a token starts.
    Not,
    Word(Word),
    /// A quoted phrase, escapes resolved.
    Phrase(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just after the last character.
    pub end: usize,
}

/// Splits `q` into tokens.
pub(crate) fn lex(q: &str) -> Result<Vec<Token>, QueryError> {
    let mut out = Vec::new();
    let mut it = q.char_indices().peekable();
    while let Some(&(start, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        let single = match c {
            '(' => Some(TokenKind::LParen),
            ')' => Some(TokenKind::RParen),
            '[' => Some(TokenKind::LBracket),
            ']' => Some(TokenKind::RBracket),
            '{' => Some(TokenKind::LBrace),
            '}' => Some(TokenKind::RBrace),
            '!' => Some(TokenKind::Not),
            _ => None,
        };
        if let Some(kind) = single {
            it.next();
            out.push(Token { kind, start, end: start + c.len_utf8() });
            continue;
        }
        if c == '"' {
            it.next();
            let (text, end) = lex_phrase(start, &mut it)?;
            out.push(Token { kind: TokenKind::Phrase(text), start, end });
            continue;
        }
        let (word, end) = lex_word(start, &mut it)?;
        let kind = operator(&word).unwrap_or(TokenKind::Word(word));
        out.push(Token { kind, start, end });
    }
    Ok(out)
}

/// The operator a whole word spells, if any.
fn operator(word: &Word) -> Option<TokenKind> {
    if word.is_plain("AND") || word.is_plain("&&") {
        Some(TokenKind::And)
    } else if word.is_plain("OR") || word.is_plain("||") {
        Some(TokenKind::Or)
    } else if word.is_plain("NOT") {
        Some(TokenKind::Not)
    } else {
        None
    }
}

/// Characters that end a word (besides whitespace).
fn ends_word(c: char) -> bool {
    matches!(c, '(' | ')' | '[' | ']' | '{' | '}' | '"')
}

/// Reads a word starting at `start`. Returns it and the byte offset after it.
fn lex_word(start: usize, it: &mut Peekable<CharIndices<'_>>) -> Result<(Word, usize), QueryError> {
    let mut chars = Vec::new();
    let mut end = start;
    while let Some(&(pos, c)) = it.peek() {
        if c.is_whitespace() || ends_word(c) {
            break;
        }
        it.next();
        if c == '\\' {
            let Some((epos, e)) = it.next() else {
                return Err(QueryError::new("a backslash at the end of the query escapes nothing", pos));
            };
            chars.push(WChar { c: e, escaped: true, pos });
            end = epos + e.len_utf8();
            continue;
        }
        reject_special(c, pos)?;
        chars.push(WChar { c, escaped: false, pos });
        end = pos + c.len_utf8();
    }
    Ok((Word { chars, start }, end))
}

/// Reads a phrase whose opening quote is at `start` (already consumed).
/// Returns the text and the byte offset after the closing quote.
fn lex_phrase(start: usize, it: &mut Peekable<CharIndices<'_>>) -> Result<(String, usize), QueryError> {
    let mut text = String::new();
    while let Some((pos, c)) = it.next() {
        match c {
            '"' => return Ok((text, pos + 1)),
            '\\' => match it.next() {
                Some((_, e)) => text.push(e),
                None => break,
            },
            _ => text.push(c),
        }
    }
    Err(QueryError::new("unterminated quoted phrase: this '\"' is never closed", start))
}

/// Errors for unescaped characters with a Lucene meaning we do not support.
fn reject_special(c: char, pos: usize) -> Result<(), QueryError> {
    let message = match c {
        '?' => "the '?' wildcard is not supported; use '*', or write '\\?' for a literal '?'",
        '~' => "fuzzy and proximity searches ('~') are not supported",
        '^' => "boosting ('^') is not supported",
        _ => return Ok(()),
    };
    Err(QueryError::new(message, pos))
}
