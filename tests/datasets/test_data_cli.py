"""``mintlab data list | verify | prepare`` (the Typer sub-app in mintlab._data_cli)."""

from typer.testing import CliRunner

from mintlab._data_cli import data_app
from mintlab.datasets import ASSETS

runner = CliRunner()


def test_list_shows_every_asset_with_its_status():
    res = runner.invoke(data_app, ["list"])
    assert res.exit_code == 0, res.output
    for a in ASSETS:
        assert a.name in res.output
    assert "licence" in res.output and "installed" in res.output
    assert "apt-get install dataset-fashion-mnist" in res.output or \
        "fashion-mnist-full" in res.output


def test_verify_checks_shipped_files():
    res = runner.invoke(data_app, ["verify", "kjv", "austen", "fashion-mnist", "mnist1d"])
    assert res.exit_code == 0, res.output
    assert res.output.count(": ok") == 4


def test_prepare_and_errors():
    res = runner.invoke(data_app, ["prepare", "kjv"])
    assert res.exit_code == 0 and "nothing to prepare" in res.output
    res = runner.invoke(data_app, ["prepare", "imagenet"])
    assert res.exit_code == 2 and "name must be one of" in res.output
    res = runner.invoke(data_app, ["verify", "imagenet"])
    assert res.exit_code == 2
