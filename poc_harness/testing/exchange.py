"""One contract call and the vendor's answer to it, as an adapter's test module describes it for the
conformance suite; and how the suite judges what a call returned against the contract's return type."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

import httpx
import respx
from pydantic import BaseModel

from poc_harness.contract.adapter import CRMAdapter, Observed
from poc_harness.contract.model import DealView, SurveyInviteView, TaskView

Install = Callable[[respx.MockRouter], object]
"""Installs, on the router, the routes answering one call the way the vendor documents."""


@dataclass(frozen=True)
class Exchange:
    """How to call one contract method (``args``/``kwargs``) and how the vendor answers it (``answer``
    installs the respx routes).  Every route ``answer`` installs must be called, and no other route
    (besides the ones the router fixture holds before, e.g. an OAuth token endpoint)."""

    args: tuple[Any, ...]
    answer: Install
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def call(self, adapter: CRMAdapter, method: str) -> Any:
        return getattr(adapter, method)(*self.args, **self.kwargs)


def answering(method: str, url: str, status: int = 200, json: Any = None) -> Install:
    """Installs one route: ``method url`` answered with ``status`` and the JSON body ``json``."""

    def install(router: respx.MockRouter) -> respx.Route:
        return router.route(method=method, url=url).respond(status, json=json)

    return install


def no_request(router: respx.MockRouter) -> None:
    """Installs nothing: the method sends no request (it reads what it is given, e.g. a webhook payload,
    or builds an adapter acting as another user).  Only its answer's type is judged."""


def answering_in_turn(method: str, url: str, *responses: httpx.Response) -> Install:
    """Installs one route answering its successive calls with ``responses`` in turn (a paged read, or
    two queries to one endpoint)."""

    def install(router: respx.MockRouter) -> respx.Route:
        return router.route(method=method, url=url).mock(side_effect=list(responses))

    return install


def together(*installs: Install) -> Install:
    """Installs the routes of each of ``installs`` (the several requests one contract call makes)."""

    def install(router: respx.MockRouter) -> None:
        for each in installs:
            each(router)

    return install


def installed(router: respx.MockRouter, install: Install) -> list[respx.Route]:
    """The routes ``install`` added to ``router``."""
    before = {id(route) for route in router.routes}
    install(router)
    return [route for route in router.routes if id(route) not in before]


def answer_all(routes: list[respx.Route], respond: Callable[[httpx.Request], httpx.Response]) -> None:
    """Have each route answer with ``respond`` instead of its documented answer."""
    for route in routes:
        route.mock(side_effect=respond)


def return_type(method: str) -> Any:
    """The contract's declared return type of ``method``."""
    return typing.get_type_hints(getattr(CRMAdapter, method))["return"]


def reads_answer(method: str) -> bool:
    """Whether the contract method returns something read from the vendor's JSON answer (not None, a bare
    success flag, or a document passed on as bytes, such as SAML metadata), so that a garbage answer must
    fail it."""
    return return_type(method) not in (type(None), bool, bytes)


def conforms(value: Any, expected: Any) -> bool:
    """Whether ``value`` is of the contract's return type ``expected`` (lists and unions checked
    element by element)."""
    origin = get_origin(expected)
    if expected is Any:
        return True
    if expected is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, option) for option in get_args(expected))
    if origin is list:
        (item,) = get_args(expected)
        return isinstance(value, list) and all(conforms(element, item) for element in value)
    if origin is dict:
        key, item = get_args(expected)
        return isinstance(value, dict) and all(
            conforms(k, key) and conforms(v, item) for k, v in value.items()
        )
    return isinstance(value, origin or expected)


OBSERVED_VIEWS: dict[str, type[BaseModel]] = {"survey": SurveyInviteView, "deal": DealView}
"""The view each ``Observed`` field's prefix names."""


def unobserved_fields(adapter: CRMAdapter, value: Any) -> list[str]:
    """The optional fields the adapter says it observes that ``value`` (a view, or a list of views)
    leaves empty."""
    views = value if isinstance(value, list) else [value]
    missing = []
    for view in views:
        if not isinstance(view, BaseModel):
            continue
        for observed in Observed:
            prefix, _, name = observed.value.partition(".")
            named = type(view) is OBSERVED_VIEWS.get(prefix)
            if named and adapter.observes(observed) and getattr(view, name, None) is None:
                missing.append(observed.value)
        if isinstance(view, TaskView) and adapter.observes_task_owner and view.owner_id is None:
            missing.append("task.owner_id")
    return missing
