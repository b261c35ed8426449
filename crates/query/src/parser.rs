//! Recursive-descent parser: tokens to [`Filter`].
//!
//! Owns the boolean structure (precedence, grouping, field groups, depth limit) and
//! field-name resolution; turning one value into a [`crate::Cond`] is
//! [`crate::value`]'s job. Recursion only happens through groups and `NOT`, both
//! bounded by [`MAX_DEPTH`]; sequences of terms are parsed in loops.

use crate::lexer::{Token, TokenKind, Word};
use crate::value::{self, BoundValue, RangeValue, Value};
use crate::{Cond, FieldKind, Filter, QueryError, Schema, MAX_DEPTH};

/// What bare values in the current position apply to.
enum Target {
    /// Inside `_exists_:( … )`: values are field paths.
    Exists,
    /// Inside `field:( … )`: values are conditions on the field.
    Field { path: String, kind: FieldKind },
}

pub(crate) struct Parser<'a> {
    q: &'a str,
    tokens: Vec<Token>,
    next: usize,
    schema: &'a dyn Schema,
}

type Result<T> = std::result::Result<T, QueryError>;

impl<'a> Parser<'a> {
    pub fn new(q: &'a str, tokens: Vec<Token>, schema: &'a dyn Schema) -> Self {
        Self { q, tokens, next: 0, schema }
    }

    /// Parses the whole query.
    pub fn parse_query(mut self) -> Result<Filter> {
        if self.tokens.is_empty() {
            return Ok(Filter::All);
        }
        let filter = self.or_expr(None, 0)?;
        if let Some(tok) = self.peek() {
            // `or_expr` only stops early at a ')'.
            return Err(QueryError::new("unbalanced ')': nothing to close", tok.start));
        }
        Ok(filter)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn peek_kind(&self) -> Option<&TokenKind> {
        self.peek().map(|t| &t.kind)
    }

    fn bump(&mut self) -> Option<Token> {
        let tok = self.tokens.get(self.next).cloned();
        if tok.is_some() {
            self.next += 1;
        }
        tok
    }

    /// The source text of a token, for messages.
    fn source(&self, tok: &Token) -> &'a str {
        self.q.get(tok.start..tok.end).unwrap_or("")
    }

    /// Fails unless the next token can start an operand of `op`.
    fn need_operand_after(&self, op: &Token) -> Result<()> {
        let ok = matches!(
            self.peek_kind(),
            Some(
                TokenKind::LParen
                    | TokenKind::LBracket
                    | TokenKind::LBrace
                    | TokenKind::Not
                    | TokenKind::Word(_)
                    | TokenKind::Phrase(_)
            )
        );
        if ok {
            Ok(())
        } else {
            Err(QueryError::new(format!("'{}' must be followed by a term", self.source(op)), op.start))
        }
    }

    fn or_expr(&mut self, ctx: Option<&Target>, depth: usize) -> Result<Filter> {
        let mut items = vec![self.and_expr(ctx, depth)?];
        loop {
            match self.peek_kind() {
                None | Some(TokenKind::RParen) => break,
                Some(TokenKind::Or) => {
                    if let Some(op) = self.bump() {
                        self.need_operand_after(&op)?;
                    }
                }
                // Juxtaposition: implicit OR.
                Some(_) => {}
            }
            items.push(self.and_expr(ctx, depth)?);
        }
        Ok(join(items, Filter::Or))
    }

    fn and_expr(&mut self, ctx: Option<&Target>, depth: usize) -> Result<Filter> {
        let mut items = vec![self.unary(ctx, depth)?];
        loop {
            match self.peek_kind() {
                Some(TokenKind::And) => {
                    if let Some(op) = self.bump() {
                        self.need_operand_after(&op)?;
                    }
                }
                // `a NOT b` is `a AND NOT b`, as Lucene reads a prohibited
                // clause beside others; `unary` consumes the NOT.
                Some(TokenKind::Not) => {}
                _ => break,
            }
            items.push(self.unary(ctx, depth)?);
        }
        Ok(join(items, Filter::And))
    }

    fn unary(&mut self, ctx: Option<&Target>, depth: usize) -> Result<Filter> {
        if let Some(TokenKind::Not) = self.peek_kind() {
            if let Some(op) = self.bump() {
                self.need_operand_after(&op)?;
                let depth = deeper(depth, op.start)?;
                return Ok(Filter::Not(Box::new(self.unary(ctx, depth)?)));
            }
        }
        self.primary(ctx, depth)
    }

