"""The README's code runs as written, its links resolve and its verdict headline is current."""

import collections
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)


def test_readme_links_point_at_files():
    text = README.read_text()
    links = [t for t in re.findall(r"\]\(([^)#\s]+)\)", text) if "://" not in t]
    assert any(t.startswith("docs/guide/") for t in links)
    assert any(t.startswith("docs/coming-from/") for t in links)
    missing = [t for t in links if not (ROOT / t).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_readme_keeps_the_generated_benchmark_block():
    text = README.read_text()
    assert text.count("<!-- bench:begin -->") == 1 and text.count("<!-- bench:end -->") == 1
    assert text.index("<!-- bench:begin -->") < text.index("<!-- bench:end -->")


def _counts(verdicts):
    c = collections.Counter(v.split(" (")[0] for v in verdicts)
    return c["reproduced"], c["partly reproduced"], c["not reproduced at this scale"]


def test_readme_verdict_headline_matches_the_published_results():
    """The headline counts equal docs/reproductions/*.json and the experiments' EXPECTED."""
    from mintlab.experiments import experiments

    text = re.sub(r"\s+", " ", README.read_text())
    published = [json.loads(p.read_text()) for p in sorted((ROOT / "docs/reproductions").glob(
        "*.json"))]
    modes = collections.Counter(r["mode"] for r in published)
    r, pr, nr = _counts(r["verdict"] for r in published)
    n = len(published)
    assert (f"{modes['full']} full-scale runs and {modes['quick']} quick runs" in text), \
        f"README must state the published runs: {dict(modes)}"
    headline = (f"{r} of {n} reproduced, {pr} partly reproduced, {nr} not reproduced at this "
                "scale")
    assert headline in text, f"README headline is stale; expected {headline!r}"
    qr, qpr, qnr = _counts(e.expected for e in experiments().values())
    quick = (f"{qr} reproduced, {qpr} partly reproduced, {qnr} not reproduced at this scale")
    assert f"quick settings that `make demo` runs and `make test` enforces: {quick}" in text, \
        f"README quick-mode counts are stale; expected {quick!r}"
