#!/usr/bin/env python3
"""Extracts the JSON request-body schemas of Auth0's Management API OpenAPI
file into crates/http/src/request_schemas.json, which castellan embeds to
validate POST/PATCH/PUT bodies the way Auth0 does (types, required and
unknown properties, enums, lengths, ranges).

Usage: python3 tools/gen_schemas.py [--check] [--spec PATH]
Descriptions and examples are dropped to keep the file small.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SPEC = os.path.join(ROOT, "..", "shared", "spec", "auth0-management-api.openapi.json")
OUT = os.path.join(ROOT, "crates", "http", "src", "request_schemas.json")
DROP = {"description", "example", "examples", "x-release-lifecycle", "title", "x-merge-priority", "deprecated"}


def refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"].rsplit("/", 1)[-1]
        for v in node.values():
            yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def strip(node):
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "properties":
                out[k] = {name: strip(p) for name, p in v.items()}
            elif k not in DROP:
                out[k] = strip(v)
        return out
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


# Properties Auth0's API accepts (seen in recorded traffic) that this OpenAPI
# copy no longer lists; castellan accepts them too.
EXTRA_PROPERTIES = {
    "CreateResourceServerRequestContent": {"token_lifetime_for_web": {"type": "integer", "minimum": 1}},
    "UpdateResourceServerRequestContent": {"token_lifetime_for_web": {"type": "integer", "minimum": 1}},
}


def build(spec):
    schemas = spec["components"]["schemas"]
    for name, extra in EXTRA_PROPERTIES.items():
        schemas[name].setdefault("properties", {}).update(extra)
    ops = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("post", "patch", "put"):
                continue
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is not None:
                ops[f"{method.upper()} /api/v2{path}"] = schema
    needed, stack = set(), [r for s in ops.values() for r in refs(s)]
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(refs(schemas[name]))
    doc = {
        "ops": {k: strip(ops[k]) for k in sorted(ops)},
        "schemas": {k: strip(schemas[k]) for k in sorted(needed)},
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default=DEFAULT_SPEC)
    ap.add_argument("--check", action="store_true", help="fail if the checked-in file is stale")
    args = ap.parse_args()
    with open(args.spec, encoding="utf-8") as f:
        text = build(json.load(f))
    if args.check:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{OUT} is stale: run python3 tools/gen_schemas.py")
        return
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {OUT} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
