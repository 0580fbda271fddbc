"""The documentation site builds with warnings as errors and holds what it promises.

One full Sphinx build (the same command as ``make docs``, into a temporary
folder), then checks on the pages: every public name of each API page has its
entry, the gallery has a page per reproduction with its verdict, the
benchmarks page has its tables, math is rendered from local files.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("pydata_sphinx_theme")
pytest.importorskip("numpydoc")
pytest.importorskip("myst_parser")

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "tools"))

import docs_site  # noqa: E402  (tools/docs_site.py)

# one build for the whole module: keep its tests on one pytest-xdist worker
pytestmark = pytest.mark.xdist_group("docs_site")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The built site, built once per test session even if xdist splits this module.

    The build goes into the session's shared temporary root under a file lock:
    the first worker builds (and records the outcome), any other waits and reuses it.
    """
    import fcntl

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of one session
    out = root / "docs_site"
    out.mkdir(exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        failed = out / "failed.txt"
        if not (out / "html" / "index.html").exists() and not failed.exists():
            env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
            cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                   "-d", str(out / "doctrees"), str(DOCS), str(out / "html")]
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=900)
            if proc.returncode != 0:
                failed.write_text(f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
        if failed.exists():
            pytest.fail(f"sphinx-build failed:\n{failed.read_text()}")
    return out / "html"


def _text(html: str) -> str:
    """The page without its tags (highlighted code is split into many spans)."""
    return re.sub(r"<[^>]+>", "", html)


def _page(site: Path, name: str) -> str:
    path = site / name
    assert path.is_file(), f"{name} was not built"
    return path.read_text(encoding="utf-8")


def test_landing_page_has_the_verdict_headline(site):
    records = [json.loads(p.read_text()) for p in sorted((DOCS / "reproductions").glob("*.json"))]
    n_reproduced = sum(r["verdict"] == "reproduced" for r in records)
    html = _page(site, "index.html")
    assert f"{len(records)} papers, {n_reproduced} are reproduced" in html
    for target in ("api/index.html", "gallery/index.html", "benchmarks/index.html"):
        assert f'href="{target}"' in html


def test_every_public_name_has_an_api_entry(site):
    missing = []
    for page, _, _, modules in docs_site.API_PAGES:
        html = _page(site, f"api/{page}.html")
        for modname in modules:
            mod = importlib.import_module(modname)
            for name in getattr(mod, "__all__", []):
                obj = getattr(mod, name)
                if inspect.ismodule(obj):
                    assert f'id="module-{obj.__name__}"' in html, obj.__name__
                    continue
                if f'id="{modname}.{name}"' not in html:
                    missing.append(f"{page}: {modname}.{name}")
    assert not missing, f"names without an API entry: {missing}"


def test_api_page_renders_docstrings_and_math(site):
    html = _page(site, "api/transport.html")
    assert "wasserstein_1d" in html and "Parameters" in html
    assert 'class="math' in html
    # MathJax from the build folder, not from a CDN: the site works offline
    assert "cdn.jsdelivr.net" not in html
    assert "_static/mathjax/tex-chtml.js" in html
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_gallery_has_a_page_per_reproduction_with_its_verdict(site):
    index = _page(site, "gallery/index.html")
    for path in sorted((DOCS / "reproductions").glob("*.json")):
        record = json.loads(path.read_text())
        slug = record["slug"]
        assert f'href="{slug}.html"' in index
        html = _text(_page(site, f"gallery/{slug}.html"))
        assert record["verdict"] in html
        assert f"mintlab run {slug} --quick" in html
        for check in record["checks"]:
            assert check in html, f"{slug}: check {check} is not on its page"
    lopt = _page(site, "gallery/lopt.html")
    assert "figures/lopt.png" in lopt or "lopt.png" in lopt
    assert (site / "_images" / "lopt.png").is_file()


def test_benchmarks_page_has_tables(site):
    html = _page(site, "benchmarks/index.html")
    assert "<table" in html
    assert "wasserstein_1d" in html
    if any((ROOT / "benchmarks" / "results").glob("*.json")):
        assert "Time against size" in html


def test_search_index_is_built(site):
    assert (site / "search.html").is_file()
    index = _page(site, "searchindex.js")
    assert "wasserstein_1d" in index
