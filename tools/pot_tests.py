"""Fetch POT's published tests so that ``tests/transport/test_pot_suite.py`` can run them.

POT's own tests for the functions that :mod:`mintlab.pot` re-implements are
run against mintlab (see that test file). They are not part of this
repository: this script obtains them at install time and extracts POT's
``test/`` directory into ``.venv/share/pot-tests/`` (inside the ignored
virtual environment).

Sources:

1. POT's source distribution on PyPI (``pot-0.9.7.post1.tar.gz``, checked
   against its published SHA-256), found through the PyPI simple index.
   It holds ``test/test_*.py`` (1D, circle, partial, exact LP tests).
2. The sliced tests (``test/sliced/``), which the source distribution
   leaves out, from POT's repository at commit ``GIT_COMMIT`` (the 0.9.7
   release line): from a local clone with ``--git DIR``, or else from
   GitHub's raw files. Each file is checked against its git blob hash at that
   commit. If neither is reachable they are skipped with a message, and the
   suite runs the sdist's tests only.

Usage::

    python tools/pot_tests.py [--dest DIR] [--index-url URL] [--git DIR] [--no-github] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

VERSION = "0.9.7.post1"
SDIST = f"pot-{VERSION}.tar.gz"
SHA256 = "2edd70845047ac2d378487b980a2bffb5ff58e9b92b7133896ff5753f6300cec"
INDEX = "https://pypi.org/simple"
GIT_COMMIT = "aed0120242e86ab29e630fee59593ee99f416d97"
RAW = "https://raw.githubusercontent.com/PythonOT/POT"
# git blob hashes at GIT_COMMIT of the test files the sdist lacks
GIT_FILES = {
    "sliced/__init__.py": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
    "sliced/test_sliced_distances.py": "8c7998cc4d99d5bcf0ce64d7b75b620159b90d30",
    "sliced/test_sliced_plans.py": "1df3522cbf05e770d382a06ff1395fa92459937e",
    "sliced/test_spherical_sliced.py": "7b1f4a8b81835d8f262138209502965a337de438",
}
ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / ".venv" / "share" / "pot-tests"


def _sdist_url(index_url: str) -> str:
    """The download URL of the sdist, from the simple index (JSON form, PEP 691)."""
    req = urllib.request.Request(f"{index_url.rstrip('/')}/pot/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        data = json.load(resp)
    for f in data.get("files", []):
        if f["filename"].lower() == SDIST:
            return f["url"]
    raise RuntimeError(f"{SDIST} not found in {index_url}/pot/")


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as resp:
        blob = resp.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{SDIST}: SHA-256 {digest} does not match the published {SHA256}")
    return blob


def _extract_tests(blob: bytes, dest: Path) -> list[str]:
    prefix = f"pot-{VERSION}/test/"
    names = []
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith(prefix):
                continue
            rel = Path(member.name[len(prefix):])
            if rel.is_absolute() or ".." in rel.parts:
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
            names.append(str(rel))
    return names


def _blob_hash(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _checked(rel: str, data: bytes) -> bytes:
    if _blob_hash(data) != GIT_FILES[rel]:
        raise RuntimeError(f"test/{rel} does not match its blob {GIT_FILES[rel]} at {GIT_COMMIT}")
    return data


def _git_files_from_clone(repo: Path) -> dict[str, bytes]:
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    out = {}
    for rel in GIT_FILES:
        data = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{GIT_COMMIT}:test/{rel}"],
                              check=True, capture_output=True).stdout
        out[rel] = _checked(rel, data)
    return out


def _git_files_from_github() -> dict[str, bytes]:
    out = {}
    for rel in GIT_FILES:
        with urllib.request.urlopen(f"{RAW}/{GIT_COMMIT}/test/{rel}", timeout=60) as resp:
            out[rel] = _checked(rel, resp.read())
    return out


def _sliced_files(args) -> tuple[dict[str, bytes] | None, str]:
    """The test files the sdist lacks, or None (with a message) if no source answers."""
    try:
        if args.git is not None:
            return _git_files_from_clone(args.git), f"git clone {args.git}"
        if not args.no_github:
            return _git_files_from_github(), "GitHub"
    except Exception as err:  # noqa: BLE001 - the sliced tests are optional
        print(f"test/sliced not fetched ({err}); only the sdist's tests will run",
              file=sys.stderr)
    return None, ""


def _write(files: dict[str, bytes], root: Path) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=DEST)
    ap.add_argument("--index-url", default=INDEX)
    ap.add_argument("--git", type=Path, help="a clone of PythonOT/POT holding GIT_COMMIT")
    ap.add_argument("--no-github", action="store_true", help="do not try GitHub for test/sliced")
    ap.add_argument("--force", action="store_true", help="fetch again even if present")
    args = ap.parse_args(argv)
    dest = args.dest
    stamp = dest / ".source"
    if stamp.exists() and not args.force:
        if (dest / "sliced").is_dir() or (args.git is None and args.no_github):
            print(f"POT {VERSION} tests already in {dest}")
            return 0
        files, origin = _sliced_files(args)  # the sdist's tests are there: add the rest
        if files:
            _write(files, dest)
            with stamp.open("a") as f:
                f.write(f"test/sliced from {origin} @ {GIT_COMMIT}\n")
            print(f"added {len(files)} POT test files to {dest}")
        return 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / "test"
        staging.mkdir()
        try:
            names = _extract_tests(_download(_sdist_url(args.index_url)), staging)
        except Exception as err:  # noqa: BLE001 - report any network or archive failure
            print(f"could not fetch POT {VERSION}'s sdist: {err}", file=sys.stderr)
            return 1
        source = [f"{SDIST} (sha256 {SHA256})"]
        files, origin = _sliced_files(args)
        if files:
            _write(files, staging)
            names += list(files)
            source.append(f"test/sliced from {origin} @ {GIT_COMMIT}")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, dest)
    (dest / ".source").write_text("\n".join(source) + "\n")
    print(f"extracted {len(names)} POT test files into {dest} "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
