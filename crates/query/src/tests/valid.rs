//! Queries that parse, with the exact filter each gives.

use std::ops::Bound::{Excluded, Included, Unbounded};

use super::*;
use crate::{Cond, FieldKind, Filter, Scalar};

// Unix milliseconds at midnight UTC, checked against Python's calendar.timegm.
const D2017_11_01: i64 = 1_509_494_400_000;
const D2017_12_01: i64 = 1_512_086_400_000;
const D2017_12_31: i64 = 1_514_678_400_000;
const D2018_01_01: i64 = 1_514_764_800_000;
const D2019_01_01: i64 = 1_546_300_800_000;
const D2020_01_01: i64 = 1_577_836_800_000;
const D2020_01_15: i64 = 1_579_046_400_000;
const D2020_01_16: i64 = 1_579_132_800_000;
const D2020_02_01: i64 = 1_580_515_200_000;
const D2020_03_01: i64 = 1_583_020_800_000;
const D2021_01_01: i64 = 1_609_459_200_000;
const T2020_01_15_1030: i64 = 1_579_084_200_000;

fn strings(pieces: &[&str]) -> Vec<String> {
    pieces.iter().map(|p| (*p).to_owned()).collect()
}

#[test]
fn empty_queries_match_everything() {
    check(vec![("", Filter::All), ("   ", Filter::All), ("\t\r\n\u{3000}", Filter::All), ("*:*", Filter::All)]);
}

#[test]
fn text_fields_and_case() {
    check(vec![
        ("email:jane@example.com", ci("email", "jane@example.com")),
        ("email:Jane@Example.COM", ci("email", "jane@example.com")),
        ("email:jane+test@example.com", ci("email", "jane+test@example.com")),
        ("email.domain:Example.com", ci("email.domain", "example.com")),
        ("username:JaneDoe", ci("username", "janedoe")),
        ("given_name:ÉLODIE", ci("given_name", "élodie")),
        ("family_name:Smith", ci("family_name", "smith")),
        ("nickname:JD", ci("nickname", "jd")),
        ("user_id:auth0|ABC123", cs("user_id", "auth0|ABC123")),
        ("identities.connection:\"google-oauth2\"", cs("identities.connection", "google-oauth2")),
        ("identities.provider:Auth0", cs("identities.provider", "Auth0")),
        ("identities.user_id:123", cs("identities.user_id", "123")),
        ("phone_number:+15551234567", cs("phone_number", "+15551234567")),
        ("last_ip:10.0.0.1", cs("last_ip", "10.0.0.1")),
        ("organization_id:org_AbC", cs("organization_id", "org_AbC")),
        // Colons after the field separator belong to the value.
        ("last_ip:::1", cs("last_ip", "::1")),
        ("user_id:a:B:c", cs("user_id", "a:B:c")),
        // Whitespace may follow the colon.
        ("name: jane", ci("name", "jane")),
        ("name:  \"Jane Smith\"", ci("name", "jane smith")),
        // Operator words only count when upper-case and alone.
        ("name:and", ci("name", "and")),
        ("name:AND", ci("name", "and")),
        ("name:TO", ci("name", "to")),
        ("name:a-b=c&d|e!f", ci("name", "a-b=c&d|e!f")),
        ("name:-x", ci("name", "-x")),
        ("name:https://x.example/a", ci("name", "https://x.example/a")),
    ]);
}

