"""What a non-editable install (the Docker image, ``pip install news-monitor``) ships: the
real wheel, built offline from this checkout, must hold every data file the package reads at
run time (templates, stylesheet, JSON schemas, model files). A file left out of the
package-data patterns in pyproject.toml works in the source checkout and breaks installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "monitor"


def _source_files() -> set[str]:
    return {
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts
    }


def test_the_wheel_holds_every_file_of_the_package(tmp_path):
    # built from a clean copy (a checkout's build/ and egg-info folders would hide a file
    # missing from the patterns); --no-build-isolation: setuptools and wheel come from the
    # test extra, nothing is fetched
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(PACKAGE, tree / "monitor", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(tree), "--no-deps", "--no-build-isolation"]
        + ["--quiet", "--wheel-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("news_monitor-*.whl")
    with zipfile.ZipFile(wheel) as z:
        shipped = {n for n in z.namelist() if n.startswith("monitor/")}
    source = _source_files()
    # the files the web view, the claims models and the API schemas need are among them
    for needed in (
        "monitor/web/static/style.css",
        "monitor/web/templates/claim.html",
        "monitor/claims/pair_model/model.onnx",
        "monitor/resources/schemas/feed.json",
    ):
        assert needed in source, needed
    missing = sorted(source - shipped)
    assert not missing, f"left out of the wheel (pyproject.toml package-data?): {missing}"
