"""``mintlab data``: list, verify and prepare the offline assets (real data, pretrained models).

Registered in the ``mintlab`` command as ``app.add_typer(data_app, name="data")``;
also runnable alone as ``python -m mintlab._data_cli``.
"""

from __future__ import annotations

import importlib

import typer

from mintlab.datasets._assets import (
    ASSETS,
    MissingAssetError,
    asset,
    file_sha256,
    missing_reason,
)
from mintlab.errors import ArtifactError

data_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Offline assets (data sets and pretrained models): list, verify checksums, "
         "build caches.",
)


def _size(n: int) -> str:
    if n <= 0:
        return "-"
    x = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if x < 1000 or unit == "GB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1000
    return f"{x:.1f} GB"


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in out)


def _lookup(name: str):
    try:
        return asset(name)
    except ValueError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None


def _call(ref: str, *args, **kwargs):
    module, func = ref.split(":")
    return getattr(importlib.import_module(module), func)(*args, **kwargs)


def _status(name: str) -> str:
    reason = missing_reason(name)
    if reason is not None:
        return "missing: " + reason.rsplit("install it with: ", 1)[-1]
    a = asset(name)
    if a.prepared and not _call(a.prepared, name):
        return f"installed (cache not built: mintlab data prepare {name})"
    return "installed"


@data_app.command("list")
def list_cmd(
    long: bool = typer.Option(False, "--long", "-l", help="Also print each asset's source."),
) -> None:
    """Each asset: name, kind, what it is, size, licence, installed or not (and how to add it)."""
    rows: list[tuple[str, ...]] = []
    for a in ASSETS:
        row: tuple[str, ...] = (a.name, a.kind, a.description, _size(a.size), a.licence)
        row += (a.source,) if long else ()
        rows.append((*row, _status(a.name)))
    header = ("name", "kind", "what", "size", "licence") + (("source",) if long else ()) \
        + ("status",)
    typer.echo(_table(rows, header))
    n_ok = sum(r[-1].startswith("installed") for r in rows)
    typer.echo(f"\n{n_ok} of {len(rows)} installed. Sources and licences: docs/data.md; "
               "checksums: `mintlab data verify`.")


@data_app.command("verify")
def verify_cmd(
    names: list[str] = typer.Argument(None, help="Assets to check (default: all)."),
) -> None:
    """Check each installed asset file against its recorded SHA-256.

    Exits 1 when a file differs, or when an asset that `make` installs is missing.
    """
    picked = [_lookup(n) for n in names] if names else list(ASSETS)
    bad = 0
    for a in picked:
        reason = missing_reason(a.name)
        if reason is not None:
            flag = "optional, not installed" if a.optional else "MISSING"
            bad += not a.optional
            typer.echo(f"{a.name}: {flag} ({reason})")
            continue
        if not a.files:
            typer.echo(f"{a.name}: ok (library, no files to check)")
            continue
        for f in a.files:
            located = f.locate()
            if located is None:  # removed since missing_reason looked
                bad += 1
                typer.echo(f"{a.name}: MISSING  {f.path}")
                continue
            got = file_sha256(located)
            ok = got == f.sha256
            bad += not ok
            typer.echo(f"{a.name}: {'ok' if ok else 'CHECKSUM MISMATCH'}  {f.path}"
                       + ("" if ok else f" (expected {f.sha256}, got {got})"))
    if bad:
        typer.echo(f"\n{bad} problem(s).")
        raise typer.Exit(1)
    typer.echo("\nall checked assets are intact.")


@data_app.command("prepare")
def prepare_cmd(
    name: str = typer.Argument(..., help="An asset name (see `mintlab data list`), or 'all' "
                               "(every installed asset that has a cache)."),
    force: bool = typer.Option(False, "--force", help="Rebuild a cache that exists."),
) -> None:
    """Build an asset's cache (the float32 copy of a GGUF language model, ...)."""
    picked = [a for a in ASSETS if a.prepare] if name == "all" else [_lookup(name)]
    for a in picked:
        reason = missing_reason(a.name)
        if reason is not None and name == "all":
            typer.echo(f"{a.name}: skipped, not installed ({reason})")
            continue
        if reason is not None:
            typer.echo(reason, err=True)
            raise typer.Exit(1)
        if not a.prepare:
            typer.echo(f"{a.name}: nothing to prepare (it is used as installed).")
            continue
        try:
            path = _call(a.prepare, a.name, force=force)
        except (ArtifactError, MissingAssetError) as err:  # a damaged or missing source file
            typer.echo(f"{a.name}: {err}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{a.name}: ready at {path}")


if __name__ == "__main__":
    data_app()
