"""Reading vendors' answers: validation into the harness's views with one-line ``VendorError``s.

Shared by every adapter (including adapters shipped as separate packages), so a vendor that
answers garbage is reported the same way whoever wrote the adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from poc_harness.contract.model import StageChange
from poc_harness.errors import VendorError
from poc_harness.redaction import REDACTOR

V = TypeVar("V", bound=BaseModel)


def parse_answer(model: type[V], data: Any, vendor: str, where: str) -> V:
    """``data`` validated as ``model``, or one ``VendorError`` line naming the call and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise VendorError(
            f"{vendor}: {where}: unexpected answer: {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None


def decode_json(response: httpx.Response, vendor: str, where: str) -> Any:
    """The JSON an answer carries, or one ``VendorError`` line quoting the start of a body that is not JSON
    (redacted, with the answer's status)."""
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        snippet = REDACTOR(" ".join(response.text.split()))[:120]
        raise VendorError(
            REDACTOR(f"{vendor}: {where}: answer is not JSON: {snippet!r}"), status=response.status_code
        ) from None


@contextmanager
def reading(vendor: str, where: str) -> Iterator[None]:
    """Turn a malformed vendor answer met while picking it apart into one ``VendorError`` line."""
    try:
        yield
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        detail = (
            exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
        )
        raise VendorError(f"{vendor}: {where}: unexpected answer: {detail}") from None


def dedupe_history(changes: list[StageChange]) -> list[StageChange]:
    """A stage history without repeated consecutive stages (audit trails log unrelated edits too)."""
    kept: list[StageChange] = []
    for change in changes:
        if not kept or kept[-1].stage is not change.stage:
            kept.append(change)
    return kept
