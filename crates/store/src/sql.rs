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
        bind(&self.text, self.args.iter().cloned())
    }
}

/// `text` with `args` bound to its `$1..$n`. The texts move into sqlx's
/// arguments (which keep them until the connection's thread has run the
/// statement): a script's are not copied again.
fn bind<'q>(text: &'q str, args: impl IntoIterator<Item = Arg>) -> Query<'q, Any, AnyArguments<'q>> {
    let mut q = sqlx::query(text);
    for a in args {
        q = match a {
            Arg::I64(n) => q.bind(n),
            Arg::F64(f) => q.bind(f),
            Arg::Text(s) => q.bind(s),
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

/// `text` with its `$n` written `?`. `Sql` numbers its arguments in the
/// order they appear, so the two bind alike; but sqlx binds a named
/// parameter by asking SQLite its name, which SQLite looks up in a list as
/// long as the parameters: quadratic in a multi-row INSERT of hundreds of
/// them (the top SQLite function under the token workload's event batches).
/// Texts never hold a `$` of their own (values go in arguments).
fn positional(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Arguments past which a script's next statement starts a new text.
const SCRIPT_ARGS: usize = 500;

/// Statements that run together inside a transaction. On SQLite they are
/// sent as one multi-statement text, which the connection's thread runs in
/// one call: one hand-off to that thread instead of one a statement (each is
/// tens of microseconds, while the write lock is held). Argument numbers run
/// on across the statements, and each statement binds the `$n` it names. A
/// text holds statements up to `SCRIPT_ARGS` arguments, so that the texts a
/// connection caches as prepared statements stay few and small.
///
/// PostgreSQL's extended protocol takes one statement at a time, so there
/// they run one after another. (sqlx 0.8 calls SQLite's several statements
/// in one prepared text deprecated, launchbadge/sqlx#3108; should a later
/// version drop it, SQLite takes PostgreSQL's branch in `statement` and
/// `Write` sends its BEGIN and COMMIT on their own.)
pub struct Script {
    dialect: crate::Dialect,
    parts: Vec<Sql>,
    count: usize,
}

impl Script {
    pub fn dialect(&self) -> crate::Dialect {
        self.dialect
    }

    pub fn new(dialect: crate::Dialect) -> Self {
        Script { dialect, parts: Vec::new(), count: 0 }
    }

    /// Starts the next statement with `s` and returns it to be built on. Its
    /// rows-affected count is at index `self.len()` (taken before the call)
    /// of what `run` returns.
    pub fn statement(&mut self, s: &str) -> &mut Sql {
        self.count += 1;
        match (self.dialect, self.parts.last_mut()) {
            (crate::Dialect::Sqlite, Some(q)) if q.args.len() < SCRIPT_ARGS => {
                q.push(";\n").push(s);
            }
            _ => self.parts.push(Sql::new(s)),
        }
        let last = self.parts.len() - 1;
        &mut self.parts[last]
    }

    /// How many statements were started.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Runs the statements in order on `conn` (inside the caller's
    /// transaction); the rows each affected. The first error stops the rest
    /// (the caller's transaction then rolls back).
    pub async fn run(self, conn: &mut sqlx::AnyConnection) -> Result<Vec<u64>, sqlx::Error> {
        Ok(self.fetch_wrapped(conn, "", "", false).await?.0)
    }

    /// `run`, with argument-free statements before the first and after the
    /// last (`BEGIN IMMEDIATE;`, `;COMMIT`) sent in the same texts (their
    /// counts are not returned), and, when `rows`, the rows each statement
    /// selected (empty lists otherwise), in statement order.
    pub(crate) async fn fetch_wrapped(
        self,
        conn: &mut sqlx::AnyConnection,
        before: &str,
        after: &str,
        rows: bool,
    ) -> Result<(Vec<u64>, Vec<Vec<sqlx::any::AnyRow>>), sqlx::Error> {
        use futures_util::TryStreamExt;
        use sqlx::Executor;
        if self.parts.is_empty() && before.is_empty() && after.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let extra = |s: &str| usize::from(!s.is_empty());
        let expected = self.count + extra(before) + extra(after);
        let parts = if self.parts.is_empty() { vec![Sql::default()] } else { self.parts };
        let last = parts.len() - 1;
        let mut affected = Vec::with_capacity(expected);
        let mut selected: Vec<Vec<sqlx::any::AnyRow>> = Vec::new();
        for (i, q) in parts.into_iter().enumerate() {
            let mut text = match self.dialect {
                crate::Dialect::Sqlite => std::borrow::Cow::Owned(positional(&q.text)),
                crate::Dialect::Postgres => std::borrow::Cow::Borrowed(q.text.as_str()),
            };
            if i == 0 && !before.is_empty() {
                text = format!("{before}{text}").into();
            }
            if i == last && !after.is_empty() {
                text = format!("{text}{after}").into();
            }
            let mut steps = conn.fetch_many(bind(&text, q.args));
            while let Some(step) = steps.try_next().await? {
                match step {
                    sqlx::Either::Left(done) => affected.push(done.rows_affected()),
                    sqlx::Either::Right(row) if rows => {
                        selected.resize_with(affected.len() + 1, Vec::new);
                        selected[affected.len()].push(row);
                    }
                    sqlx::Either::Right(_) => {}
                }
            }
        }
        if affected.len() != expected {
            return Err(sqlx::Error::Protocol(format!("{expected} statements reported {} results", affected.len())));
        }
        if rows {
            selected.resize_with(expected, Vec::new);
        }
        if !after.is_empty() {
            affected.pop();
            selected.truncate(selected.len().saturating_sub(1));
        }
        if !before.is_empty() {
            affected.remove(0);
            if !selected.is_empty() {
                selected.remove(0);
            }
        }
        Ok((affected, selected))
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
    fn positional_replaces_numbered_arguments_only() {
        let mut s = Sql::new("INSERT INTO t (a, b) VALUES (");
        s.int(1).push(", ").text("x").push("), (").int(2).push(", ").text("y").push(")");
        assert_eq!(s.text, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        assert_eq!(positional(&s.text), "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)");
        assert_eq!(positional("SELECT a$b, $ FROM t WHERE x = $12"), "SELECT a$b, $ FROM t WHERE x = ?");
    }

    #[test]
    fn numbers_arguments_in_order() {
        let mut s = Sql::new("SELECT 1 WHERE a = ");
        s.int(1).push(" AND b = ").text("x");
        assert_eq!(s.text, "SELECT 1 WHERE a = $1 AND b = $2");
        assert_eq!(s.args.len(), 2);
    }
}
