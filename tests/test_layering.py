"""The import contract (pyproject's ``[tool.importlinter]``, DESIGN.md's floors) holds on the
tree, and a planted violation breaks it with a message naming the offending import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with ``package_parent``'s ``ecsemu`` first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(REPO / "pyproject.toml")],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "named"),
    [
        # the reconciler reaching into a service
        ("reconcile/ids.py", "from ecsemu.services.ecs import arns", "ecsemu.reconcile.ids -> ecsemu.services.ecs.arns"),
        # the load balancer's engine reaching the store through a model module that reads it
        ("lb/balancing.py", "from ecsemu.model import load_balancing", "ecsemu.lb.balancing -> ecsemu.model.load_balancing"),
        # one service importing another's internals
        ("services/ecs/tags.py", "from ecsemu.services.elbv2 import base", "ecsemu.services.ecs.tags -> ecsemu.services.elbv2.base"),
    ],
)
def test_a_planted_violation_fails_with_a_readable_message(tmp_path: Path, module: str, planted: str, named: str) -> None:
    shutil.copytree(REPO / "ecsemu", tmp_path / "ecsemu", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    target = tmp_path / "ecsemu" / module
    target.write_text(target.read_text() + f"\n{planted}  # noqa\n")

    result = _lint(tmp_path)

    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert named in result.stdout, result.stdout
