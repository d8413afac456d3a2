"""The JSON Schemas of the definition kinds, shipped in ``definitions/schemas``.

They are static files of the project, read once; the designer serves the same
files to the browser for completion.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "definitions" / "schemas"


@lru_cache(maxsize=None)
def schema_for(kind: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{kind}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def validator_for(kind: str) -> Draft202012Validator:
    return Draft202012Validator(schema_for(kind))
