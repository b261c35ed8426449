//! Parser for Auth0's user search v3 query language (`q=` on `GET /api/v2/users`), a
//! Lucene query-string subset, into a typed [`Filter`] that the store compiles to SQL.
//!
//! The parser is hand-written: `lexer` turns text into tokens carrying byte
//! positions, `parser` builds the boolean structure, `value` turns each
//! `field:value` into a normalized [`Cond`] using the field's [`FieldKind`] from a
//! [`Schema`], and `dates` reads ISO-8601 dates. Every error is a [`QueryError`]
//! with a message and the byte offset it refers to. No input makes it panic.
//!
//! # Grammar
//!
//! ```text
//! query      = { ws } , [ or_expr ] , { ws } ;        (* empty query -> Filter::All *)
//! or_expr    = and_expr , { [ "OR" | "||" ] , and_expr } ;
//!                                                     (* no operator = OR *)
//! and_expr   = unary , { ( "AND" | "&&" ) , unary } ;
//! unary      = ( "NOT" | "!" ) , unary | primary ;
//! primary    = "(" , or_expr , ")" | clause ;
//! clause     = "*:*"                                  (* Filter::All *)
//!            | "_exists_" , ":" , field_path
//!            | field , ":" , value
//!            | word | phrase ;                        (* unfielded term *)
//! value      = word | phrase | range
//!            | "(" , or_expr , ")" ;                  (* field group: every bare
//!                                                        word/phrase/range inside
//!                                                        applies to the field *)
//! range      = ( "[" | "{" ) , bound , "TO" , bound , ( "]" | "}" ) ;
//! bound      = "*" | word | phrase ;                  (* "*" = open bound *)
//! word       = ( term_char | "\" , any_char ) , { term_char | "\" , any_char } ;
//! phrase     = '"' , { any_char - ( '"' | "\" ) | "\" , any_char } , '"' ;
//! term_char  = any_char - ( whitespace | "(" | ")" | "[" | "]" | "{" | "}"
//!                         | '"' | "\" | "?" | "~" | "^" ) ;
//! ```
//!
//! Whitespace (any Unicode whitespace) separates tokens. A word is exactly one token
//! when it reads `AND`, `OR`, `NOT`, `&&`, `||` (unescaped, upper-case): those are
//! operators; anything else, including `and`, `or`, `not`, is a plain term. `!` is
//! `NOT` only where a token starts; inside a word it is an ordinary character, as are
//! `=`, `+`, `-`, `&`, `|`, `@`, `.`, `/` and `:` after the first one.
//!
//! # Semantic decisions
//!
//! - **Precedence** `NOT` > `AND` > `OR`. Terms written next to each other are joined
//!   with `OR` (Elasticsearch `query_string` with its default operator), except that
//!   a `NOT` written right after a term binds to it as `AND NOT`: `a NOT b` means
//!   "a but not b", as Lucene reads a prohibited clause beside others. Operators follow
//!   plain boolean logic (not Lucene's MUST/SHOULD clause model), which is what
//!   Auth0's documented `NOT _exists_:logins_count OR logins_count:0` expects.
//! - **Fields**: the first unescaped `:` of a word ends the field name; later colons
//!   belong to the value (`last_ip:::1`, `user_id:auth0|x:y`). Whitespace may follow
//!   the colon (`name: jane`). Escapes work in field names too. Field names may not
//!   contain wildcards; `*:*` alone means "everything". An unknown field is an error.
//!   `_exists_:path` tests presence; `user_metadata` and `app_metadata` on their own
//!   are only valid there.
//! - **Values** are normalized for the field: case-insensitive text is lower-cased
//!   (Unicode lower-casing), case-sensitive text and metadata are kept as written,
//!   integers must parse as `i64`, booleans are exactly `true` or `false`. Metadata
//!   values stay [`Scalar::Text`] of the raw text (`true`, `42`, `gold` alike); the
//!   store compares text representations.
//! - **Phrases** (`"jane smith"`) are one exact value: fields are not tokenized, and
//!   `*` inside quotes is a literal star. `\"` and `\\` escape inside quotes (any
//!   `\x` gives `x`). An empty value (`name:` or `name:""`) is an error.
//! - **Dates** (UTC): `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`,
//!   `…:SS`, `…:SS.f` (1 to 3 fraction digits), optional trailing `Z`; no offsets.
//!   Each value denotes a period as long as its precision (a year, a month, a day, a
//!   minute, a second, a millisecond). `created_at:2020-01-15` becomes a half-open
//!   range over that day. In ranges bounds are rounded like Elasticsearch date math:
//!   inclusive lower = start of period, exclusive lower = end of period (as an
//!   inclusive bound), inclusive upper = end of period (exclusive bound), exclusive
//!   upper = start of period (exclusive bound). So `[2017-11 TO 2017-12]` is
//!   `Included(2017-11-01T00:00Z)..Excluded(2018-01-01T00:00Z)`.
//! - **Wildcards**: only `*` (zero or more characters); `?` is rejected. `ab*` is a
//!   [`Cond::Prefix`] of any length; every other placement needs at least 3 literal
//!   characters in total (`*usa` ok, `*sa` and `*ab*` rejected), as in Auth0. Runs of
//!   stars count as one. A value made only of stars (`field:*`) is [`Cond::Exists`].
//!   Wildcards are rejected on integer, date and boolean fields (except the lone
//!   `*`), and on `user_metadata.*` / `app_metadata.*` entirely (Auth0 rule; use
//!   `_exists_:` to test presence). `\*` is a literal star.
//! - **Ranges** `[a TO b]` inclusive, `{a TO b}` exclusive, brackets may be mixed,
//!   `*` is an open bound. Allowed on integer, date and text fields (text ranges
//!   compare the normalized string); rejected on booleans and metadata. A range
//!   needs a field.
//! - **Unfielded terms** (`jane`, `"jane smith"`, `jo*`) become an `Or` over
//!   [`Schema::default_fields`], each with the condition normalized for that field.
//!   For [`UserSchema`] these are name, email, nickname, given_name, family_name and
//!   username. Unfielded terms never search metadata.
//! - **Rejected** with a clear error: fuzzy/proximity `~`, boost `^`, regular
//!   expressions (a value starting with `/`), `?`, `+`/`-` prefix operators at the
//!   start of a clause (`-x`; a value may start with them: `logins_count:-1`),
//!   unbalanced parentheses, brackets or quotes, operators without an operand,
//!   empty groups, a field inside a field group, and nesting of groups and `NOT`s
//!   deeper than [`MAX_DEPTH`].
//! - **Simplification**: only single-element `And`/`Or` are unwrapped.