#[test]
fn phrases_and_escapes() {
    check(vec![
        ("name:\"jane smith\"", ci("name", "jane smith")),
        (r#"name:"say \"hi\"""#, ci("name", "say \"hi\"")),
        (r#"name:"back\\slash""#, ci("name", "back\\slash")),
        // Wildcards and rejected characters are literal inside quotes.
        ("name:\"jo*\"", ci("name", "jo*")),
        ("name:\"who? ~me^ /x/\"", ci("name", "who? ~me^ /x/")),
        (r"name:John\ Doe", ci("name", "john doe")),
        (r"name:a\:b", ci("name", "a:b")),
        (r"name:a\*", ci("name", "a*")),
        (r"name:\*usa", ci("name", "*usa")),
        (r"name:what\?", ci("name", "what?")),
        (r"name:\/x\/", ci("name", "/x/")),
        (r"name:\(x\)", ci("name", "(x)")),
        (r"name:\AND", ci("name", "and")),
        (r"\+1", defaults(Cond::Eq(text("+1")))),
        (r"\NOT", defaults(Cond::Eq(text("not")))),
        (r"user_metadata.first\ name:Ann", meta("user_metadata.first name", "Ann")),
        ("name:日本", ci("name", "日本")),
    ]);
}

#[test]
fn wildcards() {
    check(vec![
        ("name:j*", name(Cond::Prefix("j".into()))),
        ("name:J*", name(Cond::Prefix("j".into()))),
        ("name:jo**", name(Cond::Prefix("jo".into()))),
        ("name:*usa", name(Cond::Suffix("usa".into()))),
        ("name:**USA", name(Cond::Suffix("usa".into()))),
        ("name:*john*", name(Cond::Contains("john".into()))),
        (r"name:*a\ b*", name(Cond::Contains("a b".into()))),
        ("name:jane*smith", name(Cond::Glob(strings(&["jane", "smith"])))),
        ("name:ab*c", name(Cond::Glob(strings(&["ab", "c"])))),
        ("name:*a*bc*", name(Cond::Glob(strings(&["", "a", "bc", ""])))),
        ("name:*a**b*c", name(Cond::Glob(strings(&["", "a", "b", "c"])))),
        ("name:jo*s*", name(Cond::Glob(strings(&["jo", "s", ""])))),
        ("user_id:auth0*", field("user_id", CS, Cond::Prefix("auth0".into()))),
        ("user_id:*|ABC", field("user_id", CS, Cond::Suffix("|ABC".into()))),
        ("name:日本*", name(Cond::Prefix("日本".into()))),
        ("name:*日本語*", name(Cond::Contains("日本語".into()))),
        ("name:*", name(Cond::Exists)),
        ("name:***", name(Cond::Exists)),
        ("logins_count:*", field("logins_count", FieldKind::Integer, Cond::Exists)),
        ("created_at:*", field("created_at", FieldKind::Date, Cond::Exists)),
        ("blocked:*", field("blocked", FieldKind::Bool, Cond::Exists)),
    ]);
}

#[test]
fn integers_and_booleans() {
    check(vec![
        ("logins_count:42", int("logins_count", 42)),
        ("logins_count:0", int("logins_count", 0)),
        ("logins_count:-1", int("logins_count", -1)),
        ("logins_count:\"7\"", int("logins_count", 7)),
        ("logins_count:9223372036854775807", int("logins_count", i64::MAX)),
        ("blocked:true", boolean("blocked", true)),
        ("email_verified:false", boolean("email_verified", false)),
        ("phone_verified:true", boolean("phone_verified", true)),
        ("identities.isSocial:true", boolean("identities.isSocial", true)),
    ]);
}

#[test]
fn dates_cover_their_period() {
    check(vec![
        ("created_at:2020", date_range("created_at", D2020_01_01, D2021_01_01)),
        ("created_at:2020-02", date_range("created_at", D2020_02_01, D2020_03_01)),
        ("updated_at:2020-01-15", date_range("updated_at", D2020_01_15, D2020_01_16)),
        ("last_login:2020-01-15T10:30", date_range("last_login", T2020_01_15_1030, T2020_01_15_1030 + 60_000)),
        (
            "last_login:2020-01-15T10:30:05Z",
            date_range("last_login", T2020_01_15_1030 + 5_000, T2020_01_15_1030 + 6_000),
        ),
        (
            "last_login:2020-01-15T10:30:05.123Z",
            date_range("last_login", T2020_01_15_1030 + 5_123, T2020_01_15_1030 + 5_124),
        ),
        (
            "last_password_reset:\"2020-01-15T10:30:05Z\"",
            date_range("last_password_reset", T2020_01_15_1030 + 5_000, T2020_01_15_1030 + 6_000),
        ),
    ]);
}

#[test]
fn ranges() {
    let i = |n| Scalar::Int(n);
    let d = Scalar::Date;
    let count = |lower, upper| field("logins_count", FieldKind::Integer, range(lower, upper));
    let login = |lower, upper| field("last_login", FieldKind::Date, range(lower, upper));
    check(vec![
        ("logins_count:[100 TO 200]", count(Included(i(100)), Included(i(200)))),
        ("logins_count:{100 TO 200}", count(Excluded(i(100)), Excluded(i(200)))),
        ("logins_count:[100 TO 200}", count(Included(i(100)), Excluded(i(200)))),
        ("logins_count:{100 TO *]", count(Excluded(i(100)), Unbounded)),
        ("logins_count:[* TO 5]", count(Unbounded, Included(i(5)))),
        ("logins_count:[* TO *]", count(Unbounded, Unbounded)),
        ("logins_count:[-5 TO \"5\"]", count(Included(i(-5)), Included(i(5)))),
        ("logins_count: [ 1  TO  2 ]", count(Included(i(1)), Included(i(2)))),
        ("last_login:[2017-12-01 TO 2017-12-31]", login(Included(d(D2017_12_01)), Excluded(d(D2018_01_01)))),
        ("last_login:[2017-11 TO 2017-12]", login(Included(d(D2017_11_01)), Excluded(d(D2018_01_01)))),
        ("last_login:{2017-11 TO 2017-12}", login(Included(d(D2017_12_01)), Excluded(d(D2017_12_01)))),
        (
            "last_login:{2017-12-01 TO 2017-12-31]",
            login(Included(d(D2017_12_01 + 86_400_000)), Excluded(d(D2018_01_01))),
        ),
        ("last_login:[2017-12-31 TO 2017-12-31}", login(Included(d(D2017_12_31)), Excluded(d(D2017_12_31)))),
        ("last_login:[2019 TO *]", login(Included(d(D2019_01_01)), Unbounded)),
        ("last_login:[* TO 2020-01-15T10:30:00Z]", login(Unbounded, Excluded(d(T2020_01_15_1030 + 1_000)))),
        ("name:[A TO \"M z\"]", name(range(Included(text("a")), Included(text("m z"))))),
        ("user_id:{A TO B]", field("user_id", CS, range(Excluded(text("A")), Included(text("B"))))),
        ("name:[\\* TO b]", name(range(Included(text("*")), Included(text("b"))))),
    ]);
}

#[test]
fn metadata() {
    check(vec![
        ("user_metadata.theme:dark", meta("user_metadata.theme", "dark")),
        ("user_metadata.theme:Dark", meta("user_metadata.theme", "Dark")),
        ("app_metadata.plan:\"gold\"", meta("app_metadata.plan", "gold")),
        ("app_metadata.count:42", meta("app_metadata.count", "42")),
        ("user_metadata.vip:true", meta("user_metadata.vip", "true")),
        ("app_metadata.subscription.plan:\"Gold Plus\"", meta("app_metadata.subscription.plan", "Gold Plus")),
        ("user_metadata.addresses.city:Paris", meta("user_metadata.addresses.city", "Paris")),
        ("user_metadata.note:\"a*b\"", meta("user_metadata.note", "a*b")),
        (r"user_metadata.note:a\*b", meta("user_metadata.note", "a*b")),
    ]);
}

#[test]
fn exists_tests() {
    let md = FieldKind::Metadata;
    check(vec![
        ("_exists_:email", exists("email", CI)),
        ("_exists_:logins_count", exists("logins_count", FieldKind::Integer)),
        ("_exists_:user_metadata", exists("user_metadata", md)),
        ("_exists_:app_metadata", exists("app_metadata", md)),
        ("_exists_:user_metadata.display.preferredLanguage", exists("user_metadata.display.preferredLanguage", md)),
        ("_exists_: \"email\"", exists("email", CI)),
        ("_exists_:(email OR user_metadata)", Filter::Or(vec![exists("email", CI), exists("user_metadata", md)])),
        (
            "NOT _exists_:logins_count OR logins_count:0",
            Filter::Or(vec![not(exists("logins_count", FieldKind::Integer)), int("logins_count", 0)]),
        ),
    ]);
}
