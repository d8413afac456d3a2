"""The JSON Schemas of the definition kinds, shipped in ``definitions/schemas``.

They are static files of the project, read once; the designer serves the same
files to the browser for completion.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema_rs
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "definitions" / "schemas"


@cache
def schema_for(kind: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{kind}.json").read_text(encoding="utf-8"))


@cache
def validator_for(kind: str) -> Draft202012Validator:
    return Draft202012Validator(schema_for(kind))


@cache
def _compiled(kind: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(schema_for(kind))


def fast_check(kind: str, raw: object) -> bool:
    """True when ``raw`` is certainly valid, by jsonschema-rs (compiled, about 100x faster).

    False means "not known valid": the caller runs the Python validator, whose
    errors are the ones reported. Values JSON has no type for (a YAML date)
    are left to that validator too.
    """
    try:
        return _compiled(kind).is_valid(raw)
    except (ValueError, TypeError):
        return False
