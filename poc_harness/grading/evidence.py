"""The manual evidence the steering committee enters, as input to grading.

Two kinds of evidence no API shows:

- the **tester satisfaction survey** (acceptance criterion: at least 80 % of the test
  users satisfied). The harness takes the testers' answers as input and never invents
  them: ``load_satisfaction`` reads a CSV or YAML file, one answer per test user.
- the **scorecard**, one YAML file per vendor: a 0-100 score with its evidence for the
  matrix criteria a run cannot measure (price and TCO, contract SLA, low-code,
  certifications...) and the yearly cost lines behind TCO and ROI.

Every problem is one ``EvidenceError`` line naming the file and, for the survey, every
bad row's line number; for the scorecard, every bad key path. Templates to copy live in
``fixtures/templates/``.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

from poc_harness.errors import ConfigError
from poc_harness.grading.criteria import Criterion

if TYPE_CHECKING:
    from poc_harness.config import PocConfig

COLUMNS: tuple[str, ...] = ("tester", "role", "score", "comment")
REQUIRED_COLUMNS: tuple[str, ...] = ("tester", "role", "score")
CSV_SUFFIXES = frozenset({".csv"})
YAML_SUFFIXES = frozenset({".yaml", ".yml"})
TEMPLATES = Path("fixtures/templates")

NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Amount = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]

RawRow = tuple[int, dict[str, Any]]
Problem = tuple[int, str]


class EvidenceError(ConfigError):
    """The committee's evidence file is wrong: one line naming the file and every problem."""


# --- tester satisfaction -----------------------------------------------------------------


class SatisfactionAnswer(BaseModel):
    """One test user's answer to the satisfaction survey; ``line`` is where it was read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tester: NonEmptyText
    role: NonEmptyText
    score: int
    comment: str = ""
    line: int = Field(ge=1)


class SatisfactionSurvey(BaseModel):
    """Every answer of one survey, with the scale it was asked on and the satisfied threshold."""

    model_config = ConfigDict(extra="forbid")

    source: str
    scale_max: int = Field(ge=2)
    satisfied_at: int = Field(ge=1)
    answers: list[SatisfactionAnswer]

    @model_validator(mode="after")
    def _threshold_on_scale(self) -> SatisfactionSurvey:
        if self.satisfied_at > self.scale_max:
            raise ValueError(f"satisfied_at {self.satisfied_at} is outside 1..{self.scale_max}")
        return self

    def is_satisfied(self, answer: SatisfactionAnswer) -> bool:
        """Whether ``answer`` reaches the satisfied threshold."""
        return answer.score >= self.satisfied_at

    def satisfied(self) -> int:
        """How many testers are satisfied."""
        return sum(1 for answer in self.answers if self.is_satisfied(answer))

    def share_pct(self) -> float:
        """The share of satisfied testers, in percent (0 when nobody answered)."""
        if not self.answers:
            return 0.0
        return self.satisfied() / len(self.answers) * 100

    def by_role(self) -> dict[str, tuple[int, int]]:
        """``role -> (satisfied, total)``, roles in the order they first appear."""
        counts: dict[str, tuple[int, int]] = {}
        for answer in self.answers:
            satisfied, total = counts.get(answer.role, (0, 0))
            counts[answer.role] = (satisfied + self.is_satisfied(answer), total + 1)
        return counts


def load_satisfaction(path: Path, scale_max: int = 5, satisfied_at: int = 4) -> SatisfactionSurvey:
    """Read the survey answers from a CSV or YAML file (chosen by suffix) and validate every row.

    A score of ``satisfied_at`` or more (on ``1..scale_max``) counts as satisfied.
    """
    source = str(path)
    _check_scale(source, scale_max, satisfied_at)
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | YAML_SUFFIXES:
        raise EvidenceError(
            f"{source}: unknown file type '{suffix or '(none)'}': use .csv, .yaml or .yml "
            f"(see {TEMPLATES / 'satisfaction.csv'})"
        )
    text = _read_text(path, source)
    rows, problems = _csv_rows(text) if suffix in CSV_SUFFIXES else _yaml_rows(text, source)
    answers, row_problems = _validate_rows(rows, scale_max)
    problems += row_problems
    if problems:
        listed = sorted(problems, key=lambda problem: problem[0])
        raise EvidenceError(f"{source}: " + "; ".join(f"line {line}: {text}" for line, text in listed))
    if not answers:
        raise EvidenceError(
            f"{source}: no answers: add one row per test user (see {TEMPLATES / 'satisfaction.csv'})"
        )
    return SatisfactionSurvey(source=source, scale_max=scale_max, satisfied_at=satisfied_at, answers=answers)


def _check_scale(source: str, scale_max: int, satisfied_at: int) -> None:
    if scale_max < 2:
        raise EvidenceError(f"{source}: scale_max {scale_max} is too small: use a scale of 2 or more")
    if not 1 <= satisfied_at <= scale_max:
        raise EvidenceError(f"{source}: satisfied_at {satisfied_at} is outside 1..{scale_max}")


def _read_text(path: Path, source: str) -> str:
    """The file's text (UTF-8, a byte-order mark allowed, line endings untouched)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise EvidenceError(f"{source}: file not found: check the path") from None
    except UnicodeDecodeError:
        raise EvidenceError(f"{source}: is not UTF-8 text: save it as UTF-8") from None
    except OSError as exc:
        raise EvidenceError(f"{source}: cannot be read ({exc.__class__.__name__}): check the file") from None


