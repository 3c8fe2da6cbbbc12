"""No import circle among ``poc_harness`` and ``adapters`` modules, not even one closed by a
``TYPE_CHECKING`` import (``tests/import_graph.py`` reads the imports statically)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import When, build, describe

ALLOWED: set[str] = set()
"""Circles tolerated while a change removes them: none."""


def test_no_import_circle_among_the_harness_modules() -> None:
    circles = {describe(c) for c in build().circles(When.RUNTIME, When.TYPING)}
    assert circles - ALLOWED == set(), "import circles:\n" + "\n".join(sorted(circles - ALLOWED))


def test_every_allowed_circle_still_exists() -> None:
    """An allow-list entry whose circle is gone must go too, so the list never hides a new circle."""
    circles = {describe(c) for c in build().circles(When.RUNTIME, When.TYPING)}
    assert circles >= ALLOWED, f"remove from ALLOWED: {sorted(ALLOWED - circles)}"


def test_the_stories_see_neither_the_trial_nor_its_plugin() -> None:
    graph = build()
    seen = graph.imports("poc_harness.run.stories", When.RUNTIME, When.TYPING, When.DEFERRED)
    assert seen.isdisjoint({"poc_harness.run.trial", "poc_harness.plugin"}), seen


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("b_imports_a", "runtime", "typing"),
    [
        ("from pkg import a\n", ["pkg.a -> pkg.b -> pkg.a"], ["pkg.a -> pkg.b -> pkg.a"]),
        ("from . import a\n", ["pkg.a -> pkg.b -> pkg.a"], ["pkg.a -> pkg.b -> pkg.a"]),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import X\n",
            [],
            ["pkg.a -> pkg.b -> pkg.a"],
        ),
        ("def f():\n    import pkg.a\n", [], []),
        ("try:\n    import pkg.sub.c\nexcept ImportError:\n    pass\n", [], []),
    ],
)
def test_circles_are_found_by_when_their_imports_run(
    tmp_path: Path, b_imports_a: str, runtime: list[str], typing: list[str]
) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": b_imports_a,
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "import os\n",
        },
    )
    graph = build(tmp_path, ["pkg"])
    assert [describe(c) for c in graph.circles(When.RUNTIME)] == runtime
    assert [describe(c) for c in graph.circles(When.RUNTIME, When.TYPING)] == typing


def test_importing_a_submodule_initialises_its_packages(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg import a\n",
            "pkg/a.py": "",
            "other/__init__.py": "",
            "other/x.py": "import pkg.a\n",
        },
    )
    graph = build(tmp_path, ["pkg", "other"])
    assert graph.imports("other.x", When.RUNTIME) == {"pkg", "pkg.a"}
    assert graph.imports("pkg.a", When.RUNTIME) == set()
    assert graph.circles(When.RUNTIME) == []


def test_a_package_importing_a_module_that_imports_the_package_is_a_circle(tmp_path: Path) -> None:
    _write(tmp_path, {"pkg/__init__.py": "from pkg import a\n", "pkg/a.py": "from pkg import helper\n"})
    assert [describe(c) for c in build(tmp_path, ["pkg"]).circles(When.RUNTIME)] == ["pkg -> pkg.a -> pkg"]
