"""Reusable validators for adapters' option tables (``[vendors.<name>]`` in poc.toml).

An adapter's ``Options`` class declares its mapping options with these instead of writing the same
``field_validator`` again: ``_stages = picklist_option("stages", DEFAULT_STAGES)``.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from poc_harness.contract.adapter import known_time_zone, picklist_map


def picklist_option(field: str, defaults: dict[Any, str]) -> Any:
    """A before-validator for ``field``: the vendor's ``defaults`` overridden by the buyer's table, refusing
    two harness values on one picklist value (``picklist_map``)."""

    def merged(cls: type, given: Any) -> dict[Any, str]:
        return picklist_map(field, given, defaults)

    return field_validator(field, mode="before")(merged)


def defaults_option(field: str, defaults: dict[Any, str]) -> Any:
    """A before-validator for ``field``: the vendor's ``defaults`` overridden by the buyer's table, where
    several harness values may share one vendor value (a lead source mapped to "Other")."""

    def merged(cls: type, given: Any) -> dict[Any, str]:
        return {**defaults, **(given or {})}

    return field_validator(field, mode="before")(merged)


def time_zone_option(field: str) -> Any:
    """A validator for ``field``: refused unless it names an IANA time zone (``known_time_zone``)."""

    def known(cls: type, name: str) -> str:
        return known_time_zone(name)

    return field_validator(field)(known)
