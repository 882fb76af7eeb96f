"""Packaging beyond what pyproject.toml can say: the wheel carries the committed API shapes.

``api_shapes/`` stays at the top of the repository (it is generated from botocore by
``scripts/gen_shapes.py`` and checked for drift by the tests); a wheel or a plain
``pip install <checkout>`` copies its JSON files into the package as ``ecsemu/_shapes/``, where
``ecsemu.protocol.validation`` looks first. An editable install reads them from the checkout.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHAPES = Path(__file__).resolve().parent / "api_shapes"


class BuildWithShapes(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "ecsemu" / "_shapes"
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted(SHAPES.glob("*.json")):
            self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildWithShapes})
