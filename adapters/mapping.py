"""A declarative adapter: any REST CRM driven by a mapping file (TOML or YAML) instead of code.

The mapping file names the vendor, its authentication, the capabilities it honestly
offers, its default clock, and, per contract operation, an endpoint: method, path
template, query and body templates (harness field -> vendor field, with constants,
transforms and value maps), where the created id is in the answer (a JMESPath) or how to
look it up, and for reads the vendor field -> view field mapping, the list envelope and
the pagination.  An operation the file does not map keeps the contract's default
(``NotImplementedByAdapter``: not measured).  Every call goes through ``VendorHTTP``.

The file is validated with pydantic (unknown keys refused) and then checked against
the contract (placeholders, view fields, capabilities); every problem is one
``ConfigError`` line naming the file and the key.  JSON paths are JMESPath
(https://jmespath.org), e.g. ``id``, ``data.id``, ``result[0].id``.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import tomllib
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, ClassVar, Literal, TypeVar
from urllib.parse import quote

import httpx
import jmespath
import jmespath.exceptions
import yaml
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import (
    CAPABILITY_METHODS,
    AdapterOptions,
    Capability,
    CRMAdapter,
    Observed,
    RecordKind,
)
from poc_harness.contract.http_adapter import HTTPAdapter
from poc_harness.contract.loadtargets import LoadClient, LoadRequest, LoadTargets, ProbeAccounts
from poc_harness.contract.model import (
    Account,
    Activity,
    AlertView,
    Contact,
    ConversionFigure,
    DealStage,
    DealView,
    FirstResponseFigure,
    ForecastFigure,
    Lead,
    LeadView,
    NpsFigure,
    SalesRep,
    SlaComplianceFigure,
    SurveyInviteView,
    TaskView,
    Ticket,
    TicketView,
    WeeklyActivityFigure,
)
from poc_harness.errors import ConfigError, VendorError
from poc_harness.run.clock import ClockMode
from poc_harness.transport.answers import decode_json, parse_answer
from poc_harness.transport.http import SENSITIVE_HEADERS, VendorHTTP

F = TypeVar("F", bound=Callable[..., Any])
HTTP_STATUS = re.compile(r": HTTP (\d{3})\b")

# --- values: text, JSON and transforms ----------------------------------------------------------


def _text(value: Any) -> str:
    """A value as it goes into a path, a query string or a composed template."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def _jsonable(value: Any) -> Any:
    """A value with datetimes, enums and durations turned into what JSON can carry."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _utc(value: Any) -> datetime:
    """A datetime or ISO 8601 text as an aware datetime; a naive one is taken as UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _epoch(scale: int) -> Callable[[Any], Any]:
    """datetime -> seconds (or ms) since 1970, and a number -> datetime: works both ways."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return int(value.timestamp() * scale)
        if isinstance(value, bool):
            raise ValueError("a boolean is not a time")
        return datetime.fromtimestamp(float(value) / scale, UTC)

    return convert


def _from_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "iso": lambda value: _utc(value).isoformat(),
    "date": lambda value: _utc(value).date().isoformat(),
    "utc": _utc,
    "epoch": _epoch(1),
    "epoch_ms": _epoch(1000),
    "json": lambda value: json.dumps(_jsonable(value), ensure_ascii=False),
    "from_json": _from_json,
    "lower": lambda value: _text(value).lower(),
    "upper": lambda value: _text(value).upper(),
    "str": _text,
    "int": int,
    "float": float,
}

# --- templates and JSON paths -------------------------------------------------------------------


def _pieces(text: str) -> list[tuple[str, str | None, str]]:
    return [(literal, name, spec or "") for literal, name, spec, _ in Formatter().parse(text)]


def placeholders(text: str) -> list[str]:
    """The ``{name}`` placeholders of a template, in order."""
    return [name for _, name, _ in _pieces(text) if name is not None]


def _check_template(text: str) -> str:
    try:
        pieces = list(Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"bad template {text!r}: {exc}") from None
    for _, name, spec, conversion in pieces:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"bad template {text!r}: placeholder {{{name}}} must be a plain name")
        if conversion or "{" in (spec or ""):
            raise ValueError(f"bad template {text!r}: {{{name}}} takes no conversion or nested field")
    return text


def _check_path(text: str) -> str:
    _check_template(text)
    if not text.startswith("/") or "?" in text:
        raise ValueError(f"bad path template {text!r}: start it with '/' and put query parameters in query")
    return text


@functools.lru_cache(maxsize=512)
def _compiled(expression: str) -> Any:
    return jmespath.compile(expression)


def _check_json_path(expression: str) -> str:
    try:
        _compiled(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"bad JSON path {expression!r}: {' '.join(str(exc).split())}") from None
    return expression


def search(expression: str, data: Any) -> Any:
    """The value at JMESPath ``expression`` in ``data`` (None when absent)."""
    return _compiled(expression).search(data)


def render(text: str, context: dict[str, Any], escape: Callable[[str], str] | None = None) -> Any:
    """Fill a template from ``context``.  ``"{name}"`` alone keeps the value's type (a number stays a
    number, null stays null); in composed text a null placeholder makes the whole value null."""
    pieces = _pieces(text)
    if escape is None and len(pieces) == 1 and not pieces[0][0] and pieces[0][1] and not pieces[0][2]:
        return context[pieces[0][1]]
    parts = []
    for literal, name, spec in pieces:
        parts.append(literal)
        if name is None:
            continue
        value = context[name]
        if value is None:
            return None
        shown = format(value, spec) if spec else _text(value)
        parts.append(escape(shown) if escape else shown)
    return "".join(parts)


def _quote_segment(text: str) -> str:
    return quote(text, safe="")


Template = Annotated[str, AfterValidator(_check_template)]
PathTemplate = Annotated[str, AfterValidator(_check_path)]
JsonPath = Annotated[str, AfterValidator(_check_json_path)]

# --- the mapping file's schema ------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Converted(_Strict):
    """Transforms (in order), then a value map; shared by what is sent and what is read."""

    transform: Annotated[list[str], BeforeValidator(_as_list)] = []
    map: dict[str, Any] | None = None
    unmapped: Literal["error", "keep"] = "error"

    @field_validator("transform")
    @classmethod
    def _known_transforms(cls, names: list[str]) -> list[str]:
        unknown = [name for name in names if name not in TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown transform {unknown[0]!r}: use one of {', '.join(TRANSFORMS)}")
        return names

    def convert(self, value: Any) -> Any:
        """Apply the transforms, then the map; a ValueError says what did not fit."""
        for name in self.transform:
            try:
                value = TRANSFORMS[name](value)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ValueError(f"transform {name} cannot take {value!r} ({exc})") from None
        if self.map is None:
            return value
        if _text(value) in self.map:
            return self.map[_text(value)]
        if self.unmapped == "keep":
            return value
        raise ValueError(f"{_text(value)!r} is not in the value map ({', '.join(self.map)})")


def _send_short_form(value: Any) -> Any:
    return {"value": value} if isinstance(value, str) else value


def _read_short_form(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


class SendField(_Converted):
    """One vendor field of a query or body: a template (``"{title}"``) or a constant."""

    value: Template | None = None
    const: Any = None
    keep_null: bool = False

    @model_validator(mode="after")
    def _value_or_const(self) -> SendField:
        if ("value" in self.model_fields_set) == ("const" in self.model_fields_set):
            raise ValueError("give exactly one of value (a template) or const")
        return self

    def resolve(self, context: dict[str, Any]) -> Any:
        raw = self.const if "const" in self.model_fields_set else render(str(self.value), context)
        return None if raw is None else self.convert(raw)


class ReadField(_Converted):
    """One view field read from the vendor's answer: a JMESPath, then transforms and a value map."""

    path: JsonPath
    default: Any = None
    each: dict[str, Read] | None = None


