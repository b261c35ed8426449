//! A small SQL builder: text plus positional arguments numbered `$1..$n` in
//! order of appearance (understood by both SQLite and PostgreSQL).

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    I64(i64),
    F64(f64),
    Text(String),
    NullText,
    NullI64,
    NullF64,
}

#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(s: &str) -> Self {
        Sql { text: s.to_string(), args: Vec::new() }
    }
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    pub fn arg(&mut self, a: Arg) -> &mut Self {
        self.args.push(a);
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }
    pub fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.arg(Arg::Text(s.into()))
    }
    pub fn int(&mut self, n: i64) -> &mut Self {
        self.arg(Arg::I64(n))
    }
    pub fn build(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::I64(n) => q.bind(*n),
                Arg::F64(f) => q.bind(*f),
                Arg::Text(s) => q.bind(s.clone()),
                Arg::NullText => q.bind(Option::<String>::None),
                Arg::NullI64 => q.bind(Option::<i64>::None),
                // sqlx 0.8.6's Any driver swaps Real and Double for NULLs: a
                // NULL f64 reaches PostgreSQL typed float4, and the statement
                // cached with that type then rejects 8-byte floats. A NULL
                // f32 is sent as float8. The conformance suite guards this.
                Arg::NullF64 => q.bind(Option::<f32>::None),
            };
        }
        q
    }
}

/// `col` matches a wildcard pattern given as the literal pieces between
/// `*`s (an empty first/last piece leaves that end open), case-sensitively on
/// both backends: SQLite's GLOB, PostgreSQL's LIKE.
pub fn wildcard(q: &mut Sql, dialect: crate::Dialect, col: &str, pieces: &[String]) {
    match dialect {
        crate::Dialect::Sqlite => {
            let pat: Vec<String> = pieces.iter().map(|p| glob_escape(p)).collect();
            q.push(" ").push(col).push(" GLOB ").text(pat.join("*"));
        }
        crate::Dialect::Postgres => {
            let pat: Vec<String> = pieces.iter().map(|p| like_escape(p)).collect();
            q.push(" ").push(col).push(" LIKE ").text(pat.join("%")).push(" ESCAPE '\\'");
        }
    }
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_arguments_in_order() {
        let mut s = Sql::new("SELECT 1 WHERE a = ");
        s.int(1).push(" AND b = ").text("x");
        assert_eq!(s.text, "SELECT 1 WHERE a = $1 AND b = $2");
        assert_eq!(s.args.len(), 2);
    }
}
