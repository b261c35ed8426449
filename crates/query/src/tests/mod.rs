//! Unit tests, as tables: valid queries and the exact filters they give (`valid`
//! for fields and values, `structure` for operators and groups), rejected queries
//! with their message and position (`invalid`), and no-panic random input (`fuzz`).
//! Shared helpers live here.

mod fuzz;
mod invalid;
mod structure;
mod valid;

use std::ops::Bound;

use crate::{parse, Cond, FieldKind, Filter, QueryError, Scalar, UserSchema};

pub(super) const CI: FieldKind = FieldKind::Text { case_insensitive: true };
pub(super) const CS: FieldKind = FieldKind::Text { case_insensitive: false };

pub(super) fn run(q: &str) -> Result<Filter, QueryError> {
    parse(q, &UserSchema)
}

pub(super) fn field(path: &str, kind: FieldKind, cond: Cond) -> Filter {
    Filter::Field { path: path.to_owned(), kind, cond }
}

pub(super) fn text(s: &str) -> Scalar {
    Scalar::Text(s.to_owned())
}

pub(super) fn eq(path: &str, kind: FieldKind, s: Scalar) -> Filter {
    field(path, kind, Cond::Eq(s))
}

pub(super) fn exists(path: &str, kind: FieldKind) -> Filter {
    field(path, kind, Cond::Exists)
}

/// An unfielded term: the same condition on every default field of UserSchema.
pub(super) fn defaults(cond: Cond) -> Filter {
    Filter::Or(
        ["name", "email", "nickname", "given_name", "family_name", "username"]
            .iter()
            .map(|f| field(f, CI, cond.clone()))
            .collect(),
    )
}

pub(super) fn range(lower: Bound<Scalar>, upper: Bound<Scalar>) -> Cond {
    Cond::Range { lower, upper }
}

pub(super) fn date_range(path: &str, start: i64, end: i64) -> Filter {
    field(path, FieldKind::Date, range(Bound::Included(Scalar::Date(start)), Bound::Excluded(Scalar::Date(end))))
}

pub(super) fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}

pub(super) fn check(cases: Vec<(&str, Filter)>) {
    for (q, want) in cases {
        match run(q) {
            Ok(got) => assert_eq!(got, want, "query {q:?}"),
            Err(e) => panic!("query {q:?} failed: {e}"),
        }
    }
}

pub(super) fn int(path: &str, i: i64) -> Filter {
    eq(path, FieldKind::Integer, Scalar::Int(i))
}

pub(super) fn boolean(path: &str, b: bool) -> Filter {
    eq(path, FieldKind::Bool, Scalar::Bool(b))
}

pub(super) fn meta(path: &str, s: &str) -> Filter {
    eq(path, FieldKind::Metadata, text(s))
}

pub(super) fn ci(path: &str, s: &str) -> Filter {
    eq(path, CI, text(s))
}

pub(super) fn cs(path: &str, s: &str) -> Filter {
    eq(path, CS, text(s))
}

pub(super) fn name(cond: Cond) -> Filter {
    field("name", CI, cond)
}

#[test]
fn error_display_says_what_and_where() {
    let err = QueryError { message: "unknown field 'x'".into(), position: 3 };
    assert_eq!(err.to_string(), "unknown field 'x' (at position 3)");
}
