//! Values to conditions: applies a field's [`FieldKind`] to one parsed value
//! (word, phrase or range) and produces a normalized [`Cond`], enforcing the
//! per-kind rules on wildcards, ranges and value syntax.

use std::ops::Bound;

use crate::dates;
use crate::lexer::Word;
use crate::{Cond, FieldKind, QueryError, Scalar};

type Result<T> = std::result::Result<T, QueryError>;

/// A value as written after `field:` (or as an unfielded term).
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// Unquoted: unescaped `*` are wildcards.
    Word(Word),
    /// Quoted: always a literal.
    Phrase {
        text: String,
        pos: usize,
    },
    Range(RangeValue),
}

impl Value {
    /// Byte offset where the value starts.
    pub fn pos(&self) -> usize {
        match self {
            Value::Word(w) => w.start,
            Value::Phrase { pos, .. } => *pos,
            Value::Range(r) => r.pos,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RangeValue {
    pub lower: BoundValue,
    pub upper: BoundValue,
    pub lower_inclusive: bool,
    pub upper_inclusive: bool,
    /// Byte offset of the opening bracket.
    pub pos: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum BoundValue {
    /// `*`
    Open,
    Word(Word),
    Phrase {
        text: String,
        pos: usize,
    },
}

/// The condition `v` expresses on a field of kind `kind` named `path`.
pub(crate) fn cond(path: &str, kind: FieldKind, v: &Value) -> Result<Cond> {
    match v {
        Value::Range(r) => range(path, kind, r),
        Value::Phrase { text, pos } => literal(path, kind, text, *pos),
        Value::Word(w) => {
            if w.starts_with_plain('/') {
                return Err(QueryError::new(
                    "regular expressions ('/…/') are not supported; write '\\/' for a leading '/'",
                    w.start,
                ));
            }
            let pieces = split_stars(w);
            match pieces.as_slice() {
                [only] => literal(path, kind, only, w.start),
                _ => wildcard(path, kind, pieces, w.start),
            }
        }
    }
}

/// The literal pieces between unescaped stars (one piece when there is no star).
fn split_stars(w: &Word) -> Vec<String> {
    let mut pieces = vec![String::new()];
    for ch in &w.chars {
        if ch.c == '*' && !ch.escaped {
            pieces.push(String::new());
        } else if let Some(last) = pieces.last_mut() {
            last.push(ch.c);
        }
    }
    pieces
}

fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text { .. } => "text",
        FieldKind::Integer => "integer",
        FieldKind::Date => "date",
        FieldKind::Bool => "boolean",
        FieldKind::Metadata => "metadata",
    }
}

fn normalize(text: &str, case_insensitive: bool) -> String {
    if case_insensitive {
        text.to_lowercase()
    } else {
        text.to_owned()
    }
}

/// A value without wildcards.
fn literal(path: &str, kind: FieldKind, text: &str, pos: usize) -> Result<Cond> {
    if text.is_empty() {
        return Err(QueryError::new(format!("empty value for '{path}'"), pos));
    }
    Ok(match kind {
        FieldKind::Text { case_insensitive } => Cond::Eq(Scalar::Text(normalize(text, case_insensitive))),
        FieldKind::Metadata => Cond::Eq(Scalar::Text(text.to_owned())),
        FieldKind::Integer => Cond::Eq(Scalar::Int(integer(path, text, pos)?)),
        FieldKind::Bool => Cond::Eq(Scalar::Bool(boolean(path, text, pos)?)),
        FieldKind::Date => {
            let period = date(path, text, pos)?;
            Cond::Range {
                lower: Bound::Included(Scalar::Date(period.start)),
                upper: Bound::Excluded(Scalar::Date(period.end)),
            }
        }
    })
}

/// A value with at least one wildcard; `pieces` has at least two elements.
fn wildcard(path: &str, kind: FieldKind, pieces: Vec<String>, pos: usize) -> Result<Cond> {
    // Runs of stars act as one star: drop the empty pieces between them.
    let last = pieces.len().saturating_sub(1);
    let pieces: Vec<String> = pieces
        .into_iter()
        .enumerate()
        .filter(|(i, p)| *i == 0 || *i == last || !p.is_empty())
        .map(|(_, p)| p)
        .collect();
    let only_stars = pieces.iter().all(String::is_empty);
    let case_insensitive = match kind {
        FieldKind::Metadata => {
            return Err(QueryError::new(
                format!(
                    "wildcards are not supported on metadata fields ('{path}'); \
                     use _exists_:{path} to test presence"
                ),
                pos,
            ))
        }
        _ if only_stars => return Ok(Cond::Exists),
        FieldKind::Integer | FieldKind::Date | FieldKind::Bool => {
            return Err(QueryError::new(
                format!("wildcards are not supported on {} field '{path}' (only '{path}:*' is)", kind_name(kind)),
                pos,
            ))
        }
        FieldKind::Text { case_insensitive } => case_insensitive,
    };
    let pieces: Vec<String> = pieces.iter().map(|p| normalize(p, case_insensitive)).collect();
    if let [first, last] = pieces.as_slice() {
        if last.is_empty() {
            return Ok(Cond::Prefix(first.clone()));
        }
    }
    let literal_len: usize = pieces.iter().map(|p| p.chars().count()).sum();
    if literal_len < 3 {
        return Err(QueryError::new(
            "a wildcard pattern other than a prefix (like jo*) needs at least 3 literal characters",
            pos,
        ));
    }
    Ok(match pieces.as_slice() {
        [first, last] if first.is_empty() => Cond::Suffix(last.clone()),
        [first, middle, last] if first.is_empty() && last.is_empty() => Cond::Contains(middle.clone()),
        _ => Cond::Glob(pieces),
    })
}

fn range(path: &str, kind: FieldKind, r: &RangeValue) -> Result<Cond> {
    let (lower, upper) = match kind {
        FieldKind::Metadata | FieldKind::Bool => {
            return Err(QueryError::new(
                format!("ranges are not supported on {} field '{path}'", kind_name(kind)),
                r.pos,
            ))
        }
        FieldKind::Integer => {
            let int = |t: &str, p: usize| integer(path, t, p).map(Scalar::Int);
            (plain_bound(&r.lower, r.lower_inclusive, int)?, plain_bound(&r.upper, r.upper_inclusive, int)?)
        }
        FieldKind::Text { case_insensitive } => {
            let text = |t: &str, _: usize| Ok(Scalar::Text(normalize(t, case_insensitive)));
            (plain_bound(&r.lower, r.lower_inclusive, text)?, plain_bound(&r.upper, r.upper_inclusive, text)?)
        }
        FieldKind::Date => {
            // Rounded like Elasticsearch date math: a bound covers its whole period.
            let lower = match bound_text(&r.lower)? {
                None => Bound::Unbounded,
                Some((t, p)) => {
                    let period = date(path, &t, p)?;
                    let at = if r.lower_inclusive { period.start } else { period.end };
                    Bound::Included(Scalar::Date(at))
                }
            };
            let upper = match bound_text(&r.upper)? {
                None => Bound::Unbounded,
                Some((t, p)) => {
                    let period = date(path, &t, p)?;
                    let at = if r.upper_inclusive { period.end } else { period.start };
                    Bound::Excluded(Scalar::Date(at))
                }
            };
            (lower, upper)
        }
    };
    Ok(Cond::Range { lower, upper })
}

/// A bound converted by `convert`, inclusive or exclusive as written.
fn plain_bound(
    b: &BoundValue,
    inclusive: bool,
    convert: impl Fn(&str, usize) -> Result<Scalar>,
) -> Result<Bound<Scalar>> {
    Ok(match bound_text(b)? {
        None => Bound::Unbounded,
        Some((t, p)) if inclusive => Bound::Included(convert(&t, p)?),
        Some((t, p)) => Bound::Excluded(convert(&t, p)?),
    })
}

/// The text of a bound and its position, or `None` for an open bound.
fn bound_text(b: &BoundValue) -> Result<Option<(String, usize)>> {
    match b {
        BoundValue::Open => Ok(None),
        BoundValue::Word(w) => {
            if let Some(i) = w.find_plain('*') {
                let pos = w.chars.get(i).map_or(w.start, |c| c.pos);
                return Err(QueryError::new(
                    "wildcards are not allowed in range bounds; a lone '*' is an open bound",
                    pos,
                ));
            }
            Ok(Some((w.text(), w.start)))
        }
        BoundValue::Phrase { text, pos } => {
            if text.is_empty() {
                return Err(QueryError::new("empty range bound", *pos));
            }
            Ok(Some((text.clone(), *pos)))
        }
    }
}

fn integer(path: &str, text: &str, pos: usize) -> Result<i64> {
    text.parse().map_err(|_| QueryError::new(format!("'{path}' takes an integer, not '{text}'"), pos))
}

fn boolean(path: &str, text: &str, pos: usize) -> Result<bool> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(QueryError::new(format!("'{path}' takes true or false, not '{text}'"), pos)),
    }
}

fn date(path: &str, text: &str, pos: usize) -> Result<dates::Period> {
    dates::parse(text).ok_or_else(|| {
        QueryError::new(
            format!(
                "'{path}' takes a UTC date like 2020-01-15 or 2020-01-15T10:30:00Z \
                 (also 2020, 2020-01, …T10:30, …T10:30:00.123Z), not '{text}'"
            ),
            pos,
        )
    })
}