Sent = Annotated[SendField, BeforeValidator(_send_short_form)]
Read = Annotated[ReadField, BeforeValidator(_read_short_form)]


class Pagination(_Strict):
    """How a list endpoint pages: none, a page number, an offset, a cursor, a next URL or a Link header."""

    kind: Literal["none", "page", "offset", "cursor", "next_url", "link"] = "none"
    param: str | None = None
    start: int = 1
    size_param: str | None = None
    size: int | None = Field(default=None, gt=0)
    next_path: JsonPath | None = None
    max_pages: int = Field(default=1000, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> Pagination:
        if self.kind in ("page", "offset", "cursor") and not self.param:
            raise ValueError(f"pagination '{self.kind}' needs param (the query parameter)")
        if self.kind in ("cursor", "next_url") and not self.next_path:
            raise ValueError(f"pagination '{self.kind}' needs next_path (where the answer gives it)")
        if self.size_param and self.size is None:
            raise ValueError("pagination size_param needs size")
        return self


class Endpoint(_Strict):
    """One contract operation as the vendor's REST API does it."""

    method: Annotated[
        Literal["GET", "POST", "PUT", "PATCH", "DELETE"], BeforeValidator(lambda v: str(v).upper())
    ] = "GET"
    path: PathTemplate
    query: dict[str, Sent] = {}
    body: dict[str, Sent] | None = None
    encoding: Literal["json", "form"] = "json"
    vars: dict[str, Sent] = {}
    id: JsonPath = "id"
    lookup: Endpoint | None = None
    envelope: JsonPath = "@"
    pagination: Pagination = Pagination()
    match: dict[str, Template] = {}
    fields: dict[str, Read] = {}
    gone_status: list[int] = [404, 410]

    @field_validator("match")
    @classmethod
    def _match_paths(cls, match: dict[str, str]) -> dict[str, str]:
        for path in match:
            _check_json_path(path)
        return match

    @field_validator("body")
    @classmethod
    def _no_clashing_nesting(cls, body: dict[str, SendField] | None) -> dict[str, SendField] | None:
        for name in body or {}:
            if any(other.startswith(f"{name}.") for other in body or {}):
                raise ValueError(f"field {name!r} clashes with the nested fields under it")
        return body


class Auth(_Strict):
    """none | bearer (``Authorization: <scheme> <token>``) | header (a named header) | basic."""

    kind: Literal["none", "bearer", "header", "basic"] = "none"
    token_env: str | None = None
    header: str | None = None
    scheme: str | None = None
    username_env: str | None = None
    password_env: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Auth:
        wanted = {
            "none": (),
            "bearer": ("token_env",),
            "header": ("header", "token_env"),
            "basic": ("username_env", "password_env"),
        }[self.kind]
        missing = [key for key in wanted if getattr(self, key) is None]
        if missing:
            raise ValueError(f"auth '{self.kind}' needs {' and '.join(missing)}")
        return self


class Mapping(_Strict):
    """The whole mapping file."""

    vendor: str = Field(min_length=1)
    base_url: str | None = None
    auth: Auth = Auth()
    headers: dict[str, str] = {}
    capabilities: list[Capability] = []
    vendor_lacks: dict[Capability, str] = Field(
        default={}, description="what the vendor lacks -> the documentation saying so (a finding)"
    )
    default_clock: ClockMode = ClockMode.WALL
    operations: dict[str, Endpoint]

    @field_validator("vendor_lacks")
    @classmethod
    def _documented(cls, lacks: dict[Capability, str]) -> dict[Capability, str]:
        bare = [capability.value for capability, doc in lacks.items() if not doc.strip()]
        if bare:
            raise ValueError(f"{bare[0]}: name the vendor's documentation saying it lacks it (a URL or page)")
        return lacks

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        secret = [name for name in headers if name.lower() in SENSITIVE_HEADERS]
        if secret:
            raise ValueError(f"header {secret[0]} carries a secret: declare it in auth with an _env variable")
        return headers


# --- what each operation is, for the checks against the contract -------------------------------


@dataclass(frozen=True)
class Operation:
    """A contract operation: what its answer is and the template names it offers."""

    shape: Literal["create", "read", "list", "ids", "action"]
    names: tuple[str, ...] = ()
    model: type[BaseModel] | None = None


class _Now(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    now: AwareDatetime


def _names(model: type[BaseModel], *more: str) -> tuple[str, ...]:
    return (*model.model_fields, *more)


PERIOD = ("start", "end", "tag")
OPERATIONS: dict[str, Operation] = {
    "check_connection": Operation("action"),
    "now": Operation("read", (), _Now),
    "advance_clock": Operation("read", ("seconds", "minutes", "hours", "days"), _Now),
    "create_sales_rep": Operation("create", _names(SalesRep)),
    "list_sales_reps": Operation("ids"),
    "create_account": Operation("create", _names(Account)),
    "create_contact": Operation("create", _names(Contact, "account_id")),
    "create_lead": Operation("create", _names(Lead, "arrived_at")),
    "log_activity": Operation("create", _names(Activity, "lead_id")),
    "delete": Operation("action", ("kind", "id")),
    "find_tagged": Operation("ids", ("kind", "tag")),
    "get_lead": Operation("read", ("lead_id",), LeadView),
    "lead_tasks": Operation("list", ("lead_id",), TaskView),
    "lead_alerts": Operation("list", ("lead_id",), AlertView),
    "convert_lead": Operation("create", ("lead_id", "amount", "expected_close")),
    "move_deal": Operation("action", ("deal_id", "stage")),
    "get_deal": Operation("read", ("deal_id",), DealView),
    "complete_task": Operation("action", ("task_id", "user_id")),
    "create_ticket": Operation("create", _names(Ticket, "contact_id", "opened_at")),
    "get_ticket": Operation("read", ("ticket_id",), TicketView),
    "reply_ticket": Operation("action", ("ticket_id", "message", "user_id")),
    "close_ticket": Operation("action", ("ticket_id",)),
    "ticket_surveys": Operation("list", ("ticket_id",), SurveyInviteView),
    "answer_survey": Operation("action", ("survey_id", "score")),
    "report_conversion": Operation("read", PERIOD, ConversionFigure),
    "report_first_response": Operation("read", PERIOD, FirstResponseFigure),
    "report_weekly_activity": Operation("read", ("week_start", "tag"), WeeklyActivityFigure),
    "report_sla_compliance": Operation("read", PERIOD, SlaComplianceFigure),
    "report_forecast": Operation("read", PERIOD, ForecastFigure),
    "report_nps": Operation("read", ("tag",), NpsFigure),
}
OBSERVED_IN = {Observed.SURVEY_RECIPIENT: "ticket_surveys", Observed.DEAL_LEAD: "get_deal"}
"""The operation whose fields carry each optional view field."""
REQUIRED = (
    "check_connection",
    "create_account",
    "create_contact",
    "create_lead",
    "log_activity",
    "delete",
    "find_tagged",
    "get_lead",
)
MAPPABLE = frozenset(
    {
        Capability.CLOCK_CONTROL,
        Capability.BACKDATING,
        Capability.USER_ADMIN,
        Capability.AUTO_ASSIGN,
        Capability.FOLLOWUP_TASKS,
        Capability.SILENCE_ALERT,
        Capability.DEALS,
        Capability.TICKETS,
        Capability.SLA,
        Capability.NPS_SURVEY,
        Capability.REPORTS,
        Capability.FORECAST,
    }
)
"""The capabilities a mapping file may declare: those whose contract methods the adapter maps."""
ALTERNATIVES: dict[str, tuple[str, ...]] = {"list_sales_reps": ("list_sales_reps", "create_sales_rep")}
"""Operations another may stand in for: seeding lists the sales reps only where it cannot create them."""
EXTRA_NEEDS: dict[Capability, tuple[str, ...]] = {
    Capability.CLOCK_CONTROL: ("now",),  # the virtual clock is read as well as advanced
    Capability.SLA: ("get_ticket",),  # a ticket's SLA fields are read from it
}
# per capability, groups of operations: each group needs one of its operations mapped
NEEDS: dict[Capability, tuple[tuple[str, ...], ...]] = {
    capability: tuple(
        ALTERNATIVES.get(name, (name,))
        for name in EXTRA_NEEDS.get(capability, ()) + CAPABILITY_METHODS[capability]
    )
    for capability in sorted(MAPPABLE)
}
ALWAYS_ALLOWED = frozenset({"method", "path", "query", "body", "encoding", "vars"})
SHAPE_KEYS: dict[str, frozenset[str]] = {
    "create": frozenset({"id", "lookup"}),
    "read": frozenset({"envelope", "fields"}),
    "list": frozenset({"envelope", "pagination", "match", "fields"}),
    "ids": frozenset({"envelope", "pagination", "match", "id"}),
    "action": frozenset(),
}

# --- loading and checking a mapping file --------------------------------------------------------


class _Problem(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _read_document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: mapping file not found: check the adapter's mapping option") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: mapping file cannot be read ({exc.__class__.__name__})") from None
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}): fix the syntax") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" at line {where.line + 1}" if where is not None else ""
            raise ConfigError(f"{path}: not valid YAML{line}: fix the syntax") from None
    raise ConfigError(f"{path}: a mapping file ends in .toml, .yaml or .yml")


def _describe(exc: ValidationError, source: Path) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(file)"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}': remove it or check its spelling"
    message = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    shown = "" if isinstance(given, dict | list) or first["type"] == "value_error" else f" (got {given!r})"
    return f"{source}: key '{key}': {message}{shown}"


def load_mapping(path: Path) -> Mapping:
    """Read, validate and check a mapping file; any problem is one ConfigError line naming file and key."""
    data = _read_document(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a mapping file holds a table of keys (vendor, auth, operations...)")
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    try:
        _check_contract(mapping)
    except _Problem as problem:
        raise ConfigError(f"{path}: key '{problem.key}': {problem.message}") from None
    return mapping


def _check_contract(mapping: Mapping) -> None:
    for name, endpoint in mapping.operations.items():
        if name not in OPERATIONS:
            raise _Problem(f"operations.{name}", f"unknown operation: known are {', '.join(OPERATIONS)}")
        _check_endpoint(f"operations.{name}", endpoint, OPERATIONS[name], name)
    missing = [name for name in REQUIRED if name not in mapping.operations]
    if missing:
        raise _Problem("operations", f"every adapter needs {', '.join(missing)}: map them")
    _check_capabilities(mapping)


def _check_capabilities(mapping: Mapping) -> None:
    declared = set(mapping.capabilities)
    both = sorted(c.value for c in declared & set(mapping.vendor_lacks))
    if both:
        raise _Problem("vendor_lacks", f"{both[0]} is also declared in capabilities: it is one or the other")
    for index, capability in enumerate(mapping.capabilities):
        if capability not in MAPPABLE:
            raise _Problem(
                f"capabilities.{index}",
                f"the mapping adapter cannot map {capability.value} (it maps "
                f"{', '.join(sorted(c.value for c in MAPPABLE))})",
            )
        for group in NEEDS.get(capability, ()):
            if not any(name in mapping.operations for name in group):
                raise _Problem(
                    "capabilities", f"{capability.value} is declared but operation {group[0]} is not mapped"
                )
    clock_needs = {ClockMode.VIRTUAL: Capability.CLOCK_CONTROL, ClockMode.BACKDATE: Capability.BACKDATING}
    needed = clock_needs.get(mapping.default_clock)
    if needed is not None and needed not in declared:
        raise _Problem("default_clock", f"{mapping.default_clock.value} needs the {needed.value} capability")


def _check_endpoint(key: str, endpoint: Endpoint, operation: Operation, name: str) -> None:
    allowed = ALWAYS_ALLOWED | SHAPE_KEYS[operation.shape] | ({"gone_status"} if name == "delete" else set())
    stray = sorted(endpoint.model_fields_set - allowed)
    if stray:
        raise _Problem(
            f"{key}.{stray[0]}", f"does not apply to {name} (it takes {', '.join(sorted(allowed))})"
        )
    names = _check_templates(key, endpoint, set(operation.names))
    if endpoint.lookup is not None:
        lookup_allowed = ALWAYS_ALLOWED | SHAPE_KEYS["ids"]
        stray = sorted(endpoint.lookup.model_fields_set - lookup_allowed)
        if stray:
            raise _Problem(f"{key}.lookup.{stray[0]}", "does not apply to a lookup")
        _check_templates(f"{key}.lookup", endpoint.lookup, names)
    if operation.model is not None:
        _check_fields(f"{key}.fields", endpoint.fields, operation.model)


def _check_templates(key: str, endpoint: Endpoint, names: set[str]) -> set[str]:
    """Every placeholder names a value the operation offers (or an earlier var); the names with vars."""
    known = set(names)
    for var, field in endpoint.vars.items():
        _check_sent(f"{key}.vars.{var}", field, known)
        known.add(var)
    _check_names(f"{key}.path", endpoint.path, known)
    for group in ("query", "body"):
        for vendor_field, field in (getattr(endpoint, group) or {}).items():
            _check_sent(f"{key}.{group}.{vendor_field}", field, known)
    for path, template in endpoint.match.items():
        _check_names(f"{key}.match.{path}", template, known)
    return known


def _check_sent(key: str, field: SendField, known: set[str]) -> None:
    if field.value is not None:
        _check_names(f"{key}.value" if field.model_fields_set != {"value"} else key, field.value, known)


def _check_names(key: str, template: str, known: set[str]) -> None:
    unknown = [name for name in placeholders(template) if name not in known]
    if unknown:
        offered = ", ".join(sorted(known)) or "none"
        raise _Problem(
            key, f"unknown placeholder {{{unknown[0]}}} in {template!r}: this operation offers {offered}"
        )


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a list[...] or dict[str, ...] field's items, if they are models."""
    args = typing.get_args(annotation)
    candidate = args[-1] if args else None
    return candidate if isinstance(candidate, type) and issubclass(candidate, BaseModel) else None


def _check_fields(key: str, fields: dict[str, ReadField], model: type[BaseModel]) -> None:
    for name, field in fields.items():
        if name not in model.model_fields:
            raise _Problem(
                f"{key}.{name}", f"not a field of {model.__name__}: use {', '.join(model.model_fields)}"
            )
        if field.each is not None:
            item = _item_model(model.model_fields[name].annotation)
            if item is None:
                raise _Problem(f"{key}.{name}.each", f"{name} is not a list or table of records")
            _check_fields(f"{key}.{name}.each", field.each, item)


# --- building requests and reading answers ------------------------------------------------------


def _set_nested(body: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def fill(fields: dict[str, SendField], context: dict[str, Any], nested: bool) -> dict[str, Any]:
    """The vendor fields from their templates; a null is left out unless ``keep_null``; dotted names nest
    when ``nested``.  A value that does not fit raises ``_Problem`` naming the vendor field."""
    filled: dict[str, Any] = {}
    for vendor_field, field in fields.items():
        try:
            value = field.resolve(context)
        except ValueError as exc:
            raise _Problem(vendor_field, str(exc)) from None
        if value is None and not field.keep_null:
            continue
        if nested:
            _set_nested(filled, vendor_field, _jsonable(value))
        else:
            filled[vendor_field] = _jsonable(value)
    return filled


def read_view(fields: dict[str, ReadField], item: Any, model: type[BaseModel]) -> dict[str, Any]:
    """The view's fields from one vendor record: mapped fields by their paths, the others by name."""
    values: dict[str, Any] = {}
    for name, spec in model.model_fields.items():
        if name in fields:
            value = _read_field(fields[name], item, spec.annotation, name)
            if value is not None or spec.is_required():
                values[name] = value
        elif isinstance(item, dict) and name in item:
            values[name] = item[name]
    return values


def _read_field(field: ReadField, item: Any, annotation: Any, name: str) -> Any:
    value = search(field.path, item)
    if value is None:
        return field.default
    try:
        value = field.convert(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if field.each is None:
        return value
    model = _item_model(annotation)
    assert model is not None  # checked when the file was loaded
    if isinstance(value, dict):
        return {key: read_view(field.each, entry, model) for key, entry in value.items()}
    if isinstance(value, list):
        return [read_view(field.each, entry, model) for entry in value]
    raise ValueError(f"{name}: expected a list or an object at {field.path!r}, got {type(value).__name__}")


@dataclass(frozen=True)
class _Page:
    url: str
    params: dict[str, Any]
    body: dict[str, Any] | None


def _with_param(page: _Page, name: str | None, value: Any) -> _Page:
    return _Page(page.url, {**page.params, str(name): value}, page.body)


def _next_page(
    pages: Pagination, page: _Page, items: list[Any], data: Any, response: httpx.Response
) -> _Page | None:
    """The request for the next page, or None when this was the last."""
    if pages.kind in ("page", "offset"):
        if not items or (pages.size is not None and len(items) < pages.size):
            return None
        step = 1 if pages.kind == "page" else len(items)
        return _with_param(page, pages.param, page.params[str(pages.param)] + step)
    if pages.kind == "cursor":
        token = search(str(pages.next_path), data)
        return None if token in (None, "") else _with_param(page, pages.param, token)
    if pages.kind == "next_url":
        found = search(str(pages.next_path), data)
    elif pages.kind == "link":
        found = response.links.get("next", {}).get("url")
    else:
        return None
    return _Page(str(response.request.url.join(str(found))), {}, page.body) if found else None


def _id_text(found: Any) -> str | None:
    """A record id read from an answer, as text; None where what was found is no id."""
    if found is None or found == "" or isinstance(found, dict | list | bool):
        return None
    return _text(found)


def _first_params(pages: Pagination, params: dict[str, Any]) -> dict[str, Any]:
    first = dict(params)
    if pages.kind in ("page", "offset"):
        first[str(pages.param)] = pages.start if pages.kind == "page" else 0
    if pages.size_param:
        first[pages.size_param] = pages.size
    return first


# --- the adapter ----------------------------------------------------------------------------------


class MappingOptions(AdapterOptions):
    mapping: Path = Field(description="the mapping file, TOML or YAML")
    base_url: str | None = Field(default=None, description="overrides the mapping's base_url")
    token_env: str | None = Field(default=None, description="overrides the mapping's auth token_env")
    timeout: float = Field(default=30.0, gt=0)


def _mapped(method: F) -> F:
    """Run the mapped operation of the same name; an unmapped one keeps the contract's default."""
    name = method.__name__

    @functools.wraps(method)
    def run(self: MappingAdapter, *args: Any, **kwargs: Any) -> Any:
        if name not in self.mapping.operations:
            return getattr(CRMAdapter, name)(self, *args, **kwargs)
        return method(self, *args, **kwargs)

    return typing.cast(F, run)


def auth_headers(auth: Auth, token_env: str | None, source: Path) -> dict[str, str]:
    """The authentication header, its secret read from the environment (never from the file)."""

    def secret(key: str, variable: str | None) -> str:
        assert variable is not None  # Auth checked it
        try:
            return secret_from_env(variable, "the vendor's API credentials").get_secret_value()
        except ConfigError as exc:
            raise ConfigError(f"{source}: key '{key}': {exc}") from None

    if auth.kind == "none":
        return {}
    if auth.kind == "basic":
        user = secret("auth.username_env", auth.username_env)
        pair = f"{user}:{secret('auth.password_env', auth.password_env)}"
        return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}
    key = "auth.token_env" if token_env is None else "auth.token_env (set by the adapter's token_env option)"
    token = secret(key, token_env or auth.token_env)
    scheme = auth.scheme if auth.scheme is not None else ("Bearer" if auth.kind == "bearer" else "")
    value = f"{scheme} {token}" if scheme else token
    return {auth.header or "Authorization": value}


def credential_hint(auth: Auth, token_env: str | None) -> str | None:
    """What the user fixes when the vendor answers 401: the variables holding the credentials."""
    if auth.kind == "none":
        return None
    if auth.kind == "basic":
        return f"the user name and password in {auth.username_env} and {auth.password_env}"
    return f"the token in {token_env or auth.token_env}"


class MappingAdapter(HTTPAdapter[MappingOptions]):
    """Any REST CRM, described by a mapping file: capabilities and clock come from the file."""

    name: ClassVar[str] = "mapping"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    conditional_capabilities: ClassVar[frozenset[Capability]] = MAPPABLE  # the file declares which

    def __init__(self, options: MappingOptions) -> None:
        super().__init__(options)
        self.source = options.mapping
        self.mapping = load_mapping(options.mapping)
        self.capabilities = frozenset(self.mapping.capabilities)  # type: ignore[misc]
        self.vendor_lacks = dict(self.mapping.vendor_lacks)  # type: ignore[misc]
        self.default_clock = self.mapping.default_clock  # type: ignore[misc]
        tasks = self.mapping.operations.get("lead_tasks")
        self.observes_task_owner = tasks is not None and "owner_id" in tasks.fields  # type: ignore[misc]
        base_url = options.base_url or self.mapping.base_url
        if not base_url:
            raise ConfigError(
                f"{self.source}: key 'base_url': not set: set it here or in the vendor's options"
            )
        self._origin = httpx.URL(base_url)
        headers = {**self.mapping.headers, **auth_headers(self.mapping.auth, options.token_env, self.source)}
        self.http = VendorHTTP(
            self.mapping.vendor,
            base_url,
            headers=headers,
            timeout=options.timeout,
            credential=credential_hint(self.mapping.auth, options.token_env),
        )
        self._load_client = LoadClient(base_url, headers, options.timeout)

    def observes(self, field: Observed) -> bool:
        """An optional view field is read where the mapping maps it (``operations.<op>.fields``)."""
        operation = OBSERVED_IN[field]
        endpoint = self.mapping.operations.get(operation)
        return endpoint is not None and field.value.split(".", 1)[1] in endpoint.fields

    # --- the engine ---------------------------------------------------------------------------
    def _problem(self, key: str, problem: _Problem) -> ConfigError:
        """A value the mapping cannot send (a harness-side fault, never the vendor's)."""
        return ConfigError(f"{self.source}: key 'operations.{key}.{problem.key}': {problem.message}")

    def _context(self, name: str, endpoint: Endpoint, values: dict[str, Any]) -> dict[str, Any]:
        """The operation's values plus its vars, each computed from what comes before it."""
        context = dict(values)
        for var, field in endpoint.vars.items():
            try:
                context[var] = field.resolve(context)
            except ValueError as exc:
                raise self._problem(name, _Problem(f"vars.{var}", str(exc))) from None
        return context

    def _first(self, name: str, endpoint: Endpoint, context: dict[str, Any]) -> _Page:
        path = render(endpoint.path, context, escape=_quote_segment)
        try:
            query = fill(endpoint.query, context, nested=False)
        except _Problem as problem:
            raise self._problem(f"{name}.query", problem) from None
        try:
            body = (
                None if endpoint.body is None else fill(endpoint.body, context, endpoint.encoding == "json")
            )
        except _Problem as problem:
            raise self._problem(f"{name}.body", problem) from None
        return _Page(path, _first_params(endpoint.pagination, query), body)

    def _send(self, endpoint: Endpoint, page: _Page) -> httpx.Response:
        kwargs: dict[str, Any] = {}
        if page.params:
            kwargs["params"] = page.params
        if page.body is not None:
            kwargs["json" if endpoint.encoding == "json" else "data"] = page.body
        if page.url.startswith(("http://", "https://")):
            self._same_origin(page.url)
        return self.http.request(endpoint.method, page.url, **kwargs)

    def _same_origin(self, url: str) -> None:
        target = httpx.URL(url)
        if (target.scheme, target.host, target.port) != (
            self._origin.scheme,
            self._origin.host,
            self._origin.port,
        ):
            raise VendorError(
                f"{self.mapping.vendor}: next page at another host ({target.host}): not followed"
            )

    def _decode(self, response: httpx.Response, where: str) -> Any:
        return decode_json(response, self.mapping.vendor, where)

    def _call(self, name: str, /, **values: Any) -> tuple[Endpoint, dict[str, Any], httpx.Response]:
        endpoint = self.mapping.operations[name]
        context = self._context(name, endpoint, values)
        return endpoint, context, self._send(endpoint, self._first(name, endpoint, context))

    def _where(self, name: str, endpoint: Endpoint) -> str:
        return f"{name} ({endpoint.method} {endpoint.path})"

    def _answer(self, name: str, /, **values: Any) -> Any:
        endpoint, _, response = self._call(name, **values)
        return self._decode(response, self._where(name, endpoint))

    def _items(self, name: str, endpoint: Endpoint, context: dict[str, Any]) -> list[Any]:
        """Every item of a list endpoint, over all its pages, that matches ``match``."""
        wanted = {path: _text(render(template, context)) for path, template in endpoint.match.items()}
        return [
            item
            for item in self._all_pages(name, endpoint, context)
            if all(_text(search(path, item)) == value for path, value in wanted.items())
        ]

    def _all_pages(self, name: str, endpoint: Endpoint, context: dict[str, Any]) -> Iterator[Any]:
        where = self._where(name, endpoint)
        page: _Page | None = self._first(name, endpoint, context)
        previous: list[Any] | None = None
        for _ in range(endpoint.pagination.max_pages):
            assert page is not None
            response = self._send(endpoint, page)
            data = self._decode(response, where)
            items = search(endpoint.envelope, data)
            if not isinstance(items, list):
                raise VendorError(
                    f"{self.mapping.vendor}: {where}: expected a list at {endpoint.envelope!r}, "
                    f"got {type(items).__name__}"
                )
            if items and items == previous:
                raise ConfigError(
                    f"{self.source}: key 'operations.{name}.pagination': the next page repeats the "
                    "previous one: check the pagination settings"
                )
            yield from items
            previous, page = items, _next_page(endpoint.pagination, page, items, data, response)
            if page is None:
                return
        raise ConfigError(
            f"{self.source}: key 'operations.{name}.pagination': more than "
            f"{endpoint.pagination.max_pages} pages: raise max_pages or check the pagination"
        )

    def _id(self, found: Any, path: str, where: str) -> str:
        text = _id_text(found)
        if text is None:
            raise VendorError(f"{self.mapping.vendor}: {where}: no id at {path!r} in the answer")
        return text

    def _parse(self, name: str, item: Any) -> Any:
        endpoint, model = self.mapping.operations[name], OPERATIONS[name].model
        assert model is not None
        where = self._where(name, endpoint)
        try:
            view = read_view(endpoint.fields, item, model)
        except ValueError as exc:
            raise VendorError(f"{self.mapping.vendor}: {where}: unexpected answer: {exc}") from None
        return parse_answer(model, view, self.mapping.vendor, where)

    # --- shapes -------------------------------------------------------------------------------
    def _create(self, name: str, /, **values: Any) -> str:
        endpoint, context, response = self._call(name, **values)
        where = self._where(name, endpoint)
        if endpoint.lookup is None:
            return self._id(search(endpoint.id, self._decode(response, where)), endpoint.id, where)
        lookup = f"{name}.lookup"
        found = self._items(lookup, endpoint.lookup, self._context(lookup, endpoint.lookup, context))
        if len(found) != 1:
            raise VendorError(
                f"{self.mapping.vendor}: {where}: the lookup found {len(found)} records instead of one"
            )
        return self._id(search(endpoint.lookup.id, found[0]), endpoint.lookup.id, f"{where} lookup")

    def _one(self, name: str, /, **values: Any) -> Any:
        endpoint = self.mapping.operations[name]
        return self._parse(name, search(endpoint.envelope, self._answer(name, **values)))

    def _many(self, name: str, /, **values: Any) -> list[Any]:
        endpoint = self.mapping.operations[name]
        items = self._items(name, endpoint, self._context(name, endpoint, values))
        return [self._parse(name, item) for item in items]

    def _ids(self, name: str, /, **values: Any) -> list[str]:
        endpoint = self.mapping.operations[name]
        items = self._items(name, endpoint, self._context(name, endpoint, values))
        return [
            self._id(search(endpoint.id, item), endpoint.id, self._where(name, endpoint)) for item in items
        ]

    def _act(self, name: str, /, **values: Any) -> None:
        self._call(name, **values)

    # --- contract: lifecycle and time -----------------------------------------------------------
    def check_connection(self) -> str:
        endpoint, _, response = self._call("check_connection")
        where = f"{endpoint.method} {endpoint.path}"
        return f"{self.mapping.vendor} answered {where} with HTTP {response.status_code}"

    def now(self) -> datetime:
        if "now" not in self.mapping.operations:
            return datetime.now(UTC)
        return typing.cast(datetime, self._one("now").now)

    @_mapped
    def advance_clock(self, delta: timedelta) -> datetime:
        seconds = delta.total_seconds()
        answer = self._one(
            "advance_clock", seconds=seconds, minutes=seconds / 60, hours=seconds / 3600, days=seconds / 86400
        )
        return typing.cast(datetime, answer.now)

    # --- contract: seeding ------------------------------------------------------------------------
    @_mapped
    def create_sales_rep(self, rep: SalesRep) -> str:
        return self._create("create_sales_rep", **rep.model_dump())

    @_mapped
    def list_sales_reps(self) -> list[str]:
        return self._ids("list_sales_reps")

    def create_account(self, account: Account) -> str:
        return self._create("create_account", **account.model_dump())

    def create_contact(self, contact: Contact, account_id: str) -> str:
        return self._create("create_contact", **contact.model_dump(), account_id=account_id)

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        return self._create("create_lead", **lead.model_dump(), arrived_at=arrived_at)

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        return self._create("log_activity", **activity.model_dump(), lead_id=lead_id)

    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        try:
            self._act("delete", kind=kind.value, id=vendor_id)
        except VendorError as exc:
            status = HTTP_STATUS.search(str(exc))
            if status and int(status.group(1)) in self.mapping.operations["delete"].gone_status:
                return False
            raise
        return True

    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        return self._ids("find_tagged", kind=kind.value, tag=tag)

    # --- the load probe -----------------------------------------------------------------------------
    def _replayed(self, name: str, values: Callable[[int], dict[str, Any]]) -> tuple[Endpoint, Callable]:
        """The operation's endpoint and, for request number n, its path with the query string."""
        endpoint = self.mapping.operations[name]

        def path(n: int) -> str:
            page = self._first(name, endpoint, self._context(name, endpoint, values(n)))
            return str(httpx.URL(page.url, params=page.params or None))

        return endpoint, path

    def load_targets(self, tag: str, known: typing.Mapping[RecordKind, typing.Sequence[str]]) -> LoadTargets:
        """Reads: ``get_lead`` (and ``lead_tasks`` where mapped) on this run's leads; writes:
        ``create_account`` under ``tag`` where its body is JSON and its answer holds the id."""
        leads = list(known.get(RecordKind.LEAD, ()))
        reads = []
        for name in ("get_lead", "lead_tasks"):
            if leads and name in self.mapping.operations:
                endpoint, path = self._replayed(name, lambda n: {"lead_id": leads[n % len(leads)]})
                reads.append(LoadRequest(f"{endpoint.method} {endpoint.path}", endpoint.method, path))
        writes = []
        create = self.mapping.operations["create_account"]
        if create.encoding == "json" and create.lookup is None:
            accounts = ProbeAccounts(tag)

            def account(n: int) -> dict[str, Any]:
                return accounts.account(n).model_dump()

            endpoint, path = self._replayed("create_account", account)
            body = create.body or {}
            writes.append(
                LoadRequest(
                    f"{create.method} {create.path}",
                    create.method,
                    path,
                    body=lambda n: fill(
                        body, self._context("create_account", create, account(n)), nested=True
                    ),
                    creates=RecordKind.ACCOUNT.value,
                    key=accounts.key,
                )
            )
        return LoadTargets(
            reads, writes, self._load_client, lambda answer: _id_text(search(create.id, answer))
        )

    # --- contract: lead -> contract -----------------------------------------------------------------
    def get_lead(self, lead_id: str) -> LeadView:
        return typing.cast(LeadView, self._one("get_lead", lead_id=lead_id))

    @_mapped
    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        return self._many("lead_tasks", lead_id=lead_id)

    @_mapped
    def lead_alerts(self, lead_id: str) -> list[AlertView]:
        return self._many("lead_alerts", lead_id=lead_id)

    @_mapped
    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        return self._create("convert_lead", lead_id=lead_id, amount=amount, expected_close=expected_close)

    @_mapped
    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        self._act("move_deal", deal_id=deal_id, stage=stage.value)

    @_mapped
    def get_deal(self, deal_id: str) -> DealView:
        return typing.cast(DealView, self._one("get_deal", deal_id=deal_id))

    @_mapped
    def complete_task(self, task_id: str, user_id: str | None) -> None:
        self._act("complete_task", task_id=task_id, user_id=user_id)

    # --- contract: ticket -> resolution ---------------------------------------------------------------
    @_mapped
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        return self._create(
            "create_ticket", **ticket.model_dump(), contact_id=contact_id, opened_at=opened_at
        )

    @_mapped
    def get_ticket(self, ticket_id: str) -> TicketView:
        return typing.cast(TicketView, self._one("get_ticket", ticket_id=ticket_id))

    @_mapped
    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        self._act("reply_ticket", ticket_id=ticket_id, message=message, user_id=user_id)

    @_mapped
    def close_ticket(self, ticket_id: str) -> None:
        self._act("close_ticket", ticket_id=ticket_id)

    @_mapped
    def ticket_surveys(self, ticket_id: str) -> list[SurveyInviteView]:
        return self._many("ticket_surveys", ticket_id=ticket_id)

    @_mapped
    def answer_survey(self, survey_id: str, score: int) -> None:
        self._act("answer_survey", survey_id=survey_id, score=score)

    # --- contract: management reports ------------------------------------------------------------------
    @_mapped
    def report_conversion(self, start: datetime, end: datetime, tag: str) -> ConversionFigure:
        return typing.cast(ConversionFigure, self._one("report_conversion", start=start, end=end, tag=tag))

    @_mapped
    def report_first_response(self, start: datetime, end: datetime, tag: str) -> FirstResponseFigure:
        figure = self._one("report_first_response", start=start, end=end, tag=tag)
        return typing.cast(FirstResponseFigure, figure)

    @_mapped
    def report_weekly_activity(self, week_start: datetime, tag: str) -> WeeklyActivityFigure:
        figure = self._one("report_weekly_activity", week_start=week_start, tag=tag)
        return typing.cast(WeeklyActivityFigure, figure)

    @_mapped
    def report_sla_compliance(self, start: datetime, end: datetime, tag: str) -> SlaComplianceFigure:
        figure = self._one("report_sla_compliance", start=start, end=end, tag=tag)
        return typing.cast(SlaComplianceFigure, figure)

    @_mapped
    def report_forecast(self, start: datetime, end: datetime, tag: str) -> ForecastFigure:
        return typing.cast(ForecastFigure, self._one("report_forecast", start=start, end=end, tag=tag))

    @_mapped
    def report_nps(self, tag: str) -> NpsFigure:
        return typing.cast(NpsFigure, self._one("report_nps", tag=tag))


Endpoint.model_rebuild()
ReadField.model_rebuild()
