"""The wheel carries the checkout's datasets.lock, datasets.lock.d/ and benchmarks/*.yaml as package data.

They live at the repository root, where users edit them; setuptools' package data can only name files inside a
package, so `build_py` copies them into `suite/shipped/` of the build (never into the source tree). At run time
suite/paths.py `shipped()` prefers the checkout's files and falls back to these copies. Everything else about the
package is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("datasets.lock", "datasets.lock.d", "benchmarks")


class BuildWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "suite" / "shipped"
        for name in SHIPPED:
            source = ROOT / name
            if source.is_dir():
                for path in sorted(source.iterdir()):
                    if path.is_file() and path.suffix in (".yaml", ".yml", ".csv", ".sha256"):
                        (target / name).mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, target / name / path.name)
            elif source.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithShippedFiles})
