#!/usr/bin/env python3
"""Generate crates/http/src/endpoints_table.rs from Auth0's OpenAPI files.

The table lists every Auth0 endpoint, one entry per (method, path template),
with its operationId, a short summary, the scopes that allow it (any one of
them is enough) and its surface (Management or Authentication). castellan uses
it to answer endpoints it does not serve yet with an Auth0-shaped 501, to know
the required scopes, and to render docs/compatibility.md.

Usage (from anywhere; default paths are relative to the repository root):

    python3 tools/gen_endpoints.py
    python3 tools/gen_endpoints.py --management M.json --authentication A.json --out T.rs
    python3 tools/gen_endpoints.py --check     # exit 1 if the checked-in table is stale

Paths given on the command line are relative to the current directory.
Standard library only.
"""

import argparse
import json
import os
import re
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEFAULT_MANAGEMENT = "../shared/spec/auth0-management-api.openapi.json"
DEFAULT_AUTHENTICATION = "../shared/spec/auth0-authentication-api.openapi.json"
DEFAULT_OUT = "crates/http/src/endpoints_table.rs"

MANAGEMENT_PREFIX = "/api/v2"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SUMMARY_MAX = 100

# Authentication endpoints Auth0 serves that its Authentication API OpenAPI file
# does not describe. Each needs a source; keep the list short.
EXTRA_AUTHENTICATION = [
    {
        "method": "GET",
        "path": "/.well-known/jwks.json",
        "operation_id": "getJsonWebKeySet",
        "summary": "JSON Web Key Set",
        "source": "spec/users-search-tokens.md section 4.3; OIDC discovery jwks_uri",
    },
    {
        "method": "GET",
        "path": "/.well-known/openid-configuration",
        "operation_id": "getOpenIdConfiguration",
        "summary": "OpenID Provider Configuration",
        "source": "spec/users-search-tokens.md section 4.3; OpenID Connect Discovery 1.0",
    },
]

PLACEHOLDER = re.compile(r"^\{[A-Za-z0-9_.\-]+\}$")


def fail(message):
    print("gen_endpoints: error: " + message, file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as err:
        fail("cannot read %s: %s" % (path, err))
        return None


def oauth2_scheme_names(spec):
    schemes = spec.get("components", {}).get("securitySchemes", {})
    return {name for name, scheme in schemes.items() if scheme.get("type") == "oauth2"}


def scopes_of(operation, spec, oauth2_names):
    """Any-of scope list: the scopes of the OAuth2 entries of the security
    requirement (the operation's, else the document's), in document order."""
    requirements = operation.get("security")
    if requirements is None:
        requirements = spec.get("security", [])
    scopes = []
    for requirement in requirements:
        for name, names in requirement.items():
            if name not in oauth2_names:
                continue
            for scope in names:
                if scope not in scopes:
                    scopes.append(scope)
    return scopes


def short_summary(operation):
    text = operation.get("summary") or ""
    text = " ".join(text.split())
    if len(text) > SUMMARY_MAX:
        text = text[: SUMMARY_MAX - 3].rstrip() + "..."
    return text


def check_template(path, origin):
    if not path.startswith("/"):
        fail("%s: path %r does not start with '/'" % (origin, path))
    segments = path.split("/")[1:]
    if path != "/" and any(segment == "" for segment in segments):
        fail("%s: path %r has an empty segment (// or trailing /)" % (origin, path))
    for segment in segments:
        if ("{" in segment or "}" in segment) and not PLACEHOLDER.match(segment):
            fail("%s: path %r has a placeholder that is not a whole segment" % (origin, path))


def collect(spec, surface, prefix, origin):
    oauth2_names = oauth2_scheme_names(spec)
    entries = []
    for raw_path, item in spec.get("paths", {}).items():
        path = prefix + raw_path
        check_template(path, origin)
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue  # path-level keys: parameters, summary, servers...
            entries.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "operation_id": operation.get("operationId") or "",
                    "summary": short_summary(operation),
                    "scopes": scopes_of(operation, spec, oauth2_names),
                    "surface": surface,
                    "extra": None,
                }
            )
    return entries


def shape(path):
    return "/".join("{}" if PLACEHOLDER.match(s) else s for s in path.split("/"))


def validate(entries):
    seen = set()
    shapes = {}
    for entry in entries:
        key = (entry["method"], entry["path"])
        if key in seen:
            fail("duplicate endpoint %s %s" % key)
        seen.add(key)
        # Two templates that differ only in placeholder names would match the
        # same requests; the matcher could not tell them apart.
        shape_key = (entry["method"], shape(entry["path"]))
        other = shapes.get(shape_key)
        if other is not None and other != entry["path"]:
            fail("%s %s and %s match the same requests" % (entry["method"], other, entry["path"]))
        shapes[shape_key] = entry["path"]


