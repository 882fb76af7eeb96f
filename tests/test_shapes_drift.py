"""The committed api_shapes/*.json must be exactly what the installed botocore generates."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHAPES_DIR = REPO_ROOT / "api_shapes"
COMMITTED = sorted(SHAPES_DIR.glob("*.json"))


def load_generator() -> ModuleType:
    path = REPO_ROOT / "scripts" / "gen_shapes.py"
    spec = importlib.util.spec_from_file_location("gen_shapes", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_required_services_are_committed() -> None:
    assert {"ecs", "elbv2"} <= {path.stem for path in COMMITTED}


@pytest.mark.parametrize("path", COMMITTED, ids=lambda path: path.stem)
def test_committed_shapes_match_installed_botocore(path: Path) -> None:
    generator = load_generator()
    expected = generator.render(generator.build_service_schema(path.stem))
    committed = path.read_text(encoding="utf-8")
    assert committed == expected, (
        f"api_shapes/{path.name} differs from what botocore {generator.botocore.__version__} "
        f"generates; run `python scripts/gen_shapes.py {path.stem}` and commit the result"
    )


def test_generator_cli_writes_the_committed_text(tmp_path: Path) -> None:
    generator = load_generator()
    assert generator.main(["--out-dir", str(tmp_path), "ecs"]) == 0
    written = (tmp_path / "ecs.json").read_text(encoding="utf-8")
    assert written == (SHAPES_DIR / "ecs.json").read_text(encoding="utf-8")
    assert generator.main(["--out-dir", str(tmp_path), "--check", "ecs", "elbv2"]) == 1
