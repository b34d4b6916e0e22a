"""The ``--json`` documents' common frame: a schema version and the shipped JSON Schemas.

Every document a command prints with ``--json`` carries ``schema_version``,
bumped only on incompatible changes (a new field is not one), and is described
by ``schemas/<document>.schema.json`` in this package.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"


def versioned(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with ``schema_version`` set."""
    return {"schema_version": SCHEMA_VERSION, **document}


@cache
def document_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of the ``--json`` document ``name`` (e.g. ``"build"``)."""
    return json.loads((SCHEMAS_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
