//! Queries that must be rejected: the byte position reported and a piece of the
//! message.

use super::*;
use crate::MAX_DEPTH;

fn check(cases: &[(&str, usize, &str)]) {
    for &(q, position, fragment) in cases {
        match run(q) {
            Ok(f) => panic!("query {q:?} should fail, got {f:?}"),
            Err(e) => {
                assert_eq!(e.position, position, "position for {q:?}: {e}");
                assert!(e.message.contains(fragment), "message for {q:?} should contain {fragment:?}: {e}");
            }
        }
    }
}

#[test]
fn structure() {
    check(&[
        ("(blocked:true", 0, "never closed"),
        ("blocked:true AND (logins_count:1", 17, "never closed"),
        ("blocked:true)", 12, "')'"),
        ("blocked:true))", 12, "')'"),
        (")", 0, "')'"),
        ("()", 0, "empty group"),
        ("blocked:true ()", 13, "empty group"),
        ("(", 0, "never closed"),
        ("blocked:true AND", 13, "'AND' must be followed"),
        ("blocked:true &&", 13, "'&&' must be followed"),
        ("blocked:true OR", 13, "'OR' must be followed"),
        ("blocked:true ||", 13, "'||' must be followed"),
        ("blocked:true AND OR logins_count:1", 13, "'AND' must be followed"),
        ("(blocked:true AND)", 14, "'AND' must be followed"),
        ("AND blocked:true", 0, "'AND' must come after a term"),
        ("OR blocked:true", 0, "'OR' must come after a term"),
        ("(OR blocked:true)", 1, "'OR' must come after a term"),
        ("NOT", 0, "'NOT' must be followed"),
        ("!", 0, "'!' must be followed"),
        ("blocked:true NOT", 13, "'NOT' must be followed"),
        ("NOT AND blocked:true", 0, "'NOT' must be followed"),
        ("NOT )", 0, "'NOT' must be followed"),
        ("blocked:true ]", 13, "outside a range"),
        ("}", 0, "outside a range"),
        ("[1 TO 5]", 0, "needs a field"),
        ("{a TO b}", 0, "needs a field"),
    ]);
}

#[test]
fn quotes_and_escapes() {
    check(&[
        ("\"jane", 0, "unterminated"),
        ("name:\"jane", 5, "unterminated"),
        ("name:\"jane\\\"", 5, "unterminated"),
        ("name:\"a\" \"b", 9, "unterminated"),
        ("name\\", 4, "backslash"),
        ("name:jane\\", 9, "backslash"),
        ("name:\"\"", 5, "empty value"),
        ("\"\"", 0, "empty value"),
    ]);
}

#[test]
fn fields() {
    check(&[
        ("name:", 5, "missing value after 'name:'"),
        ("name:   ", 5, "missing value"),
        ("name: AND x", 5, "missing value"),
        ("name: )", 5, "missing value"),
        ("(name:)", 6, "missing value"),
        ("name: NOT x", 5, "missing value"),
        ("name: ]", 5, "missing value"),
        (":jane", 0, "missing field name"),
        ("foo:bar", 0, "unknown field 'foo'"),
        ("Email:x", 0, "unknown field 'Email'"),
        ("blocked:true foo:1", 13, "unknown field"),
        ("user_metadata:x", 0, "only be tested with _exists_"),
        ("app_metadata:x", 0, "only be tested with _exists_"),
        ("user_metadata.:x", 0, "unknown field"),
        ("user_metadata..a:x", 0, "unknown field"),
        ("app_metadata.a.:x", 0, "unknown field"),
        ("user_metadatax.a:x", 0, "unknown field"),
        ("*:foo", 0, "wildcards in field names"),
        ("na*me:x", 0, "wildcards in field names"),
        ("name:(email:x)", 6, "field group cannot contain another field"),
        ("name:(jane OR email:x)", 14, "field group"),
        ("_exists_:nope", 9, "unknown field 'nope'"),
        ("_exists_:user_metadata.", 9, "unknown field"),
        ("_exists_:name*", 13, "without wildcards"),
        ("_exists_:*", 9, "without wildcards"),
        ("_exists_:[a TO b]", 9, "not a range"),
        ("_exists_:", 9, "missing value"),
        ("_exists_:\"\"", 9, "unknown field ''"),
    ]);
}