mod dates;
mod lexer;
mod parser;
mod schema;
mod value;

#[cfg(test)]
mod tests;

use std::ops::Bound;

pub use schema::{LogSchema, UserSchema};

/// Deepest nesting of parenthesised groups, field groups and `NOT`s accepted.
pub const MAX_DEPTH: usize = 16;

/// Parses a search v3 query against `schema`.
///
/// An empty or whitespace-only query gives [`Filter::All`].
pub fn parse(q: &str, schema: &dyn Schema) -> Result<Filter, QueryError> {
    let tokens = lexer::lex(q)?;
    parser::Parser::new(q, tokens, schema).parse_query()
}

/// What the parser needs to know about searchable fields.
pub trait Schema {
    /// The kind of a field usable as `field:value`, or `None` if it is unknown.
    fn field(&self, path: &str) -> Option<FieldKind>;

    /// Fields an unfielded term searches, in this order.
    fn default_fields(&self) -> &[&'static str];

    /// The kind of a field usable as `_exists_:field`. Defaults to [`Schema::field`];
    /// a schema overrides it to allow paths that only make sense for presence tests
    /// (for users: bare `user_metadata` and `app_metadata`).
    fn exists_field(&self, path: &str) -> Option<FieldKind> {
        self.field(path)
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches everything (empty query, or `*:*`).
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// A condition on one field. `path` is the field name as written (escapes
    /// resolved), e.g. `email`, `identities.connection`, `user_metadata.plan.tier`.
    Field {
        path: String,
        kind: FieldKind,
        cond: Cond,
    },
}

/// How a field is stored and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A string; when `case_insensitive`, values in [`Cond`] are already lower-cased.
    Text {
        case_insensitive: bool,
    },
    Integer,
    /// A timestamp; values are unix milliseconds UTC.
    Date,
    Bool,
    /// A path inside `user_metadata`/`app_metadata`; values are raw text, case kept.
    Metadata,
}

/// A condition on one field's value. Text in a condition is already normalized for
/// the field (lower-cased for case-insensitive text).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// The field is present (`_exists_:f`, `f:*`).
    Exists,
    /// Never produced by the parser: a store's refinement of `Exists` for a
    /// field it found to hold only objects (terms without a value), which
    /// lets it read them in key order.
    ExistsAsObject,
    /// The whole value equals this (fields are not tokenized).
    Eq(Scalar),
    /// The value starts with this non-empty text (`f:jo*`).
    Prefix(String),
    /// The value ends with this text of at least 3 characters (`f:*usa`).
    Suffix(String),
    /// The value contains this text of at least 3 characters (`f:*john*`).
    Contains(String),
    /// Any other wildcard pattern: the literal pieces between stars, in order,
    /// at least 2 of them. The first piece must match at the start of the value and
    /// the last at its end; either may be empty, meaning the pattern starts or ends
    /// with `*` (`jane*smith` = `["jane", "smith"]`, `*a*bc*` = `["", "a", "bc", ""]`).
    /// Interior pieces are never empty. Total literal length is at least 3.
    Glob(Vec<String>),
    /// Values between the bounds. For dates, partial-date bounds are already
    /// expanded to millisecond instants (see the crate documentation).
    Range { lower: Bound<Scalar>, upper: Bound<Scalar> },
}

/// A typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Int(i64),
    /// Unix milliseconds, UTC.
    Date(i64),
    Bool(bool),
}

/// A query that cannot be parsed: what is wrong and the byte offset in the query
/// where it was found (the query's length for "ended too early").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at position {position})")]
pub struct QueryError {
    pub message: String,
    pub position: usize,
}

impl QueryError {
    pub(crate) fn new(message: impl Into<String>, position: usize) -> Self {
        Self { message: message.into(), position }
    }
}