def rust_str(text):
    out = []
    for char in text:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F or code > 0x7E:
            out.append("\\u{%x}" % code)
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def render(entries, management_arg, authentication_arg):
    lines = [
        "// @generated by tools/gen_endpoints.py -- DO NOT EDIT BY HAND.",
        "//",
        "// Every Auth0 endpoint, one entry per (method, path template), sorted by path",
        "// then method (byte order). Sources (default paths are relative to the repo root):",
        "//     Management API (paths prefixed with /api/v2):",
        "//         %s" % management_arg,
        "//     Authentication API:",
        "//         %s" % authentication_arg,
        "//     plus the few Authentication endpoints those files leave out",
        "//     (EXTRA_AUTHENTICATION in the script).",
        "// scopes: the token needs any one of them; empty when Auth0 lists none.",
        "//",
        "// Regenerate from the repository root with:",
        "//     python3 tools/gen_endpoints.py",
        "// then refresh docs/compatibility.md with:",
        "//     UPDATE_COMPAT_DOC=1 cargo test -p castellan-http --test compat_doc",
        "//",
        "// Included by crates/http/src/endpoints.rs.",
        "",
        "pub static ENDPOINTS: &[Endpoint] = &[",
    ]
    for entry in entries:
        if entry["extra"]:
            lines.append("    // Not in the OpenAPI file; source: %s." % entry["extra"])
        scopes = ", ".join(rust_str(scope) for scope in entry["scopes"])
        lines.extend(
            [
                "    Endpoint {",
                "        method: %s," % rust_str(entry["method"]),
                "        path: %s," % rust_str(entry["path"]),
                "        operation_id: %s," % rust_str(entry["operation_id"]),
                "        summary: %s," % rust_str(entry["summary"]),
                "        scopes: &[%s]," % scopes,
                "        surface: Surface::%s," % entry["surface"],
                "    },",
            ]
        )
    lines.append("];")
    return "\n".join(lines) + "\n"


def resolve_default(path):
    return os.path.normpath(os.path.join(REPO_ROOT, path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--management", help="Management API OpenAPI file (default %s)" % DEFAULT_MANAGEMENT)
    parser.add_argument("--authentication", help="Authentication API OpenAPI file (default %s)" % DEFAULT_AUTHENTICATION)
    parser.add_argument("--out", help="generated Rust file (default %s)" % DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is out of date")
    args = parser.parse_args()

    management = args.management or resolve_default(DEFAULT_MANAGEMENT)
    authentication = args.authentication or resolve_default(DEFAULT_AUTHENTICATION)
    out = args.out or resolve_default(DEFAULT_OUT)

    entries = collect(load(management), "Management", MANAGEMENT_PREFIX, management)
    entries += collect(load(authentication), "Authentication", "", authentication)
    known = {(entry["method"], entry["path"]) for entry in entries}
    for extra in EXTRA_AUTHENTICATION:
        if (extra["method"], extra["path"]) in known:
            print(
                "gen_endpoints: note: %s %s is now in the OpenAPI file; drop it from EXTRA_AUTHENTICATION"
                % (extra["method"], extra["path"]),
                file=sys.stderr,
            )
            continue
        check_template(extra["path"], "EXTRA_AUTHENTICATION")
        entries.append(
            {
                "method": extra["method"],
                "path": extra["path"],
                "operation_id": extra["operation_id"],
                "summary": extra["summary"],
                "scopes": [],
                "surface": "Authentication",
                "extra": extra["source"],
            }
        )
    validate(entries)
    entries.sort(key=lambda entry: (entry["path"], entry["method"]))

    # The header names the inputs as given (defaults stay repository-relative)
    # so that the output does not depend on where the repository lives.
    text = render(
        entries,
        args.management or DEFAULT_MANAGEMENT,
        args.authentication or DEFAULT_AUTHENTICATION,
    )

    if args.check:
        try:
            with open(out, encoding="utf-8") as handle:
                current = handle.read()
        except OSError:
            current = None
        if current != text:
            print("gen_endpoints: %s is out of date; run python3 tools/gen_endpoints.py" % out, file=sys.stderr)
            return 1
        return 0

    with open(out, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    counts = {}
    for entry in entries:
        counts[entry["surface"]] = counts.get(entry["surface"], 0) + 1
    print(
        "gen_endpoints: wrote %d endpoints (%s) to %s"
        % (len(entries), ", ".join("%s %d" % item for item in sorted(counts.items())), out),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
