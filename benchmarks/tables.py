"""Tables from the benchmark results: ``python -m benchmarks.tables``.

Reads ``benchmarks/results/*.json`` (written by the benchmark modules) and

- writes ``docs/benchmarks.md``: every result table in full;
- rewrites the README's headline table between ``<!-- bench:begin -->`` and
  ``<!-- bench:end -->`` from the rows picked in :data:`HEADLINES`.

A headline whose result file is missing is left out and named on stderr, so
a partial ``make bench`` never leaves stale numbers in the README.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _num(v, digits: int = 3) -> str:
    """A number rounded to ``digits`` significant figures, thousands separated."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    v = float(v)
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    decimals = max(digits - 1 - mag, 0)
    return f"{round(v, decimals):,.{decimals}f}"


def _cell(v) -> str:
    if isinstance(v, float):
        return _num(v, 4)
    return str(v).replace("|", "\\|")


def _rows(results: dict, name: str) -> list[dict]:
    return results[name]["rows"]


def _pick(rows: list[dict], **match) -> dict:
    for r in rows:
        if all(str(r.get(k)) == str(v) for k, v in match.items()):
            return r
    raise KeyError(f"no row with {match}")


def _join(values, sep: str = " / ") -> str:
    return sep.join(_num(v) for v in values)


def _range(values) -> str:
    values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    return _num(lo) if _num(lo) == _num(hi) else f"{_num(lo)}-{_num(hi)}"


# ------------------------------------------------------------- headlines
Headline = Callable[[dict], list[tuple[str, str, str, str]]]


def _w1d(res):
    rows = _rows(res, "line_w1d")
    big = _pick(rows, size="1000 x 1e4")
    one = [_pick(rows, size="n=1e5"), _pick(rows, size="n=1e6")]
    return [("`wasserstein_1d`, p=2", "1,000 slices x 1e4 points", _num(big["ours/floor"]),
             f"POT {_num(big['pot/ours'])}"),
            ("`wasserstein_1d`, p=2", "one slice of 1e5 / 1e6 points",
             _join(r["ours/floor"] for r in one), "POT " + _join(r["pot/ours"] for r in one))]


def _partial(res):
    rows = _rows(res, "line_partial")
    out = []
    p1 = [r for r in rows if r["kernel"] == "partial_wasserstein_1d p=1"
          and r["size"].startswith("n=")]
    if p1:
        sizes = " / ".join(r["size"].replace("n=", "") for r in p1)
        out.append(("`partial_wasserstein_1d`, p=1, penalised / `n_transported=k`",
                    f"n = {sizes}", "",
                    "POT " + _join(r["pot/ours"] for r in p1) + " (penalised); "
                    + _join(r["pot/ours_mass_k"] for r in p1) + " (`n_transported`)"))
    p2 = [r for r in rows if r["kernel"] == "partial_wasserstein_1d p=2"
          and r["size"].startswith("n=")]
    growth = [r for r in rows if r["kernel"] == "partial_wasserstein_1d p=2"
              and r["size"].startswith("growth")]
    if p2:
        sizes = " / ".join(r["size"].replace("n=", "") for r in p2)
        g = (f" (growth exponent {_num(growth[0]['ours_s'])} / {_num(growth[0]['ours_mass_s'])})"
             if growth else "")
        out.append(("`partial_wasserstein_1d`, p=2, penalised / `n_transported=k`",
                    f"n = {sizes}{g}", "",
                    "POT " + _join(r["pot/ours"] for r in p2) + " (penalised); "
                    + _join(r["pot/ours_mass"] for r in p2) + " (`n_transported`)"))
    path = [r for r in rows if r["kernel"].startswith("partial_wasserstein_1d_path")]
    for r in path:
        out.append(("`partial_wasserstein_1d_path`, p=2", r["size"].replace("n=", "n = "), "",
                    f"POT's path {_num(r['pot/ours'])}; one solve per mass "
                    f"{_num(r['per_k/ours'])}"))
    return out


def _batch(res):
    rows = _rows(res, "batch")
    out = []
    for r in rows:
        if r["kernel"] == "sliced_wasserstein_matrix":
            out.append(("`sliced_wasserstein_matrix`", r["size"], "",
                        f"POT per pair {_num(r['pot_loop/ours'])}; "
                        f"our per-pair loop {_num(r['our_loop/ours'])}"))
        else:
            name, _, rest = r["kernel"].partition(" ")
            out.append((f"`{name}` {rest}, ragged batch", r["size"], "",
                        f"POT per pair {_num(r['pot_loop/ours'])}; "
                        f"our per-pair loop {_num(r['our_loop/ours'])}"))
    return out


