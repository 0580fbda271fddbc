"""Rebuild the data files that mintlab ships from the Debian packages they come from.

Maintainers only: the library never runs this. It needs the ``dev`` extra
(``rdata`` reads R's data files) and the two Debian packages unpacked in a
folder (no root needed)::

    mkdir -p /tmp/deb && cd /tmp/deb
    apt-get download dataset-fashion-mnist r-cran-janeaustenr
    for f in *.deb; do dpkg -x "$f" root; done
    cd - && python tools/build_assets.py --root /tmp/deb/root

It writes ``src/mintlab/datasets/data/fashion-mnist-subset.npz.xz`` and
``austen.txt.xz`` and prints their SHA-256 (to go into
``mintlab/datasets/_assets.py`` and ``datasets/data/README.md``). The output
is byte-for-byte reproducible: fixed seed, fixed xz settings, no timestamps.
The unpacked Debian files are not to be committed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import lzma
import re
import zlib
from pathlib import Path

import numpy as np

from mintlab.datasets.images import read_idx, stratified_indices

OUT = Path(__file__).resolve().parents[1] / "src" / "mintlab" / "datasets" / "data"
FASHION_DIR = "usr/share/datasets/fashion-mnist"
AUSTEN_DIR = "usr/lib/R/site-library/janeaustenr/data"
SUBSET_SIZES = {"train": 12_000, "test": 2_000}  # 1,200 / 200 per class
SUBSET_SEED = 0
XZ = {"format": lzma.FORMAT_XZ, "check": lzma.CHECK_CRC64, "preset": 9 | lzma.PRESET_EXTREME}

# Publication order; each novel's R object name in janeaustenr.
NOVELS = (("Sense and Sensibility", "sensesensibility"), ("Pride and Prejudice", "prideprejudice"),
          ("Mansfield Park", "mansfieldpark"), ("Emma", "emma"),
          ("Northanger Abbey", "northangerabbey"), ("Persuasion", "persuasion"))
CHAPTER = re.compile(r"(CHAPTER|Chapter) ([0-9]+|[IVXLC]+)")
VOLUME = re.compile(r"VOLUME ([0-9]+|[IVXLC]+)")
END_MARKS = {"THE END", "FINIS", "Finis"}
EDITORIAL = "A NOTE ON THE TEXT"  # a modern edition's note after Northanger Abbey


def build_fashion_subset(root: Path) -> bytes:
    """The stratified subset as an uncompressed .npz inside an xz stream."""
    arrays = {}
    files = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
    for split, (img_file, lab_file) in files.items():
        images = read_idx(gzip.decompress((root / FASHION_DIR / img_file).read_bytes()))
        labels = read_idx(gzip.decompress((root / FASHION_DIR / lab_file).read_bytes()))
        idx = stratified_indices(labels, SUBSET_SIZES[split], seed=SUBSET_SEED)
        arrays[f"{split}_images"] = np.ascontiguousarray(images[idx], dtype=np.uint8)
        arrays[f"{split}_labels"] = labels[idx].astype(np.uint8)
        arrays[f"{split}_index"] = idx.astype(np.int32)
        print(f"fashion-mnist {split}: {idx.size} of {labels.size}, per class "
              f"{np.bincount(labels[idx]).tolist()}")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return _deterministic_npz(buf.getvalue())


def _deterministic_npz(blob: bytes) -> bytes:
    """Rewrite a zip so that its member timestamps are fixed (numpy stamps the current time)."""
    import zipfile

    src, out = zipfile.ZipFile(io.BytesIO(blob)), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _read_lazyload(prefix: Path) -> dict[str, object]:
    """Objects of an R lazy-load database (``prefix.rdx`` index + ``prefix.rdb`` blobs)."""
    import rdata

    index = rdata.read_rds(str(prefix.with_suffix(".rdx")))
    blob = prefix.with_suffix(".rdb").read_bytes()
    out = {}
    for name, (offset, length) in index["variables"].items():
        chunk = blob[int(offset): int(offset) + int(length)]
        size = int.from_bytes(chunk[:4], "big")  # uncompressed length, then a zlib stream
        raw = zlib.decompress(chunk[4:])
        if len(raw) != size:
            raise ValueError(f"{name}: expected {size} bytes, got {len(raw)}")
        out[str(name)] = rdata.conversion.convert(rdata.parser.parse_data(raw))
    return out


def _paragraphs(lines: list[str]) -> list[str]:
    """Join hard-wrapped lines into paragraphs; drop the ``_`` italics marks."""
    paras, cur = [], []
    for line in [*lines, ""]:
        if line.strip():
            cur.append(line.strip())
        elif cur:
            paras.append(re.sub(r"\s+", " ", " ".join(cur)).replace("_", ""))
            cur = []
    return paras


def novel_chapters(lines: list[str]) -> list[list[str]]:
    """A novel's chapters (each a list of paragraphs): front matter, headings and end marks
    dropped."""
    chapters: list[list[str]] = []
    cur: list[str] | None = None
    for line in lines:
        s = line.strip()
        if CHAPTER.fullmatch(s):
            if cur is not None:
                chapters.append(cur)
            cur = []
        elif s == EDITORIAL:
            break
        elif cur is not None and not VOLUME.fullmatch(s) and s not in END_MARKS:
            cur.append(line)
    if cur is not None:
        chapters.append(cur)
    return [_paragraphs(ch) for ch in chapters]


def build_austen(root: Path) -> bytes:
    """The six novels: one paragraph a line, chapters split by an empty line, novels by two."""
    objects = _read_lazyload(root / AUSTEN_DIR / "Rdata")
    novels = []
    for title, key in NOVELS:
        chapters = novel_chapters([str(x) for x in objects[key]])
        n_par = sum(len(c) for c in chapters)
        print(f"austen {title}: {len(chapters)} chapters, {n_par} paragraphs")
        novels.append("\n\n".join("\n".join(ch) for ch in chapters))
    text = "\n\n\n".join(novels) + "\n"
    print(f"austen: {len(text):,} characters")
    return text.encode("utf-8")


def _write(out: Path, name: str, payload: bytes) -> None:
    data = lzma.compress(payload, **XZ)
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(data)
    print(f"wrote {name}: {len(data):,} bytes (from {len(payload):,}), "
          f"sha256 {hashlib.sha256(data).hexdigest()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path("/"),
                    help="where the Debian packages are unpacked (/ when installed)")
    ap.add_argument("--only", choices=("fashion-mnist", "austen"), default=None)
    ap.add_argument("--out", type=Path, default=OUT,
                    help="output folder (default: the package's data folder)")
    args = ap.parse_args()
    if args.only in (None, "fashion-mnist"):
        _write(args.out, "fashion-mnist-subset.npz.xz", build_fashion_subset(args.root))
    if args.only in (None, "austen"):
        _write(args.out, "austen.txt.xz", build_austen(args.root))


if __name__ == "__main__":
    main()
