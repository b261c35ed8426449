"""Shared fixtures for the auth0-python 4.x compatibility suite.

The server under test is given by the environment, as compat/run.sh sets it:
CASTELLAN_DOMAIN (host:port), CLIENT_ID, CLIENT_SECRET (an admin machine-to-machine
app), and REQUESTS_CA_BUNDLE pointing at the server's CA.

Every test makes its own users, tagged with a fresh random tag (app_metadata.tag and
the e-mail domain), so tests are independent of each other and of whatever else the
server holds, and can share one server.
"""

import os
import uuid

import pytest
from auth0.authentication import GetToken
from auth0.management import Auth0

CONNECTION = "Username-Password-Authentication"


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite through compat/run.sh", returncode=2)
    return value


@pytest.fixture(scope="session")
def domain():
    return _env("CASTELLAN_DOMAIN")


@pytest.fixture(scope="session")
def client_id():
    return _env("CLIENT_ID")


@pytest.fixture(scope="session")
def client_secret():
    return _env("CLIENT_SECRET")


@pytest.fixture(scope="session")
def audience(domain):
    return f"https://{domain}/api/v2/"


@pytest.fixture(scope="session")
def token(domain, client_id, client_secret, audience):
    return GetToken(domain, client_id, client_secret=client_secret).client_credentials(audience)


@pytest.fixture(scope="session")
def auth0(domain, token):
    return Auth0(domain, token["access_token"])


class Factory:
    """Creates users for one test, all carrying the same tag, and deletes them after."""

    def __init__(self, auth0):
        self.auth0 = auth0
        self.tag = "t" + uuid.uuid4().hex[:16]
        self.created = []
        self._n = 0

    @property
    def email_domain(self):
        return f"{self.tag}.example.com"

    def email(self, local=None):
        self._n += 1
        return f"{local or 'user' + str(self._n)}@{self.email_domain}"

    def body(self, **fields):
        body = {
            "connection": CONNECTION,
            "email": self.email(),
            "password": "Compat-Passw0rd!" + self.tag,
        }
        body.update(fields)
        app_metadata = dict(body.get("app_metadata") or {})
        app_metadata.setdefault("tag", self.tag)
        body["app_metadata"] = app_metadata
        return body

    def user(self, **fields):
        """Create a user with a unique e-mail and app_metadata.tag = this test's tag."""
        created = self.auth0.users.create(self.body(**fields))
        self.created.append(created["user_id"])
        return created

    def search(self, q, **kw):
        """Search v3 restricted to this test's users; returns the users."""
        kw.setdefault("per_page", 100)
        result = self.auth0.users.list(
            q=f"app_metadata.tag:{self.tag} AND ({q})", search_engine="v3", **kw
        )
        return result["users"]

    def all(self, **kw):
        """All of this test's users (one query on the tag alone)."""
        kw.setdefault("per_page", 100)
        return self.auth0.users.list(q=f"app_metadata.tag:{self.tag}", search_engine="v3", **kw)["users"]

    def search_ids(self, q, **kw):
        return {u["user_id"] for u in self.search(q, **kw)}

    def cleanup(self):
        for user_id in self.created:
            try:
                self.auth0.users.delete(user_id)
            except Exception:  # best effort: a failing delete is tested elsewhere
                pass


@pytest.fixture
def users(auth0):
    factory = Factory(auth0)
    yield factory
    factory.cleanup()
