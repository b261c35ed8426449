"""The Python of seed 003 ("Auth0 Management API from Python"), run against castellan.

The SDK calls below are the seed's, in the seed's order and with the seed's
arguments. Only three things differ:
  * domain, client_id and client_secret come from the environment
    (CASTELLAN_DOMAIN, CLIENT_ID, CLIENT_SECRET) instead of literals;
  * the seed's '{YOUR_USER_ID}' placeholder is a user this script first creates
    through the SDK (auth0.users.create), together with a few users whose names
    and themes give the seed's search examples something to find;
  * after each step the script checks the result against what the seed's printed
    output shows, and exits non-zero on the first run of mismatches.
"""

import os
import random
import re
import sys
import uuid

from auth0.authentication import GetToken
from auth0.management import Auth0

CONNECTION = "Username-Password-Authentication"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

failures = []


def expect(cond, what):
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        failures.append(what)


def expect_totals_shape(result, what, start, limit):
    expect(isinstance(result, dict), f"{what}: include_totals gives a dict")
    if not isinstance(result, dict):
        return
    expect(
        set(result) >= {"start", "limit", "length", "users", "total"},
        f"{what}: has start/limit/length/users/total (got {sorted(result)})",
    )
    expect(result.get("start") == start, f"{what}: start == {start} (got {result.get('start')})")
    expect(result.get("limit") == limit, f"{what}: limit == {limit} (got {result.get('limit')})")
    users = result.get("users", [])
    expect(result.get("length") == len(users), f"{what}: length == len(users)")
    expect(len(users) <= limit, f"{what}: at most {limit} users")
    expect(
        isinstance(result.get("total"), int) and result["total"] >= len(users),
        f"{what}: total >= length",
    )


def names(result):
    return [u.get("name") for u in result["users"]]


# --- seed: setup -------------------------------------------------------------
domain = os.environ["CASTELLAN_DOMAIN"]
client_id = os.environ["CLIENT_ID"]
client_secret = os.environ["CLIENT_SECRET"]

get_token = GetToken(domain, client_id, client_secret=client_secret)
token = get_token.client_credentials('https://{}/api/v2/'.format(domain))
mgmt_api_token = token['access_token']

auth0 = Auth0(domain, token['access_token'])
auth0 = Auth0(domain, mgmt_api_token)

# --- seed: list users --------------------------------------------------------
users = auth0.users.list()
print(users)
expect_totals_shape(users, "users.list()", start=0, limit=25)

# --- not in the seed: the users its examples need ----------------------------
# '{YOUR_USER_ID}' becomes a user created here. The others give the search
# examples (names starting with J, dark theme) known answers.
run = uuid.uuid4().hex[:12]


def create(local, **extra):
    body = {
        "connection": CONNECTION,
        "email": f"{local}.{run}@seed003.example.com",
        "password": f"Seed-003-{run}!",
    }
    body.update(extra)
    return auth0.users.create(body)


me = create("seed")
jane = create("jane", name=f"Jane {run}", user_metadata={"theme": "dark"})
john = create("john", name=f"John {run}", user_metadata={"theme": "light"})
alice = create("alice", name=f"Alice {run}", user_metadata={"theme": "dark"})
fixture_ids = {u["user_id"] for u in (me, jane, john, alice)}

# --- seed: update the user's name and metadata -------------------------------
user_id = me["user_id"]  # the seed's '{YOUR_USER_ID}'

auth0.users.update(user_id, { 'name': 'My name is...' })

auth0.users.update(user_id, {
    'user_metadata': { 'theme': 'light' },
    'app_metadata': { 'experimental_features': True }
})

auth0.users.update(user_id, {
    'user_metadata': { 'font_size': '16px' },
    'app_metadata': { 'notifications': False }
})

user_info = auth0.users.get(user_id)
print(user_info)

email = me["email"]
expect(user_info.get("user_id") == user_id, "get: user_id")
expect(re.fullmatch(r"auth0\|[0-9a-f]{24}", user_id or "") is not None,
       f"user_id is auth0|<24 hex> (got {user_id})")
expect(user_info.get("name") == "My name is...", "get: name updated")
expect(user_info.get("email") == email, "get: email")
expect(user_info.get("email_verified") is False, "get: email_verified False")
expect(user_info.get("nickname") == email.split("@")[0], "get: nickname = email local part")
expect(user_info.get("user_metadata") == {"theme": "light", "font_size": "16px"},
       f"get: user_metadata merged (got {user_info.get('user_metadata')})")
expect(user_info.get("app_metadata") == {"experimental_features": True, "notifications": False},
       f"get: app_metadata merged (got {user_info.get('app_metadata')})")