def _csv_rows(text: str) -> tuple[list[RawRow], list[Problem]]:
    """``(line, values)`` for every non-blank data row, plus the header's problems."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if not any(header):
            return [], []
        problems = _header_problems(header)
        if any(column not in header for column in REQUIRED_COLUMNS):
            return [], problems
        rows: list[RawRow] = []
        start = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append(_csv_row(start, header, cells, problems))
            start = reader.line_num + 1
    except csv.Error as exc:
        return [], [(reader.line_num, f"not valid CSV ({exc})")]
    return rows, problems


def _header_problems(header: list[str]) -> list[Problem]:
    problems = [(1, f"missing column '{column}'") for column in REQUIRED_COLUMNS if column not in header]
    for index, name in enumerate(header):
        if name not in COLUMNS:
            problems.append((1, f"unknown column '{name}' (expected {', '.join(COLUMNS)})"))
        elif name in header[:index]:
            problems.append((1, f"column '{name}' appears twice"))
    return problems


def _csv_row(line: int, header: list[str], cells: list[str], problems: list[Problem]) -> RawRow:
    if len(cells) > len(header):
        problems.append(
            (
                line,
                f"{len(cells)} values but the header has {len(header)} columns "
                "(put a comment that contains a comma in double quotes)",
            )
        )
    values = {name: cell for name, cell in zip(header, cells, strict=False) if name in COLUMNS}
    return line, {column: values.get(column, "") for column in COLUMNS}


def _yaml_rows(text: str, source: str) -> tuple[list[RawRow], list[Problem]]:
    """``(line, mapping)`` for every list item; the list is the document or its ``answers`` key."""
    node, data = _load_yaml(text, source)
    if node is None or data is None:
        return [], []
    line = node.start_mark.line + 1
    if isinstance(data, dict):
        unknown = [
            (_line_of(node, (str(key),)), f"unknown key '{key}' (expected answers)")
            for key in data
            if key != "answers"
        ]
        if unknown:
            return [], unknown
        node, data = _value_node(node, "answers"), data.get("answers")
        if node is None or data is None:
            return [], []
    if not isinstance(data, list):
        return [], [(line, "expected a list of answers (tester, role, score, comment)")]
    return list(zip((item.start_mark.line + 1 for item in node.value), data, strict=True)), []


def _validate_rows(rows: list[RawRow], scale_max: int) -> tuple[list[SatisfactionAnswer], list[Problem]]:
    answers: list[SatisfactionAnswer] = []
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for line, raw in rows:
        row_problems = _row_problems(raw, scale_max)
        tester = _text(raw.get("tester")) if isinstance(raw, dict) else None
        if tester:
            key = _identity(tester)
            if key in first_line:
                row_problems.append(f"tester '{tester}' already answered on line {first_line[key]}")
            first_line.setdefault(key, line)
        problems += [(line, problem) for problem in row_problems]
        if not row_problems:
            answers.append(_answer(line, raw))
    return answers, problems


def _row_problems(raw: object, scale_max: int) -> list[str]:
    if not isinstance(raw, dict):
        return [f"expected a mapping with keys {', '.join(COLUMNS)}"]
    problems = [f"unknown key '{key}' (expected {', '.join(COLUMNS)})" for key in raw if key not in COLUMNS]
    for column in ("tester", "role", "comment"):
        problems += _text_problems(column, raw)
    problems += _score_problems(raw, scale_max)
    return problems


def _text_problems(column: str, raw: dict[str, Any]) -> list[str]:
    if column not in raw:
        return [] if column == "comment" else [f"{column} is missing"]
    value = _text(raw[column])
    if value is None:
        return [f"{column} must be text, got {raw[column]!r} (put it in quotes)"]
    if not value and column != "comment":
        return [f"{column} is empty"]
    return []


def _score_problems(raw: dict[str, Any], scale_max: int) -> list[str]:
    if "score" not in raw:
        return ["score is missing"]
    value = raw["score"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return ["score is empty"]
    score = _integer(value)
    if score is None:
        return [f"score {value!r} is not an integer"]
    if not 1 <= score <= scale_max:
        return [f"score {score} is outside 1..{scale_max}"]
    return []


def _answer(line: int, raw: dict[str, Any]) -> SatisfactionAnswer:
    return SatisfactionAnswer(
        tester=_text(raw["tester"]) or "",
        role=_text(raw["role"]) or "",
        score=_integer(raw["score"]) or 0,
        comment=_text(raw.get("comment")) or "",
        line=line,
    )


def _text(value: object) -> str | None:
    """``value`` as one tidy line of text; ``None`` when it is not text at all."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return None
    return " ".join(value.split())