    fn primary(&mut self, ctx: Option<&Target>, depth: usize) -> Result<Filter> {
        let Some(tok) = self.bump() else {
            return Err(QueryError::new("the query ends where a term was expected", self.q.len()));
        };
        match tok.kind {
            TokenKind::LParen => self.group(ctx, depth, tok.start),
            TokenKind::LBracket | TokenKind::LBrace => match ctx {
                Some(target) => {
                    let range = self.range(&tok)?;
                    self.term(Some(target), &Value::Range(range))
                }
                None => Err(QueryError::new("a range needs a field, as in logins_count:[1 TO 5]", tok.start)),
            },
            TokenKind::Phrase(text) => self.term(ctx, &Value::Phrase { text, pos: tok.start }),
            TokenKind::Word(word) => self.clause(word, ctx, depth),
            TokenKind::RParen => Err(QueryError::new("unbalanced ')': nothing to close", tok.start)),
            TokenKind::And | TokenKind::Or | TokenKind::Not => {
                Err(QueryError::new(format!("'{}' must come after a term", self.source(&tok)), tok.start))
            }
            TokenKind::RBracket | TokenKind::RBrace => {
                Err(QueryError::new(format!("unexpected '{}' outside a range", self.source(&tok)), tok.start))
            }
        }
    }

    /// A parenthesised group whose '(' at `open` was just consumed.
    fn group(&mut self, ctx: Option<&Target>, depth: usize, open: usize) -> Result<Filter> {
        let depth = deeper(depth, open)?;
        match self.peek_kind() {
            None => return Err(unclosed_paren(open)),
            Some(TokenKind::RParen) => {
                return Err(QueryError::new("empty group '()'", open));
            }
            Some(_) => {}
        }
        let inner = self.or_expr(ctx, depth)?;
        match self.bump() {
            Some(Token { kind: TokenKind::RParen, .. }) => Ok(inner),
            _ => Err(unclosed_paren(open)),
        }
    }

    /// A word in clause position: `field:value`, `_exists_:path`, `*:*` or a bare term.
    fn clause(&mut self, word: Word, ctx: Option<&Target>, depth: usize) -> Result<Filter> {
        if word.starts_with_plain('+') || word.starts_with_plain('-') {
            return Err(QueryError::new(
                "the '+' and '-' prefix operators are not supported; use AND and NOT \
                 (or escape the character as '\\+' / '\\-')",
                word.start,
            ));
        }
        let Some((field, value, after_colon)) = word.split_field() else {
            return self.term(ctx, &Value::Word(word));
        };
        if ctx.is_some() {
            return Err(QueryError::new(
                "a field group cannot contain another field; quote the value or escape its ':'",
                word.start,
            ));
        }
        if field.chars.is_empty() {
            return Err(QueryError::new("missing field name before ':'", word.start));
        }
        if field.is_plain("*") && value.is_plain("*") {
            return Ok(Filter::All);
        }
        let target = self.resolve_field(&field)?;
        if !value.chars.is_empty() {
            return self.term(Some(&target), &Value::Word(value));
        }
        // `field:` followed by a separate token (`name: jane`, `name:"a b"`, `name:(…)`).
        let missing = || QueryError::new(format!("missing value after '{}:'", field.text()), after_colon);
        let Some(tok) = self.peek().cloned() else {
            return Err(missing());
        };
        match tok.kind {
            TokenKind::Word(w) => {
                self.bump();
                self.term(Some(&target), &Value::Word(w))
            }
            TokenKind::Phrase(text) => {
                self.bump();
                let value = Value::Phrase { text, pos: tok.start };
                self.term(Some(&target), &value)
            }
            TokenKind::LParen => {
                self.bump();
                self.group(Some(&target), depth, tok.start)
            }
            TokenKind::LBracket | TokenKind::LBrace => {
                self.bump();
                let range = self.range(&tok)?;
                self.term(Some(&target), &Value::Range(range))
            }
            _ => Err(missing()),
        }
    }

    /// Resolves a field name written before ':'.
    fn resolve_field(&self, field: &Word) -> Result<Target> {
        if field.find_plain('*').is_some() {
            return Err(QueryError::new("wildcards in field names are not supported", field.start));
        }
        if field.is_plain("_exists_") {
            return Ok(Target::Exists);
        }
        let path = field.text();
        if let Some(kind) = self.schema.field(&path) {
            return Ok(Target::Field { path, kind });
        }
        let message = if self.schema.exists_field(&path).is_some() {
            format!("'{path}' can only be tested with _exists_:{path}; search a path inside it, like {path}.plan:gold")
        } else {
            format!("unknown field '{path}'")
        };
        Err(QueryError::new(message, field.start))
    }

