"""The reference CRM's batch create: ``POST /batch/{collection}`` with up to ``MAX_BATCH`` items.

Each item goes through the same validation and create as its single endpoint and gets its own
result (``index``, ``status``, ``id`` or ``error``); the answer is 201 when every item was
created and 207 (multi-status) when some were not: a failed item was not created and may be
submitted again.  The ``partial_batch`` fault profile fails every n-th item once (503 for it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from poc_harness.sandbox.engine import Conflict, NotFound
from poc_harness.sandbox.profiles import Profile

MAX_BATCH = 100
ITEM_FAULT = "partial_batch"
Creator = tuple[type[BaseModel], Callable[[Any, Request], dict[str, Any]]]
"""an item's body model and its single create, called with the validated body and the batch's request"""


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


def router(creators: dict[str, Creator], profile: Profile) -> APIRouter:
    """The batch endpoint over ``creators``: collection -> (its body model, its single create)."""
    batch = APIRouter()
    items_seen = itertools.count(1)

    def one(collection: str, item: dict[str, Any], request: Request) -> dict[str, Any]:
        if profile.fault == ITEM_FAULT and next(items_seen) % profile.fault_every == 0:
            return {"status": 503, "error": "try_later", "detail": "not created: submit it again"}
        model, create = creators[collection]
        try:
            record = create(model.model_validate(item), request)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            return {"status": 422, "error": "invalid", "detail": f"{where}: {first['msg']}"}
        except NotFound as exc:
            return {"status": 404, "error": "not_found", "detail": str(exc)}
        except Conflict as exc:
            return {"status": 409, "error": "conflict", "detail": str(exc)}
        return {"status": 201, "id": record["id"]}

    @batch.post("/batch/{collection}", status_code=201)
    def create_batch(collection: str, body: BatchIn, request: Request, response: Response) -> dict[str, Any]:
        if collection not in creators:
            raise NotFound(f"batch/{collection}")
        results = [{"index": i, **one(collection, item, request)} for i, item in enumerate(body.items)]
        failed = sum(1 for result in results if result["status"] >= 400)
        if failed:
            response.status_code = 207
        return {"results": results, "created": len(results) - failed, "failed": failed}

    return batch
