"""Build hook: the web page (web_demo/) and the JS client package (js/) ship inside the wheel as
package data, under estuary/_assets/, while staying top-level folders of the source tree (the
layout is fixed). An editable install reads them where they are (estuary/assets.py).

Not copied: js/node_modules and js/dist (built from the lockfile by `estuary setup-js`) and
hidden files. Everything else is configured in pyproject.toml.
"""

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
ASSETS = {"web_demo": HERE / "web_demo", "js": HERE / "js"}
SKIP = {"node_modules", "dist"}


def asset_files(root: Path):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.startswith("."))
        yield from (Path(folder, f) for f in sorted(files) if not f.startswith("."))


class BuildPyWithAssets(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # estuary/assets.py finds the top-level folders of the checkout
        for name, root in ASSETS.items():
            for path in asset_files(root):
                dest = Path(self.build_lib, "estuary", "_assets", name, path.relative_to(root))
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [str(Path(self.build_lib, "estuary", "_assets", name,
                                   path.relative_to(root)))
                          for name, root in ASSETS.items() for path in asset_files(root)]


setup(cmdclass={"build_py": BuildPyWithAssets})
