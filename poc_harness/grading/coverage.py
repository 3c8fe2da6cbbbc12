"""Which checks the scenario suites define, whatever a run selected.

The verdict may accept only a run that judged every acceptance check, so the run records the checks
the suites *define* next to those it *selected*.  The defined set is read from the source of every
``test_*.py`` under the scenarios folder (``ast``, nothing imported or run), independent of the paths,
``-k``, ``-m`` or ``--deselect`` the user passed: a run whose selection leaves any out is *partial*.

A check's id is ``<file stem without test_>::<function name without test_>`` (what the plugin's
``check_id_of`` gives a collected item); its severity and criterion come from its
``@pytest.mark.severity(...)`` / ``@pytest.mark.criterion(...)`` decorators (or the module's
``pytestmark``).
"""

from __future__ import annotations

import ast
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MARKS = ("severity", "criterion")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DefinedCheck:
    check: str
    severity: str | None
    criterion: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mark(node: ast.expr) -> tuple[str, str] | None:
    """``pytest.mark.<name>("value")`` (or ``mark.<name>(...)``) as (name, value), else None."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    name, owner = node.func.attr, node.func.value
    is_mark = (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
        isinstance(owner, ast.Name) and owner.id == "mark"
    )
    if name not in MARKS or not is_mark or not node.args:
        return None
    value = node.args[0]
    return (name, str(value.value)) if isinstance(value, ast.Constant) else None


def _marks(nodes: list[ast.expr]) -> dict[str, str]:
    return dict(found for node in nodes if (found := _mark(node)) is not None)


def _module_marks(tree: ast.Module) -> dict[str, str]:
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in statement.targets
        ):
            value = statement.value
            return _marks(list(value.elts) if isinstance(value, ast.List | ast.Tuple) else [value])
    return {}


def _functions(tree: ast.Module) -> list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, dict[str, str]]]:
    """Test functions at module level and in ``Test*`` classes, with the class's marks."""
    found: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, dict[str, str]]] = []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((statement, {}))
        elif isinstance(statement, ast.ClassDef) and statement.name.startswith("Test"):
            inherited = _marks(statement.decorator_list)
            found.extend(
                (member, inherited)
                for member in statement.body
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return [(function, marks) for function, marks in found if function.name.startswith("test")]


def checks_in(path: Path) -> list[DefinedCheck]:
    """The checks one scenario file defines; a file that does not parse defines none (logged)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        log.warning("coverage: %s: cannot be read (%s): its checks are not counted", path, exc)
        return []
    stem = path.stem.removeprefix("test_")
    module = _module_marks(tree)
    checks = []
    for function, inherited in _functions(tree):
        marks = {**module, **inherited, **_marks(function.decorator_list)}
        name = f"{stem}::{function.name.removeprefix('test_')}"
        checks.append(DefinedCheck(name, marks.get("severity"), marks.get("criterion")))
    return checks


def defined_checks(folder: Path) -> list[DefinedCheck]:
    """Every check the ``test_*.py`` files under ``folder`` define, by id (one entry per id)."""
    seen: dict[str, DefinedCheck] = {}
    for path in sorted(folder.rglob("test_*.py")) if folder.is_dir() else []:
        for check in checks_in(path):
            seen.setdefault(check.check, check)
    return list(seen.values())


def suite_record(
    defined: list[DefinedCheck], selected: list[str], collected: list[DefinedCheck] | None = None
) -> dict[str, Any]:
    """The results' ``run.suite``: the checks defined (a check pytest collected that the source scan
    missed, e.g. one generated at import, is added) and the ids selected, sorted."""
    by_id = {check.check: check for check in defined}
    for check in collected or []:
        by_id.setdefault(check.check, check)
    return {
        "defined": [by_id[name].to_json() for name in sorted(by_id)],
        "selected": sorted(set(selected)),
    }