def _integer(value: object) -> int | None:
    """``value`` as an integer (Persian digits allowed); ``None`` when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _identity(name: str) -> str:
    """The key two spellings of one tester share (case, width, Arabic or Persian yeh and kaf)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(folded.translate(str.maketrans("يك", "یک")).split())


# --- YAML with line numbers ----------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice in one mapping (the last would win silently)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise ConstructorError(None, None, f"key '{key}' appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _load_yaml(text: str, source: str) -> tuple[Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from one parse."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise EvidenceError(f"{source}: not valid YAML ({exc.problem}{where}): fix the syntax") from None
    except yaml.YAMLError as exc:
        raise EvidenceError(f"{source}: not valid YAML ({exc}): fix the syntax") from None
    finally:
        loader.dispose()


def _key_and_value(node: Node | None, key: str) -> tuple[Node, Node] | None:
    """The key and value nodes of ``key`` in mapping ``node``, if it is there."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if str(key_node.value) == key:
                return key_node, value_node
    return None


def _value_node(node: Node | None, key: str) -> Node | None:
    """The node under ``key`` of mapping ``node``, if there is one."""
    found = _key_and_value(node, key)
    return found[1] if found is not None else None


def _line_of(root: Node, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest key on key path ``loc`` that exists in the file (else the document's)."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        found = _key_and_value(node, str(part))
        if found is None:
            break
        line, node = found[0].start_mark.line + 1, found[1]
    return line


# --- the scorecard -------------------------------------------------------------------------


class CriterionEvidence(BaseModel):
    """A declared 0-100 score for one matrix criterion and where that number comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: float = Field(ge=0, le=100, strict=True, allow_inf_nan=False)
    evidence: NonEmptyText


