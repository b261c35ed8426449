//! Queries that parse: boolean structure, groups, unfielded terms, depth.

use std::ops::Bound::Included;

use super::*;
use crate::{Cond, FieldKind, Filter, Scalar, MAX_DEPTH};

#[test]
fn boolean_structure() {
    let b = || boolean("blocked", true);
    let c = || int("logins_count", 1);
    let v = || boolean("email_verified", true);
    check(vec![
        // Juxtaposition is OR.
        ("blocked:true logins_count:1", Filter::Or(vec![b(), c()])),
        ("blocked:true OR logins_count:1", Filter::Or(vec![b(), c()])),
        ("blocked:true || logins_count:1", Filter::Or(vec![b(), c()])),
        ("blocked:true AND logins_count:1", Filter::And(vec![b(), c()])),
        ("blocked:true && logins_count:1", Filter::And(vec![b(), c()])),
        ("blocked:true AND logins_count:1 AND email_verified:true", Filter::And(vec![b(), c(), v()])),
        // NOT > AND > OR.
        ("blocked:true OR logins_count:1 AND email_verified:true", Filter::Or(vec![b(), Filter::And(vec![c(), v()])])),
        ("blocked:true AND logins_count:1 OR email_verified:true", Filter::Or(vec![Filter::And(vec![b(), c()]), v()])),
        ("blocked:true logins_count:1 AND email_verified:true", Filter::Or(vec![b(), Filter::And(vec![c(), v()])])),
        ("NOT blocked:true AND email_verified:true", Filter::And(vec![not(b()), v()])),
        ("blocked:true NOT logins_count:1", Filter::And(vec![b(), not(c())])),
        (
            "email_verified:true blocked:true NOT logins_count:1",
            Filter::Or(vec![v(), Filter::And(vec![b(), not(c())])]),
        ),
        ("!blocked:true", not(b())),
        ("! blocked:true", not(b())),
        ("NOT NOT blocked:true", not(not(b()))),
        ("NOT (blocked:true)", not(b())),
        // Grouping.
        (
            "(blocked:true OR logins_count:1) AND email_verified:true",
            Filter::And(vec![Filter::Or(vec![b(), c()]), v()]),
        ),
        ("((blocked:true))", b()),
        ("(blocked:true)(logins_count:1)", Filter::Or(vec![b(), c()])),
        (
            "(blocked:true AND (logins_count:1 OR NOT email_verified:true))",
            Filter::And(vec![b(), Filter::Or(vec![c(), not(v())])]),
        ),
    ]);
}

#[test]
fn field_groups() {
    check(vec![
        ("name:(jane OR \"John Smith\")", Filter::Or(vec![ci("name", "jane"), ci("name", "john smith")])),
        ("name:(jane john)", Filter::Or(vec![ci("name", "jane"), ci("name", "john")])),
        ("name:(jane AND NOT j*)", Filter::And(vec![ci("name", "jane"), not(name(Cond::Prefix("j".into())))])),
        (
            "logins_count:([1 TO 5] OR 10)",
            Filter::Or(vec![
                field("logins_count", FieldKind::Integer, range(Included(Scalar::Int(1)), Included(Scalar::Int(5)))),
                int("logins_count", 10),
            ]),
        ),
        ("name:((jane))", ci("name", "jane")),
        ("name: (jane)", ci("name", "jane")),
    ]);
}

#[test]
fn unfielded_terms() {
    let user_theme = meta("user_metadata.theme", "dark");
    check(vec![
        ("jane", defaults(Cond::Eq(text("jane")))),
        ("Jane", defaults(Cond::Eq(text("jane")))),
        ("\"Jane Smith\"", defaults(Cond::Eq(text("jane smith")))),
        ("jo*", defaults(Cond::Prefix("jo".into()))),
        ("*smith", defaults(Cond::Suffix("smith".into()))),
        (
            "jane and john",
            Filter::Or(vec![
                defaults(Cond::Eq(text("jane"))),
                defaults(Cond::Eq(text("and"))),
                defaults(Cond::Eq(text("john"))),
            ]),
        ),
        // The seed query: `name=j*` is an ordinary prefix term.
        (
            "name=j* AND user_metadata.theme:dark",
            Filter::And(vec![defaults(Cond::Prefix("name=j".into())), user_theme]),
        ),
        ("TO", defaults(Cond::Eq(text("to")))),
        ("a-b", defaults(Cond::Eq(text("a-b")))),
        ("_exists_", defaults(Cond::Eq(text("_exists_")))),
    ]);
}

#[test]
fn nesting_up_to_max_depth() {
    let b = boolean("blocked", true);
    let groups = format!("{}blocked:true{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(run(&groups), Ok(b.clone()));

    let nots = format!("{}blocked:true", "NOT ".repeat(MAX_DEPTH));
    let mut want = b.clone();
    for _ in 0..MAX_DEPTH {
        want = not(want);
    }
    assert_eq!(run(&nots), Ok(want));

    let mixed = format!("{}blocked:true{}", "NOT (".repeat(MAX_DEPTH / 2), ")".repeat(MAX_DEPTH / 2));
    assert!(run(&mixed).is_ok());

    let field_group = format!("name:{}jane{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(run(&field_group), Ok(ci("name", "jane")));
}

#[test]
fn long_flat_queries_do_not_recurse() {
    let q = vec!["logins_count:1"; 50_000].join(" OR ");
    match run(&q) {
        Ok(Filter::Or(items)) => assert_eq!(items.len(), 50_000),
        other => panic!("unexpected {other:?}"),
    }
    let q = vec!["logins_count:1"; 50_000].join(" AND ");
    match run(&q) {
        Ok(Filter::And(items)) => assert_eq!(items.len(), 50_000),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn custom_schema_without_defaults() {
    struct Narrow;
    impl crate::Schema for Narrow {
        fn field(&self, path: &str) -> Option<FieldKind> {
            (path == "code").then_some(FieldKind::Integer)
        }
        fn default_fields(&self) -> &[&'static str] {
            &[]
        }
    }
    assert_eq!(crate::parse("code:3", &Narrow), Ok(eq("code", FieldKind::Integer, Scalar::Int(3))));
    let err = crate::parse("code:3 three", &Narrow).err();
    assert_eq!(err.map(|e| e.position), Some(7));
    // `exists_field` defaults to `field`.
    assert!(crate::parse("_exists_:code", &Narrow).is_ok());
    assert!(crate::parse("_exists_:user_metadata", &Narrow).is_err());
}
