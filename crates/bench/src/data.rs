//! Deterministic benchmark profiles.
//!
//! User `i` of a data set with seed `s` depends only on `(s, i)`: the first
//! 100,000 users of a 1M set are the 100k set, and the load generator can
//! rebuild any user's email or id without reading the store. The generator is
//! a SplitMix64 written here, so a data set never changes with a dependency.
//!
//! Shape (rates are per user, independent of the set's size):
//! - names from 100 given and 100 family names (10 given names start with J,
//!   9 family names end in "son");
//! - email `given.family<i>@domain`: gmail.com 25%, 14 other public providers
//!   45%, 2,000 company domains 30%;
//! - created_at uniform over 2016-01-01 .. 2025-12-31, updated_at after it;
//!   85% have logged in (last_login, last_ip, logins_count exponential, mean 50);
//! - user_metadata: preferences {theme: dark 25% / light 50% / system 25%,
//!   language, newsletter}, tags (array), address {city, country, zip} for 25%;
//! - app_metadata: plan (free 80%, pro 19.92%, enterprise 0.08%), roles
//!   (array; admin 1%, auditor 0.05%), tenant {region, shard}, beta_features
//!   (array) for 0.05%, winner: true for 0.01%.

use castellan_domain::clock::format_ms;
use castellan_domain::user::{default_picture, Identity, User};
use serde_json::{json, Map, Value};

pub const CONNECTION: &str = "Username-Password-Authentication";

/// 2016-01-01T00:00:00Z and 2026-01-01T00:00:00Z in unix milliseconds.
const START_MS: i64 = 1_451_606_400_000;
const END_MS: i64 = 1_767_225_600_000;

const GIVEN: [&str; 100] = [
    "James",
    "John",
    "Jennifer",
    "Jessica",
    "Joseph",
    "Joshua",
    "Julia",
    "Jose",
    "Jack",
    "Jasmine",
    "Mary",
    "Robert",
    "Patricia",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Kenneth",
    "Michelle",
    "Kevin",
    "Carol",
    "Brian",
    "Amanda",
    "George",
    "Melissa",
    "Timothy",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Edward",
    "Rebecca",
    "Ryan",
    "Sharon",
    "Gary",
    "Laura",
    "Nicholas",
    "Cynthia",
    "Eric",
    "Amy",
    "Stephen",
    "Kathleen",
    "Larry",
    "Angela",
    "Frank",
    "Shirley",
    "Scott",
    "Brenda",
    "Emma",
    "Benjamin",
    "Olivia",
    "Samuel",
    "Catherine",
    "Gregory",
    "Christine",
    "Alexander",
    "Samantha",
    "Patrick",
    "Debra",
    "Raymond",
    "Rachel",
    "Dennis",
    "Carolyn",
    "Tyler",
    "Heather",
    "Aaron",
    "Maria",
    "Adam",
    "Diane",
    "Henry",
    "Ruth",
    "Nathan",
    "Chloe",
    "Zoe",
    "Noah",
];

const FAMILY: [&str; 100] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Carlson",
];

/// Public providers after gmail.com (which takes 25% of all users).
const PROVIDERS: [&str; 14] = [
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
    "aol.com",
    "gmx.de",
    "mail.ru",
    "yandex.ru",
    "web.de",
    "orange.fr",
    "free.fr",
    "qq.com",
    "163.com",
];

const CO_A: [&str; 40] = [
    "acme", "globex", "initech", "umbrella", "stark", "wayne", "wonka", "tyrell", "cyber", "soylent", "hooli",
    "vandelay", "pied", "massive", "aperture", "black", "blue", "red", "green", "north", "south", "east", "west",
    "prime", "nova", "apex", "vertex", "quantum", "silver", "golden", "iron", "stone", "river", "lake", "cloud",
    "data", "pixel", "rocket", "summit", "harbor",
];
const CO_B: [&str; 50] = [
    "corp",
    "labs",
    "systems",
    "works",
    "group",
    "tech",
    "soft",
    "net",
    "logic",
    "dynamics",
    "media",
    "foods",
    "health",
    "energy",
    "motors",
    "bank",
    "capital",
    "ventures",
    "partners",
    "studio",
    "games",
    "robotics",
    "bio",
    "pharma",
    "retail",
    "travel",
    "air",
    "rail",
    "shipping",
    "mining",
    "farms",
    "textiles",
    "design",
    "consulting",
    "legal",
    "insure",
    "estate",
    "build",
    "print",
    "sports",
    "music",
    "films",
    "books",
    "edu",
    "research",
    "space",
    "ocean",
    "solar",
    "wind",
    "water",
];
const TLDS: [&str; 7] = ["com", "io", "co.uk", "de", "fr", "net", "org"];