def _couple(res):
    rows = _rows(res, "couple")
    out = []
    for method in ("exact", "sliced"):
        sel = [r for r in rows if r["method"] == f"ours {method}"]
        if not sel:
            continue
        cells = "; ".join(f"B = {r['B']}, d = {r['d']}: {_num(r['anchor/ours'])}"
                          + (f" (cost x{_num(r['cost/exact'])})" if method != "exact" else "")
                          for r in sel if r["B"] == max(x["B"] for x in sel))
        out.append((f"`couple(method=\"{method}\")`",
                    "B = " + " / ".join(str(b) for b in sorted({r["B"] for r in sel})), "",
                    f"torchcfm exact OT at the largest B: {cells}"))
    return out


def _pgw(res):
    rows = _rows(res, "gromov")
    ns = " / ".join(str(r["n"]) for r in rows)
    return [("`partial_gromov_wasserstein` penalised / `mass=` (80% rotated copy + 20% "
             "outliers)", f"n = {ns}", "",
             "POT fixed-mass partial GW told our mass: " + _join(r["pot/ours"] for r in rows)
             + " (penalised), " + _join(r["pot/ours_mass"] for r in rows)
             + " (`mass=`); objective ours - POT "
             + ", ".join(f"{r['ours_minus_pot_objective']:+.2g}" for r in rows))]


def _circle(res):
    rows = _rows(res, "line_circle")
    return [("`circle_wasserstein`", "n = 1e4, p = 1 / p = 2", "",
             "POT " + _join(_pick(rows, kernel=f"circle_wasserstein p={p}")["pot/ours"]
                            for p in (1, 2)))]


def _sw(res):
    rows = _rows(res, "sliced_sw")
    out = []
    for n, label in (("1e+04", "1e4"), ("1e+05", "1e5")):
        sel = [r for r in rows if r["size"].startswith(f"n={n}")]
        if sel:
            out.append(("`sliced_wasserstein_distance`",
                        f"n = {label}, d in {{3, 64}}, L in {{128, 1024}}",
                        _range(r["ours/floor"] for r in sel),
                        "POT " + _range(r["pot/ours"] for r in sel)))
    return out


def _plans(res):
    rows = _rows(res, "sliced_plans")
    est = [r for r in rows if r["method"].startswith("EST")]
    mins = [r for r in rows if r["method"].startswith("min-sliced")]
    sizes = " / ".join(r["size"].replace("n=", "") for r in est)
    return [("`expected_sliced_plan` (L = 64)", f"n = {sizes}", "",
             "POT " + _join(r["pot/ours"] for r in est)),
            ("`min_sliced_plan`, random search (L = 64)", f"n = {sizes}", "",
             "POT " + _join(r["pot/ours"] for r in mins))]


def _sphere(res):
    rows = _rows(res, "sliced_sphere")
    return [("`s3w_distance` / RI (10 rotations)", "n = 1e4, L = 200", "",
             "POT's spherical SW " + _join(_pick(rows, method=m)["pot/ours"]
                                           for m in ("s3w", "ri_s3w_10")))]


def _min_gsgw(res):
    rows = [r for r in _rows(res, "gromov_min_gsgw") if "pot/ours" in r]
    return [("`min_generalized_sliced_gromov_wasserstein`",
             "n = " + " / ".join(str(r["n"]) for r in rows), "",
             "POT GW " + _join(r["pot/ours"] for r in rows)
             + " (POT's objective " + _join(r["ours_gw"] / r["pot_fw_gw"] for r in rows)
             + "x lower)")]


def _embed(res):
    rows = _rows(res, "embed")
    lin = _pick(rows, embedding="LinearOT (r=128, exact maps)", anchor="ot.emd2 per pair")
    lopt = _pick(rows, embedding="LinearOptimalPartialTransport (r=128)")
    return [("`LinearOT` pairwise matrix", "K = 200 clouds of 500 points", "",
             f"`ot.emd2` per pair {_num(lin['speedup'])} (Spearman "
             f"{lin['spearman_vs_exact']:.4f})"),
            ("`LinearOptimalPartialTransport` pairwise matrix", "K = 200 clouds of 500 points",
             "", f"partial LP per pair {_num(lopt['speedup'])} (Spearman "
             f"{lopt['spearman_vs_exact']:.2f})")]


def _attention(res):
    rows = _rows(res, "attention")
    sizes = sorted({r["n"] for r in rows})

    def speed(name):
        return _join(_pick(rows, attention="softmax", n=n)["seconds"]
                     / _pick(rows, attention=name, n=n)["seconds"] for n in sizes)

    big = sizes[-1]
    mem = (f"peak memory at {big}: {_num(_pick(rows, attention='lot', n=big)['peak_MB'])} MB vs "
           f"{_num(_pick(rows, attention='softmax', n=big)['peak_MB'])} MB")
    return [("`LOTAttention` / `LUNAAttention` forward + backward (d = 64, 4 heads)",
             "n = " + " / ".join(str(n) for n in sizes), "",
             f"softmax: LOT {speed('lot')}, LUNA {speed('luna')}; {mem}")]


