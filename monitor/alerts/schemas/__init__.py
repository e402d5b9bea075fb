"""JSON Schema (draft 2020-12) files for the alert payloads, one per event type.

``schema_version`` 1. Within a version, fields may be added (receivers should ignore
fields they do not know); a field is never removed, renamed or retyped without a new
``schema_version``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

BASE_URI = "https://news-monitor.example/schemas/alerts/v1/"
EVENT_TYPES = (
    "article.matched",
    "story.updated",
    "claim.confirmed",
    "claim.contradicted",
    "digest",
)


@cache
def load(name: str) -> dict[str, Any]:
    """A schema by file stem ('article.matched', 'common', ...)."""
    return json.loads(files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))


def validate(payload: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if the payload does not fit its type's schema
    (needs the ``jsonschema`` package, a test dependency)."""
    import jsonschema
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (BASE_URI + f"{n}.json", Resource.from_contents(load(n))) for n in (*EVENT_TYPES, "common")
    )
    etype = payload.get("type")
    if etype not in EVENT_TYPES:
        raise jsonschema.ValidationError(f"unknown event type {etype!r}")
    schema = load(str(etype))
    jsonschema.Draft202012Validator(schema, registry=registry).validate(payload)