class CostLines(BaseModel):
    """One vendor's yearly cost lines (one currency) and the expected gains, for TCO and ROI."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str = ""
    users: int = Field(ge=1, strict=True)
    licence_per_user: Amount
    deployment_migration: Amount
    training_adoption: Amount
    addons_custom: Amount
    maintenance_support: Amount
    revenue_increase: Amount = 0.0
    cost_reduction: Amount = 0.0

    def breakdown(self) -> dict[str, float]:
        """The five yearly TCO lines, licences already multiplied by the users."""
        return {
            "licences": self.licence_per_user * self.users,
            "deployment_migration": self.deployment_migration,
            "training_adoption": self.training_adoption,
            "addons_custom": self.addons_custom,
            "maintenance_support": self.maintenance_support,
        }

    def tco(self) -> float:
        """Yearly TCO = licences × users + deployment + training + add-ons + maintenance."""
        return sum(self.breakdown().values())

    def roi_pct(self) -> float | None:
        """Yearly ROI % = (revenue increase + cost reduction − TCO) ÷ TCO × 100; ``None`` when TCO is 0."""
        tco = self.tco()
        if tco == 0:
            return None
        return (self.revenue_increase + self.cost_reduction - tco) / tco * 100


class Scorecard(BaseModel):
    """What the committee declares for one vendor: scores with evidence, and the cost lines."""

    model_config = ConfigDict(extra="forbid")

    vendor: NonEmptyText
    criteria: dict[Criterion, CriterionEvidence] = {}
    cost: CostLines | None = None
    source: str = ""


_FILE_KEYS: dict[str, tuple[str, ...]] = {
    "": ("vendor", "criteria", "cost"),
    "cost": tuple(CostLines.model_fields),
    "criteria": tuple(CriterionEvidence.model_fields),
}


def load_scorecard(path: Path) -> Scorecard:
    """Read one vendor's scorecard YAML; every problem is reported with its key path and line."""
    source = str(path)
    node, data = _load_yaml(_read_text(path, source), source)
    if node is None or data is None:
        raise EvidenceError(f"{source}: is empty: copy {TEMPLATES / 'scorecard.yaml'} and fill it in")
    if not isinstance(data, dict):
        raise EvidenceError(f"{source}: expected a mapping with keys {', '.join(_FILE_KEYS[''])}")
    if "source" in data:
        line = _line_of(node, ("source",))
        raise EvidenceError(
            f"{source}: source: unknown key: remove it, the loader records the file (line {line})"
        )
    try:
        return Scorecard.model_validate({**data, "source": source})
    except ValidationError as exc:
        problems = [_describe(error, node) for error in exc.errors()]
        raise EvidenceError(f"{source}: " + "; ".join(problems)) from None


def _describe(error: Any, root: Node) -> str:
    """One problem as ``key.path: what is wrong (line N)``."""
    loc = tuple(part for part in error["loc"] if part != "[key]")
    path = ".".join(str(part) for part in loc)
    return f"{path}: {_message(error)} (line {_line_of(root, loc)})"


def _message(error: Any) -> str:
    loc, kind = error["loc"], error["type"]
    if kind == "extra_forbidden":
        section = str(loc[0]) if len(loc) > 1 else ""
        expected = ", ".join(_FILE_KEYS[section])
        return f"unknown key: remove it or check its spelling (expected {expected})"
    if loc[-1] == "[key]" and loc[0] == "criteria":
        return f"unknown criterion: one of {', '.join(criterion.value for criterion in Criterion)}"
    if kind == "model_type" and loc[0] == "criteria":
        return 'expected {score: 0-100, evidence: "where the number comes from"}'
    if kind == "string_too_short" and loc[-1] == "evidence":
        return "evidence is empty: say where the number comes from (a quote, a demo, a document)"
    value = error.get("input")
    got = f" (got {value!r})" if isinstance(value, str | int | float) or value is None else ""
    return f"{error['msg']}{got}" if kind != "missing" else error["msg"]


def evidence_for(
    config: PocConfig, vendor: str, satisfaction: Path | None = None, scorecard: Path | None = None
) -> tuple[SatisfactionSurvey | None, Scorecard | None]:
    """The committee's evidence: explicit paths first, then the ``[evidence]`` table of the config."""
    settings = config.evidence
    survey_path = satisfaction or settings.satisfaction
    if scorecard is None and settings.scorecards is not None:
        candidate = settings.scorecards / f"{vendor}.yaml"
        scorecard = candidate if candidate.exists() else None
    survey = (
        load_satisfaction(survey_path, settings.scale_max, settings.satisfied_at) if survey_path else None
    )
    return survey, load_scorecard(scorecard) if scorecard else None