def _sets(res):
    out = []
    if "sets_throughput" in res:
        rows = _rows(res, "sets_throughput")
        out.append(("set embeddings: " + ", ".join(f"`{r['embedding']}`" for r in rows),
                    f"{rows[0]['sets']:,} sets of 500 points", "",
                    "sets/s " + _join(r["sets_per_second"] for r in rows)))
    if "sets_slosh" in res:
        rows = _rows(res, "sets_slosh")
        out.append(("`SLOSH` query, " + " / ".join(r["index"] for r in rows),
                    f"{rows[0]['sets']:,} sets of 100 points", "",
                    "POT SW to every set " + _join(r["speedup_vs_brute_force"] for r in rows)))
    return out


def _compress(res):
    rows = [r for r in _rows(res, "compress_step") if r.get("step/dense") != ""]
    out = [("training step: " + ", ".join(r["method"] for r in rows if r["method"] != "dense"),
            "1.6M-weight MLP, batch 256", "",
            "dense step " + _join(r["dense_s"] / r["step_s"] if "dense_s" in r else
                                  1.0 / r["step/dense"] for r in rows if r["method"] != "dense"))]
    if "compress_memory" in res:
        ratio = _pick(_rows(res, "compress_memory"), basis="materialised / ours")
        out.append(("`PRANC` rebuild from the seed, peak memory", "same MLP, k = 512", "",
                    f"materialised basis {_num(ratio['peak_rss_increase_mib'])}"))
    return out


def _svd(res):
    rows = _rows(res, "svd")
    out = []
    gpt = [r for r in rows if r["what"] == "testbed GPT"]
    if gpt:
        ratios = sorted({r["ratio"] for r in gpt})
        batches = sorted({r["batch"] for r in gpt})
        out.append(("`compress_model` SVD-LLM, forward latency",
                    "testbed GPT, batch " + " / ".join(str(b) for b in batches) + ", "
                    + " / ".join(f"{int(round(100 * x))}%" for x in ratios) + " removed", "",
                    "dense " + "; ".join(_join(_pick(gpt, batch=b, ratio=x)["speedup"]
                                               for x in ratios) for b in batches)))
    layer = [r for r in rows if r["what"] == "1024x4096 layer"]
    out.append(("`LowRankLinear` forward", "one 1024 x 4096 layer, 2,048 tokens, "
                + " / ".join(f"{int(round(100 * r['ratio']))}%" for r in layer) + " removed", "",
                "dense " + _join(r["speedup"] for r in layer)))
    return out


HEADLINES: list[tuple[str, Headline]] = [
    ("line_w1d", _w1d),
    ("line_partial", _partial),
    ("line_circle", _circle),
    ("sliced_sw", _sw),
    ("sliced_plans", _plans),
    ("sliced_sphere", _sphere),
    ("batch", _batch),
    ("couple", _couple),
    ("gromov", _pgw),
    ("gromov_min_gsgw", _min_gsgw),
    ("embed", _embed),
    ("attention", _attention),
    ("sets_throughput", _sets),
    ("compress_step", _compress),
    ("svd", _svd),
]


def load_results(folder: Path = RESULTS) -> dict:
    """Every ``*.json`` result in ``folder``, keyed by file stem."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def headline_table(results: dict) -> str:
    """The README table: what, size, ours / floor, anchor / ours."""
    lines = ["| what | size | ours / floor | anchor / ours |", "| --- | --- | --- | --- |"]
    for name, fn in HEADLINES:
        if name not in results:
            print(f"benchmarks.tables: no {name}.json, its README rows are left out",
                  file=sys.stderr)
            continue
        for row in fn(results):
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def full_tables(results: dict) -> str:
    """Every result file as a markdown table, in file-name order."""
    out = ["# Benchmarks", "",
           "Generated by `python -m benchmarks.tables` from `benchmarks/results/*.json`",
           "(run `make bench` first). Times in seconds; `a/b` columns are ratios.", ""]
    for name, data in results.items():
        rows = data.get("rows", [])
        header = list(dict.fromkeys(k for r in rows for k in r))
        out += [f"## {data.get('title', name)}", "",
                f"`{name}.json`, torch threads: {data.get('threads', '?')}", ""]
        if not rows:
            out += ["(no rows)", ""]
            continue
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + " --- |" * len(header))
        for r in rows:
            out.append("| " + " | ".join(_cell(r.get(h, "")) for h in header) + " |")
        out.append("")
    return "\n".join(out)


def replace_between(text: str, block: str) -> str:
    """``text`` with the part between the bench markers replaced by ``block``."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"README has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def main() -> None:
    results = load_results()
    if not results:
        sys.exit("benchmarks.tables: no results in benchmarks/results; run `make bench` first")
    (ROOT / "docs" / "benchmarks.md").write_text(full_tables(results))
    readme = ROOT / "README.md"
    readme.write_text(replace_between(readme.read_text(), headline_table(results)))
    print(f"wrote docs/benchmarks.md ({len(results)} result files) and the README table")


if __name__ == "__main__":
    main()
