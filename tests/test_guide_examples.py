"""Every ``python`` block of the user guide and the "Coming from" pages runs as written.

Each page's blocks run in order in one namespace (as a reader would paste them), so an API
change that breaks an example fails here rather than on the documentation site.
"""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted([*DOCS.glob("guide/*.md"), *DOCS.glob("coming-from/*.md")])
# pages that start a Dask cluster run with the experiments, never beside their timing checks
HEAVY = {"guide/scale.md"}


def _blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)


def _params():
    for page in PAGES:
        name = page.relative_to(DOCS).as_posix()
        marks = [pytest.mark.xdist_group("heavy")] if name in HEAVY else []
        yield pytest.param(page, id=name, marks=marks)


def test_every_family_has_a_guide_page():
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    for page in ("guide/index.md", "guide/transport.md", "guide/embeddings.md", "guide/nn.md",
                 "guide/compression.md", "guide/continual.md", "guide/distillation.md",
                 "guide/applications.md", "guide/scale.md", "coming-from/index.md",
                 "coming-from/pot.md", "coming-from/peft.md", "coming-from/avalanche.md"):
        assert page in names


@pytest.mark.parametrize("page", list(_params()))
def test_page_examples_run(page, tmp_path, monkeypatch):
    blocks = _blocks(page)
    if page.name != "index.md":
        assert blocks, f"{page} has no python example"
    monkeypatch.chdir(tmp_path)  # whatever an example writes stays out of the repository
    namespace: dict = {"__name__": f"guide_{page.stem}"}
    for i, block in enumerate(blocks):
        code = compile(block, f"{page} (block {i + 1})", "exec")
        exec(code, namespace)


def test_every_paper_is_cited_with_its_gallery_page():
    from mintlab.experiments.catalog import PAPERS

    text = "\n".join(p.read_text() for p in DOCS.glob("guide/*.md"))
    missing = [p.slug for p in PAPERS
               if f"| `{p.slug}` | {p.title} |" not in text
               or f"<../gallery/{p.slug}>`" not in text]
    assert not missing, f"no paper row with a gallery link in the user guide for {missing}"
