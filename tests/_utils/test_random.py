from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sma_response._utils.random import as_rng, spawn_seeds


def test_as_rng_same_seed_same_stream() -> None:
    a = as_rng(123).random(5)
    b = as_rng(123).random(5)
    np.testing.assert_array_equal(a, b)


def test_as_rng_different_seeds_differ() -> None:
    assert not np.array_equal(as_rng(0).random(5), as_rng(1).random(5))


def test_as_rng_matches_default_rng() -> None:
    np.testing.assert_array_equal(as_rng(7).random(3), np.random.default_rng(7).random(3))


def test_as_rng_numpy_integer_seed() -> None:
    np.testing.assert_array_equal(as_rng(np.int64(5)).random(3), as_rng(5).random(3))


def test_as_rng_passes_generator_through(rng: np.random.Generator) -> None:
    assert as_rng(rng) is rng


def test_as_rng_seed_sequence() -> None:
    ss = np.random.SeedSequence(9)
    np.testing.assert_array_equal(as_rng(ss).random(3), np.random.default_rng(9).random(3))


def test_as_rng_does_not_touch_global_state() -> None:
    # The legacy global state is read on purpose: nothing may seed or draw from it.
    before = repr(np.random.get_state())  # noqa: NPY002
    as_rng(0).random(10)
    spawn_seeds(0, 10)
    assert repr(np.random.get_state()) == before  # noqa: NPY002


@pytest.mark.parametrize("seed", [None, True, 1.5, "0"])
def test_as_rng_rejects_non_integer(seed: object) -> None:
    with pytest.raises(TypeError, match="seed"):
        as_rng(seed)  # type: ignore[arg-type]


def test_as_rng_rejects_negative() -> None:
    with pytest.raises(ValueError, match="seed"):
        as_rng(-1)


def test_spawn_seeds_deterministic() -> None:
    assert spawn_seeds(42, 5) == spawn_seeds(42, 5)


def test_spawn_seeds_depend_on_seed() -> None:
    assert spawn_seeds(0, 5) != spawn_seeds(1, 5)


def test_spawn_seeds_are_plain_ints_in_uint32_range() -> None:
    seeds = spawn_seeds(0, 50)
    assert all(type(s) is int for s in seeds)
    assert all(0 <= s < 2**32 for s in seeds)


def test_spawn_seeds_empty() -> None:
    assert spawn_seeds(0, 0) == []


def test_spawn_seeds_match_seed_sequence_input() -> None:
    assert spawn_seeds(np.random.SeedSequence(3), 4) == spawn_seeds(3, 4)


def test_spawn_seeds_children_give_independent_streams() -> None:
    a, b = (as_rng(s).random(100) for s in spawn_seeds(0, 2))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("seed", "n", "error"),
    [
        (0, -1, ValueError),
        (0, 2.0, TypeError),
        (0, True, TypeError),
        (None, 2, TypeError),
        (-3, 2, ValueError),
    ],
)
def test_spawn_seeds_rejects_bad_arguments(seed: object, n: object, error: type) -> None:
    with pytest.raises(error):
        spawn_seeds(seed, n)  # type: ignore[arg-type]


@given(
    seed=st.integers(min_value=0, max_value=2**63), k=st.integers(0, 20), extra=st.integers(0, 20)
)
def test_spawn_seeds_prefix_stable(seed: int, k: int, extra: int) -> None:
    # Adding consumers at the end must not reseed the existing ones.
    assert spawn_seeds(seed, k + extra)[:k] == spawn_seeds(seed, k)