#[test]
fn unsupported_lucene_syntax() {
    check(&[
        ("name:jo?n", 7, "'?'"),
        ("jo?n", 2, "'?'"),
        ("?", 0, "'?'"),
        ("name:jane~", 9, "fuzzy"),
        ("name:jane~2", 9, "fuzzy"),
        ("\"jane smith\"~2", 12, "fuzzy"),
        ("name:jane^2", 9, "boost"),
        ("name:/jo.*/", 5, "regular expressions"),
        ("/abc/", 0, "regular expressions"),
        ("name:(/a/)", 6, "regular expressions"),
        ("+blocked:true", 0, "'+' and '-' prefix"),
        ("-blocked:true", 0, "'+' and '-' prefix"),
        ("blocked:true -logins_count:1", 13, "prefix"),
        ("-jane", 0, "prefix"),
        ("name:(-jane)", 6, "prefix"),
    ]);
}

#[test]
fn wildcard_rules() {
    check(&[
        ("name:*sa", 5, "at least 3 literal characters"),
        ("name:*ab*", 5, "at least 3"),
        ("name:a*b", 5, "at least 3"),
        ("name:j*s*", 5, "at least 3"),
        ("name:*a*b*", 5, "at least 3"),
        ("*sa", 0, "at least 3"),
        ("logins_count:1*", 13, "wildcards are not supported on integer field"),
        ("created_at:20*", 11, "wildcards are not supported on date field"),
        ("blocked:tr*", 8, "wildcards are not supported on boolean field"),
        ("user_metadata.theme:da*", 20, "not supported on metadata"),
        ("user_metadata.theme:*dark", 20, "metadata"),
        ("app_metadata.plan:*", 18, "_exists_:app_metadata.plan"),
    ]);
}

#[test]
fn value_types() {
    check(&[
        ("logins_count:abc", 13, "'logins_count' takes an integer, not 'abc'"),
        ("logins_count:1.5", 13, "integer"),
        ("logins_count:99999999999999999999", 13, "integer"),
        ("logins_count:\"\"", 13, "empty value"),
        ("blocked:yes", 8, "true or false"),
        ("blocked:True", 8, "true or false"),
        ("blocked:1", 8, "true or false"),
        ("created_at:yesterday", 11, "UTC date"),
        ("created_at:2020-13", 11, "date"),
        ("created_at:2020-02-30", 11, "date"),
        ("created_at:2021-02-29", 11, "date"),
        ("created_at:2020-01-15T25:00", 11, "date"),
        ("created_at:2020-01-15T10:00+02:00", 11, "date"),
        ("created_at:2020-1-5", 11, "date"),
        ("created_at:1579046400000", 11, "date"),
    ]);
}

#[test]
fn ranges() {
    check(&[
        ("logins_count:[1 TO 5", 13, "never closed"),
        ("logins_count:[1 TO", 13, "never closed"),
        ("logins_count:[1", 13, "never closed"),
        ("logins_count:[", 13, "never closed"),
        ("logins_count:[1 5]", 16, "expected 'TO'"),
        ("logins_count:[1 to 5]", 16, "expected 'TO'"),
        ("logins_count:[1 TO 5 6]", 21, "expected ']' or '}'"),
        ("logins_count:[1 TO 5)", 20, "expected ']' or '}'"),
        ("logins_count:[(1) TO 5]", 14, "expected a range bound"),
        ("logins_count:[1 TO ]", 19, "expected a range bound"),
        ("logins_count:[a TO 5]", 14, "integer"),
        ("logins_count:[1 TO b]", 19, "integer"),
        ("logins_count:[1* TO 5]", 15, "wildcards are not allowed in range bounds"),
        ("name:[a TO \"\"]", 11, "empty range bound"),
        ("last_login:[2017-13 TO *]", 12, "date"),
        ("blocked:[false TO true]", 8, "ranges are not supported on boolean"),
        ("app_metadata.level:[1 TO 5]", 19, "ranges are not supported on metadata"),
        ("user_metadata.age:{1 TO *]", 18, "metadata"),
    ]);
}

#[test]
fn nesting_beyond_max_depth() {
    let n = MAX_DEPTH + 1;
    let groups = format!("{}blocked:true{}", "(".repeat(n), ")".repeat(n));
    let nots = format!("{}blocked:true", "NOT ".repeat(n));
    let bangs = format!("{}blocked:true", "!".repeat(n));
    let field_group = format!("name:{}jane{}", "(".repeat(n), ")".repeat(n));
    check(&[
        (&groups, MAX_DEPTH, "nested deeper than 16"),
        (&nots, 4 * MAX_DEPTH, "nested deeper"),
        (&bangs, MAX_DEPTH, "nested deeper"),
        (&field_group, 5 + MAX_DEPTH, "nested deeper"),
    ]);
    // Far deeper input must fail the same way, not overflow the stack.
    let huge = "(".repeat(1_000_000);
    assert_eq!(run(&huge).map_err(|e| e.position), Err(MAX_DEPTH));
    let huge = "NOT ".repeat(1_000_000);
    assert_eq!(run(&huge).map_err(|e| e.position), Err(4 * MAX_DEPTH));
}