    /// A range whose opening bracket `open` was just consumed.
    fn range(&mut self, open: &Token) -> Result<RangeValue> {
        let lower_inclusive = open.kind == TokenKind::LBracket;
        let lower = self.bound(open)?;
        match self.bump() {
            Some(Token { kind: TokenKind::Word(w), .. }) if w.is_plain("TO") => {}
            Some(tok) => return Err(QueryError::new("expected 'TO' between the bounds of a range", tok.start)),
            None => return Err(unclosed_range(open.start)),
        }
        let upper = self.bound(open)?;
        let upper_inclusive = match self.bump() {
            Some(Token { kind: TokenKind::RBracket, .. }) => true,
            Some(Token { kind: TokenKind::RBrace, .. }) => false,
            Some(tok) => return Err(QueryError::new("expected ']' or '}' to close the range", tok.start)),
            None => return Err(unclosed_range(open.start)),
        };
        Ok(RangeValue { lower, upper, lower_inclusive, upper_inclusive, pos: open.start })
    }

    fn bound(&mut self, open: &Token) -> Result<BoundValue> {
        match self.bump() {
            Some(Token { kind: TokenKind::Word(w), .. }) => {
                if w.is_plain("*") {
                    Ok(BoundValue::Open)
                } else {
                    Ok(BoundValue::Word(w))
                }
            }
            Some(Token { kind: TokenKind::Phrase(text), start, .. }) => Ok(BoundValue::Phrase { text, pos: start }),
            Some(tok) => Err(QueryError::new("expected a range bound", tok.start)),
            None => Err(unclosed_range(open.start)),
        }
    }

    /// A value in term position: for the target field, for `_exists_`, or (no
    /// target) for every default field.
    fn term(&self, ctx: Option<&Target>, v: &Value) -> Result<Filter> {
        match ctx {
            Some(Target::Field { path, kind }) => {
                Ok(Filter::Field { path: path.clone(), kind: *kind, cond: value::cond(path, *kind, v)? })
            }
            Some(Target::Exists) => self.exists(v),
            None => self.default_fields(v),
        }
    }

    fn exists(&self, v: &Value) -> Result<Filter> {
        let (path, pos) = match v {
            Value::Word(w) => {
                if let Some(star) = w.find_plain('*') {
                    let pos = w.chars.get(star).map_or(w.start, |c| c.pos);
                    return Err(QueryError::new("_exists_ takes a field name without wildcards", pos));
                }
                (w.text(), w.start)
            }
            Value::Phrase { text, pos } => (text.clone(), *pos),
            Value::Range(r) => return Err(QueryError::new("_exists_ takes a field name, not a range", r.pos)),
        };
        match self.schema.exists_field(&path) {
            Some(kind) => Ok(Filter::Field { path, kind, cond: Cond::Exists }),
            None => Err(QueryError::new(format!("unknown field '{path}'"), pos)),
        }
    }

    fn default_fields(&self, v: &Value) -> Result<Filter> {
        let fields = self.schema.default_fields();
        if fields.is_empty() {
            return Err(QueryError::new("terms without a field are not supported; write field:value", v.pos()));
        }
        let mut items = Vec::with_capacity(fields.len());
        for &path in fields {
            let Some(kind) = self.schema.field(path) else {
                return Err(QueryError::new(
                    format!("schema error: default field '{path}' is not a known field"),
                    v.pos(),
                ));
            };
            items.push(Filter::Field { path: path.to_owned(), kind, cond: value::cond(path, kind, v)? });
        }
        Ok(join(items, Filter::Or))
    }
}

/// `depth + 1`, or an error at `pos` when that exceeds [`MAX_DEPTH`].
fn deeper(depth: usize, pos: usize) -> Result<usize> {
    let depth = depth + 1;
    if depth > MAX_DEPTH {
        return Err(QueryError::new(format!("groups and NOTs are nested deeper than {MAX_DEPTH} levels"), pos));
    }
    Ok(depth)
}

fn unclosed_paren(open: usize) -> QueryError {
    QueryError::new("unbalanced '(': this group is never closed", open)
}

fn unclosed_range(open: usize) -> QueryError {
    QueryError::new("this range is never closed with ']' or '}'", open)
}

/// One item as itself, several under `make`.
fn join(mut items: Vec<Filter>, make: fn(Vec<Filter>) -> Filter) -> Filter {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    make(items)
}
