"""Real English text corpora shipped with the package: the King James Version and Jane Austen.

* ``"kjv"`` (default): the King James Version of the Bible, public domain,
  from Debian's ``bible-kjv-text``, verse labels stripped; one verse a line,
  1,189 chapters, 4.1 MB of text (0.9 MB compressed). Used by the
  language-model testbed of :mod:`mintlab.compress.testbed`.
* ``"austen"``: Jane Austen's six completed novels (public domain texts, from
  the MIT-licensed R package ``janeaustenr`` as Debian ships it); one
  paragraph a line, 269 chapters, 4.0 MB of text (1.1 MB compressed). A corpus
  of another kind of English, for out-of-domain evaluation.

Provenance, licences and checksums are in ``datasets/data/README.md``;
nothing is downloaded.

The splits are fixed and disjoint, by chapter, with one rule for every
corpus: chapter ``i`` (0-based, in canonical order: the books of the Bible,
the novels in publication order) is *test* if ``i % 20 == 7``,
*calibration* if ``i % 20 == 13``, *train* otherwise; about 90 / 5 / 5 % of
the text.
"""

from __future__ import annotations

import functools
import lzma

from .._validation import check_choice
from ._assets import asset_file_error, verified_file

__all__ = ["CORPORA", "CORPUS_SPLITS", "AUSTEN_NOVELS", "load_text_corpus",
           "load_corpus_verses", "corpus_chapters"]

CORPUS_SPLITS = ("train", "calibration", "test")
CORPORA = ("kjv", "austen")
AUSTEN_NOVELS = (("Sense and Sensibility", 1811, 50), ("Pride and Prejudice", 1813, 61),
                 ("Mansfield Park", 1814, 48), ("Emma", 1815, 55),
                 ("Northanger Abbey", 1817, 31), ("Persuasion", 1817, 24))
"""(title, year of publication, number of chapters), in the corpus order."""
_FILES = {"kjv": ("kjv.txt.xz", "ascii"), "austen": ("austen.txt.xz", "utf-8")}
_TEST, _CALIBRATION, _PERIOD = 7, 13, 20


def _check_corpus(corpus: str) -> str:
    if not isinstance(corpus, str):
        raise TypeError(f"corpus must be a string, got {type(corpus).__name__}")
    return check_choice(corpus, "corpus", CORPORA)


@functools.lru_cache(maxsize=len(CORPORA))
def _chapters(corpus: str) -> tuple[tuple[str, ...], ...]:
    name, encoding = _FILES[corpus]
    path = verified_file(corpus, name)
    try:
        text = lzma.decompress(path.read_bytes()).decode(encoding)
    except (lzma.LZMAError, UnicodeDecodeError, EOFError, OSError) as err:
        raise asset_file_error(corpus, path, f"it cannot be decoded: {err}") from None
    # Chapters are separated by one empty line (Austen's novels by two: the same split).
    chapters = [ch.strip("\n") for ch in text.strip("\n").split("\n\n")]
    return tuple(tuple(ch.split("\n")) for ch in chapters if ch)


def corpus_chapters(corpus: str = "kjv") -> tuple[tuple[str, ...], ...]:
    """All chapters of ``corpus`` in canonical order, each a tuple of its lines.

    A line is a verse of the KJV or a paragraph of Austen. The shipped file is
    checked against its recorded SHA-256 on first use; a damaged file raises
    :class:`mintlab.ArtifactError` naming it and the command that reinstalls it.

    Examples
    --------
    >>> len(corpus_chapters("kjv")), len(corpus_chapters("austen"))
    (1189, 269)
    """
    return _chapters(_check_corpus(corpus))


def _split_of(i: int) -> str:
    r = i % _PERIOD
    return "test" if r == _TEST else "calibration" if r == _CALIBRATION else "train"


def _check_split(split: str) -> None:
    if not isinstance(split, str):
        raise TypeError(f"split must be one of {CORPUS_SPLITS}, got {type(split).__name__} "
                        f"{split!r}")
    if split not in CORPUS_SPLITS:
        raise ValueError(f"split must be one of {CORPUS_SPLITS}, got {split!r}")


def load_corpus_verses(split: str = "train", corpus: str = "kjv") -> list[str]:
    """The lines of one split in canonical order: verses (KJV) or paragraphs (Austen).

    Examples
    --------
    >>> v = load_corpus_verses("test")
    >>> len(v) > 1000, v[0][:12]
    (True, 'And God reme')
    >>> load_corpus_verses("test", corpus="austen")[0][:24]
    'Mrs. Jennings was a wido'
    """
    _check_split(split)
    chapters = corpus_chapters(_check_corpus(corpus))
    return [v for i, ch in enumerate(chapters) if _split_of(i) == split for v in ch]


def load_text_corpus(split: str = "train", corpus: str = "kjv") -> str:
    """The text of one split: lines joined by newlines, chapters by an empty line.

    Parameters
    ----------
    split : {"train", "calibration", "test"}
        Which chapters (see the module docstring for the rule).
    corpus : {"kjv", "austen"}
        The King James Version (default) or Jane Austen's novels.

    Examples
    --------
    >>> len(load_text_corpus("train")) > 3_000_000
    True
    >>> load_text_corpus("train")[:33]
    'In the beginning God created the '
    >>> load_text_corpus("train", corpus="austen")[:30]
    'The family of Dashwood had lon'
    """
    _check_split(split)
    chapters = corpus_chapters(_check_corpus(corpus))
    picked = [ch for i, ch in enumerate(chapters) if _split_of(i) == split]
    return "\n\n".join("\n".join(ch) for ch in picked) + "\n"