identities = user_info.get("identities") or [{}]
expect(identities[0] == {
    "connection": CONNECTION,
    "provider": "auth0",
    "user_id": user_id.split("|", 1)[-1],
    "isSocial": False,
}, f"get: identities[0] (got {identities[0]})")
expect(str(user_info.get("picture", "")).startswith("https://"), "get: picture is a URL")
expect(ISO_MS.match(str(user_info.get("created_at"))) is not None, "get: created_at ISO-8601 ms Z")
expect(ISO_MS.match(str(user_info.get("updated_at"))) is not None, "get: updated_at ISO-8601 ms Z")
expect("password" not in user_info, "get: no password in the response")

# --- seed: query users --------------------------------------------------------
users = auth0.users.list(page=1, per_page=10)
expect_totals_shape(users, "list(page=1, per_page=10)", start=10, limit=10)

users = auth0.users.list(sort="name:1")
expect_totals_shape(users, "list(sort='name:1')", start=0, limit=25)
got = [n or "" for n in names(users)]
expect(got == sorted(got, key=str.lower) or got == sorted(got),
       f"list(sort='name:1'): names ascending (got {got})")

users = auth0.users.list(search_engine='v3', q='name:j*')
expect_totals_shape(users, "q='name:j*'", start=0, limit=25)
found = {u["user_id"] for u in users["users"]}
expect(all((n or "").lower().startswith("j") for n in names(users)),
       "q='name:j*': every name starts with j")
expect(users["total"] > 25 or {jane["user_id"], john["user_id"]} <= found,
       "q='name:j*': finds Jane and John")
expect(alice["user_id"] not in found and user_id not in found,
       "q='name:j*': not Alice nor 'My name is...'")

users = auth0.users.list(search_engine='v3', q='user_metadata.theme:dark')
expect_totals_shape(users, "q='user_metadata.theme:dark'", start=0, limit=25)
found = {u["user_id"] for u in users["users"]}
expect(all(u.get("user_metadata", {}).get("theme") == "dark" for u in users["users"]),
       "q='user_metadata.theme:dark': every user has theme dark")
expect(users["total"] > 25 or {jane["user_id"], alice["user_id"]} <= found,
       "q='user_metadata.theme:dark': finds Jane and Alice")

# The seed writes 'name=j*' (not 'name:j*'). In Lucene that is an unfielded term,
# whose meaning in Auth0 is not documented; the query must still be accepted, and
# the AND must still restrict the result to dark-theme users.
users = auth0.users.list(search_engine='v3', q='name=j* AND user_metadata.theme:dark')
expect_totals_shape(users, "q='name=j* AND user_metadata.theme:dark'", start=0, limit=25)
expect(all(u.get("user_metadata", {}).get("theme") == "dark" for u in users["users"]),
       "q='name=j* AND user_metadata.theme:dark': only dark-theme users")

# --- seed: the lottery ------------------------------------------------------
# List only 1 user just to retrieve the total number of users that match the given query
user_count = auth0.users.list(per_page=1, include_fields=False, search_engine='v3', q='NOT app_metadata.winner:true')["total"]
expect(isinstance(user_count, int) and user_count >= len(fixture_ids),
       f"lottery: {user_count} candidates, at least our {len(fixture_ids)} users")

# Then, use the same trick of listing one user per page to get a random page between 0 and the total number of users
# That resulting user is our lucky winner
winner_user = auth0.users.list(page=random.randint(0, user_count - 1), per_page=1, include_fields=False, search_engine='v3', q='NOT app_metadata.winner:true')['users'][0]
expect(bool(winner_user.get("user_id")), "lottery: the winner has a user_id")
expect((winner_user.get("app_metadata") or {}).get("winner") is not True,
       "lottery: the winner had not won before")
app_metadata_before = dict(winner_user.get("app_metadata") or {})

# Before we do anything else with the results, update the user's metadata to reflect them as winner
auth0.users.update(winner_user.get('user_id'), {
    "app_metadata": {
        "winner": True
    }
})

after = auth0.users.get(winner_user["user_id"])
expect(after.get("app_metadata") == {**app_metadata_before, "winner": True},
       f"lottery: winner flag merged into app_metadata (got {after.get('app_metadata')})")
count_after = auth0.users.list(per_page=1, include_fields=False, search_engine='v3',
                               q='NOT app_metadata.winner:true')["total"]
expect(count_after == user_count - 1,
       f"lottery: one candidate fewer after the draw ({user_count} -> {count_after})")

if failures:
    print(f"seed_003: {len(failures)} check(s) failed:", file=sys.stderr)
    for f in failures:
        print(f"  - {f}", file=sys.stderr)
    sys.exit(1)
print("seed_003: all checks passed")
