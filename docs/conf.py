"""Sphinx configuration of mintlab's documentation site (``make docs``).

The site builds offline: MathJax is served from the build folder
(``sphinx-mathjax-offline``), no intersphinx inventories are fetched, and the
API pages, the gallery and the benchmarks page are generated from the code
and the committed results by ``tools/docs_site.py`` before Sphinx reads them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
for p in (ROOT / "src", ROOT / "tools", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

os.environ.setdefault("MPLBACKEND", "Agg")

import docs_site  # noqa: E402  (tools/docs_site.py)

import mintlab  # noqa: E402

docs_site.generate(DOCS)

# -- project -----------------------------------------------------------------
project = "mintlab"
author = "the mintlab authors"
copyright = "mintlab authors"  # noqa: A001 - Sphinx's name
release = mintlab.__version__
version = ".".join(release.split(".")[:2])

# -- extensions --------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_copybutton",
]
# MathJax from the installed package, not a CDN: the site works offline.
if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
    extensions.append("sphinx-mathjax-offline")

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "**/*.tmp",
    # the site's benchmarks page (benchmarks/index.md) shows these tables with plots
    "benchmarks.md",
]

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = False  # the API pages document every name in place
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_type_aliases = {
    name: f"mintlab.typing.{name}"
    for name in ("ArrayLike", "Array", "ArrayT", "SeedLike", "DeviceLike", "PathLike_", "Number")
}
autodoc_mock_imports: list[str] = []
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False

# -- MyST ----------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "substitution", "dollarmath"]
myst_heading_anchors = 3
myst_substitutions = docs_site.headline_numbers()

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"mintlab {release}"
html_static_path = ["_static"]
html_css_files = ["mintlab.css"]
html_js_files = ["gallery.js"]
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "logo": {"text": "mintlab"},
    "navbar_align": "left",
    "header_links_before_dropdown": 5,
    "show_toc_level": 1,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "show_prev_next": True,
}
# full width for wide tables: the landing page, the result pages and each paper's page
html_sidebars = {page: [] for page in ("index", "papers", "reproductions", "benchmarks/index",
                                       "gallery/*", "experiments", "data")}
toc_object_entries = False  # the right-hand "on this page" lists sections, not every name
copybutton_prompt_text = r"\$ |>>> |\.\.\. "
copybutton_prompt_is_regexp = True


def _exists(page: str) -> bool:
    return (DOCS / f"{page}.md").exists() or (DOCS / f"{page}.rst").exists()


# Sections whose index page may not be written yet: until it is, the section is
# left out of the site and the landing page drops the lines that name it.
OPTIONAL_PAGES = ("guide/index", "coming-from/index")
MISSING_PAGES = [page for page in OPTIONAL_PAGES if not _exists(page)]
exclude_patterns += [page.split("/")[0] + "/**" for page in MISSING_PAGES]


def _drop_missing_pages(app, docname, source):
    if docname != "index":
        return
    text = source[0]
    for page in MISSING_PAGES:
        text = "\n".join(line for line in text.split("\n") if page not in line)
    source[0] = text


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn adds set_*_request methods to every estimator; they are its API, not ours
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("source-read", _drop_missing_pages)
    app.connect("autodoc-skip-member", _skip_member)
