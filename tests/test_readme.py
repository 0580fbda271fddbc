"""The README's code blocks run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


# the README starts a Dask cluster: run it with the experiments, never beside their timing checks
@pytest.mark.xdist_group("heavy")
def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)