const LANGS: [&str; 10] = ["en", "en-GB", "fr", "de", "es", "pt-BR", "ja", "it", "nl", "pl"];
const TAGS: [&str; 12] = [
    "early-adopter",
    "mobile",
    "desktop",
    "vip",
    "newsletter",
    "trial",
    "referral",
    "partner",
    "student",
    "beta",
    "churn-risk",
    "gdpr",
];
const CITIES: [(&str, &str); 12] = [
    ("Paris", "FR"),
    ("Berlin", "DE"),
    ("London", "GB"),
    ("Madrid", "ES"),
    ("New York", "US"),
    ("Austin", "US"),
    ("Toronto", "CA"),
    ("Tokyo", "JP"),
    ("Sydney", "AU"),
    ("Lisbon", "PT"),
    ("Warsaw", "PL"),
    ("Amsterdam", "NL"),
];
const REGIONS: [&str; 3] = ["eu", "us", "ap"];
const FEATURES: [&str; 5] = ["new-ui", "passkeys", "ai-assist", "dark-launch", "bulk-export"];

/// Number of distinct company domains.
pub const COMPANY_DOMAINS: u64 = 2000;

/// SplitMix64: tiny, fast, and fixed forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The generator of user `i` of data set `seed`.
    pub fn for_user(seed: u64, i: u64) -> Self {
        let mut r = Rng(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            ((self.next_u64() as u128 * n as u128) >> 64) as u64
        }
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Company domain number `k` (0 <= k < COMPANY_DOMAINS).
pub fn company_domain(k: u64) -> String {
    let a = CO_A[(k % 40) as usize];
    let b = CO_B[((k / 40) % 50) as usize];
    let tld = TLDS[(k % 7) as usize];
    format!("{a}{b}.{tld}")
}

/// The fields the load generator needs to address user `i` without the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Handle {
    pub user_id: String,
    pub email: String,
}

/// Only the identifying fields of user `i` (same draws as [`user`]).
pub fn handle(seed: u64, i: u64) -> Handle {
    let u = user(seed, i);
    Handle { user_id: u.user_id, email: u.email.unwrap_or_default() }
}

