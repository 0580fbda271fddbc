"""Fuzz the whole public API: valid calls give finite results of the input's kind, invalid
calls are rejected with an error naming the argument, seeded calls leave global RNGs alone.

The cases live in ``fuzz_registry_*.py`` beside this file (one per family); the
vocabulary (roles, breakers, result checks) in ``_fuzz_harness.py``.
"""

from __future__ import annotations

import importlib
import pathlib
import random
import warnings

import numpy as np
import pytest
import torch
from _fuzz_harness import (
    Case,
    Sizes,
    breakers_for,
    check_result,
    has_seed,
    public_callables,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_HERE = pathlib.Path(__file__).parent


def _load_registries():
    cases: list[Case] = []
    exempt: dict[str, str] = {}
    for path in sorted(_HERE.glob("fuzz_registry_*.py")):
        mod = importlib.import_module(path.stem)
        cases.extend(mod.CASES)
        exempt.update(getattr(mod, "EXEMPT", {}))
    return cases, exempt


CASES, EXEMPT = _load_registries()
_BY_NAME = {c.name: c for c in CASES}
assert len(_BY_NAME) == len(CASES), "two cases share a name: give one an id"

SIZES = st.builds(
    Sizes,
    n=st.integers(2, 8),
    m=st.integers(2, 8),
    d=st.integers(1, 4),
    k=st.integers(2, 5),
    seed=st.integers(0, 2**16),
)




def _known(case: Case, key: tuple[str, str]):
    reason = case.known_failures.get(key)
    return [pytest.mark.xfail(reason=reason, strict=True)] if reason else []


# ---------------------------------------------------------------- coverage
def test_every_public_callable_has_a_case_or_a_reason():
    covered = {c.target for c in CASES}
    missing = [n for n in public_callables() if n not in covered and n not in EXEMPT]
    assert not missing, f"{len(missing)} public callables have no fuzz case: {missing}"
    public = set(public_callables())
    stale = sorted(n for n in EXEMPT if n not in public)
    assert not stale, f"exemptions for names that are no longer public: {stale}"
    for name, reason in EXEMPT.items():
        assert len(reason) > 15, f"exemption of {name} needs a real reason"


# ---------------------------------------------------------------- valid calls
_VALID = [pytest.param(c, k, id=f"{c.name}-{k}", marks=_known(c, ("valid", k)))
          for c in CASES for k in c.kinds]


@pytest.mark.parametrize("case, kind", _VALID)
@settings(max_examples=3, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(sizes=SIZES)
def test_valid_call_is_finite_and_keeps_the_array_kind(case: Case, kind: str, sizes: Sizes):
    inputs = case.build(kind, sizes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = case.run(inputs)
    if case.check_output:
        problems = check_result(result, kind)
        assert not problems, f"{case.name} ({kind}, {sizes}): {problems}"


# ---------------------------------------------------------------- invalid calls
def _invalid_params():
    params = []
    for c in CASES:
        kind = c.kinds[0]
        try:
            inputs = c.build(kind, Sizes())
            triples = breakers_for(c, inputs)
        except Exception as err:  # a broken registry entry fails loudly, not at collection
            params.append(pytest.param(c, "<build>", repr(err), id=f"{c.name}-<build>"))
            continue
        for arg, bid, _ in triples:
            params.append(pytest.param(c, arg, bid, id=f"{c.name}-{arg}-{bid}",
                                       marks=_known(c, (arg, bid))))
    return params


@pytest.mark.parametrize("case, arg, breaker", _invalid_params())
def test_invalid_call_is_rejected_naming_the_argument(case: Case, arg: str, breaker: str):
    assert arg != "<build>", f"{case.name}: build() failed: {breaker}"
    kind = case.kinds[0]
    inputs = case.build(kind, Sizes())
    fn = dict((b, f) for a, b, f in breakers_for(case, inputs) if a == arg)[breaker]
    inputs[arg] = fn(inputs[arg])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = case.run(inputs)
    except (ValueError, TypeError) as err:
        msg = str(err)
        assert arg in msg, (f"{case.name}: {type(err).__name__} for {arg}={breaker} does not "
                            f"name {arg!r}: {msg!r}")
        # a re-raised low-level error is not a clean rejection
        raw = ("Expected all tensors", "mat1 and mat2", "size of tensor", "Trying to create tensor",
               "could not convert string", "unsupported operand", "object has no attribute")
        assert not any(r in msg for r in raw), f"{case.name}: raw library message: {msg!r}"
        return
    except Exception as err:  # noqa: BLE001 - the point is to report what escaped
        pytest.fail(f"{case.name}: {arg}={breaker} raised {type(err).__name__} instead of "
                    f"ValueError/TypeError: {err}")
    problems = check_result(result, kind)
    pytest.fail(f"{case.name}: {arg}={breaker} was accepted"
                + (f" and gave {problems}" if problems else ""))


# ---------------------------------------------------------------- global RNG
def _rng_states():
    return (torch.get_rng_state().clone(), np.random.get_state(),  # noqa: NPY002
            random.getstate())


def _same_states(a, b) -> bool:
    return (torch.equal(a[0], b[0]) and a[1][0] == b[1][0] and np.array_equal(a[1][1], b[1][1])
            and a[1][2:] == b[1][2:] and a[2] == b[2])


_SEEDED = [pytest.param(c, id=c.name, marks=_known(c, ("rng", "global")))
           for c in CASES if has_seed(c)]


@pytest.mark.parametrize("case", _SEEDED)
def test_seeded_call_leaves_global_rngs_alone(case: Case):
    inputs = case.build(case.kinds[0], Sizes())
    torch.manual_seed(1234)
    np.random.seed(1234)  # noqa: NPY002 - the global state is what this test watches
    random.seed(1234)
    before = _rng_states()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case.run(inputs)
    assert _same_states(before, _rng_states()), (
        f"{case.name} changed the global torch / numpy / random state")