/// User `i` of data set `seed`, as the store keeps it.
pub fn user(seed: u64, i: u64) -> User {
    let mut r = Rng::for_user(seed, i);
    let given = *r.pick(&GIVEN);
    let family = *r.pick(&FAMILY);
    let domain = {
        let x = r.unit();
        if x < 0.25 {
            "gmail.com".to_string()
        } else if x < 0.70 {
            r.pick(&PROVIDERS).to_string()
        } else {
            company_domain(r.below(COMPANY_DOMAINS))
        }
    };
    let email = format!("{}.{}{}@{}", given.to_lowercase(), family.to_lowercase(), i, domain);
    let name = format!("{given} {family}");
    let created = START_MS + r.below((END_MS - START_MS) as u64) as i64;
    let updated = created + r.below((END_MS - created) as u64) as i64;
    let local_id = format!("{:08x}{:016x}", (created / 1000) as u32, r.next_u64());
    let logged_in = r.chance(0.85);
    let (last_login, logins_count, last_ip) = if logged_in {
        let at = created + r.below((END_MS - created) as u64) as i64;
        let count = 1 + (-(1.0 - r.unit()).ln() * 50.0) as i64;
        let ip = format!("{}.{}.{}.{}", 1 + r.below(223), r.below(256), r.below(256), 1 + r.below(254));
        (Some(format_ms(at)), Some(count), Some(ip))
    } else {
        (None, Some(0), None)
    };
    let email_verified = r.chance(0.8);
    let blocked = if r.chance(0.005) { Some(true) } else { None };
    let user_metadata = user_metadata(&mut r);
    let app_metadata = app_metadata(&mut r);
    let picture = default_picture(Some(&email), &name);
    User {
        created_at: format_ms(created),
        email: Some(email),
        email_verified,
        family_name: Some(family.to_string()),
        given_name: Some(given.to_string()),
        identities: vec![Identity {
            connection: CONNECTION.to_string(),
            user_id: local_id.clone(),
            provider: "auth0".to_string(),
            is_social: false,
        }],
        name: Some(name),
        nickname: Some(format!("{}{}", given.to_lowercase(), i % 1000)),
        phone_number: None,
        phone_verified: None,
        picture: Some(picture),
        updated_at: format_ms(updated),
        user_id: format!("auth0|{local_id}"),
        username: None,
        blocked,
        last_ip,
        last_login,
        logins_count,
        last_password_reset: None,
        user_metadata: Some(user_metadata),
        app_metadata: Some(app_metadata),
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn user_metadata(r: &mut Rng) -> Map<String, Value> {
    let theme = match r.below(4) {
        0 => "dark",
        3 => "system",
        _ => "light",
    };
    let mut m = obj(json!({
        "preferences": {
            "theme": theme,
            "language": r.pick(&LANGS),
            "newsletter": r.chance(0.3),
        },
    }));
    let n_tags = r.below(4) as usize;
    let tags: Vec<&str> = (0..n_tags).map(|_| *r.pick(&TAGS)).collect();
    m.insert("tags".into(), json!(tags));
    if r.chance(0.25) {
        let (city, country) = *r.pick(&CITIES);
        m.insert(
            "address".into(),
            json!({"city": city, "country": country, "zip": format!("{:05}", r.below(100_000))}),
        );
    }
    m
}

fn app_metadata(r: &mut Rng) -> Map<String, Value> {
    let x = r.unit();
    let plan = if x < 0.0008 {
        "enterprise"
    } else if x < 0.2 {
        "pro"
    } else {
        "free"
    };
    let mut roles = vec!["user"];
    if r.chance(0.01) {
        roles.push("admin");
    }
    if r.chance(0.0005) {
        roles.push("auditor");
    }
    let mut m = obj(json!({
        "plan": plan,
        "roles": roles,
        "tenant": {"region": r.pick(&REGIONS), "shard": r.below(64)},
    }));
    if r.chance(0.0005) {
        let f: Vec<&str> = (0..1 + r.below(3)).map(|_| *r.pick(&FEATURES)).collect();
        m.insert("beta_features".into(), json!(f));
    }
    if r.chance(0.0001) {
        m.insert("winner".into(), json!(true));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_deterministic_and_distinct() {
        assert_eq!(user(7, 42), user(7, 42));
        assert_ne!(user(7, 42).email, user(7, 43).email);
        assert_ne!(user(7, 42).user_id, user(8, 42).user_id);
        let h = handle(7, 42);
        assert_eq!(h.email, user(7, 42).email.unwrap_or_default());
        assert!(h.user_id.starts_with("auth0|") && h.user_id.len() == 30, "{}", h.user_id);
    }

    #[test]
    fn rates_are_roughly_as_documented() {
        let n = 20_000u64;
        let users: Vec<User> = (0..n).map(|i| user(1, i)).collect();
        let frac = |f: &dyn Fn(&User) -> bool| users.iter().filter(|u| f(u)).count() as f64 / n as f64;
        let gmail = frac(&|u| u.email_domain().as_deref() == Some("gmail.com"));
        assert!((0.23..0.27).contains(&gmail), "{gmail}");
        let dark = frac(&|u| u.user_metadata.as_ref().is_some_and(|m| m["preferences"]["theme"] == "dark"));
        assert!((0.23..0.27).contains(&dark), "{dark}");
        let j = frac(&|u| u.name.as_deref().is_some_and(|s| s.starts_with('J')));
        assert!((0.08..0.12).contains(&j), "{j}");
    }
}
