"""Explicit random state: one integer seed in, independent generators and child seeds out.

Nothing here touches NumPy's global random state (STYLE rule 10).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_rng", "spawn_seeds"]

SeedLike = int | np.integer | np.random.SeedSequence | np.random.Generator


def as_rng(seed: SeedLike) -> np.random.Generator:
    """Turn a seed into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    seed
        A non-negative integer or a :class:`numpy.random.SeedSequence` gives a new generator
        seeded from it. A :class:`numpy.random.Generator` is returned unchanged (not copied),
        so a caller can thread one stream through several functions. ``None`` is refused on
        purpose: an unseeded run cannot be reproduced.

    Returns
    -------
    numpy.random.Generator
        A generator whose stream depends only on ``seed``.

    Raises
    ------
    TypeError
        If ``seed`` is ``None``, a bool or of any other unsupported type.
    ValueError
        If ``seed`` is a negative integer.

    Examples
    --------
    >>> as_rng(0).integers(10, size=3).tolist() == as_rng(0).integers(10, size=3).tolist()
    True
    >>> rng = as_rng(1)
    >>> as_rng(rng) is rng
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    return np.random.default_rng(_check_int_seed(seed))


def spawn_seeds(seed: int | np.integer | np.random.SeedSequence, n: int) -> list[int]:
    """Derive ``n`` independent child seeds from one seed.

    Uses :meth:`numpy.random.SeedSequence.spawn`, so the children are statistically
    independent streams, not ``seed + i`` offsets. The list is prefix-stable:
    ``spawn_seeds(s, k) == spawn_seeds(s, n)[:k]`` for ``k <= n``, so adding a consumer
    at the end does not reseed the existing ones.

    Parameters
    ----------
    seed
        Non-negative integer (or a :class:`numpy.random.SeedSequence`) to derive from.
    n
        Number of child seeds, ``n >= 0``.

    Returns
    -------
    list of int
        ``n`` integers in ``[0, 2**32)``, valid as ``random_state`` for scikit-learn and
        xgboost and as ``seed`` for :func:`as_rng`.

    Raises
    ------
    TypeError
        If ``seed`` or ``n`` is not an integer.
    ValueError
        If ``seed`` or ``n`` is negative.

    Examples
    --------
    >>> spawn_seeds(0, 3) == spawn_seeds(0, 3)
    True
    >>> spawn_seeds(0, 2) == spawn_seeds(0, 3)[:2]
    True
    >>> len(set(spawn_seeds(0, 100)))
    100
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        msg = f"n must be an integer, got {type(n).__name__} <n={n!r}>"
        raise TypeError(msg)
    if n < 0:
        msg = f"n must be >= 0 <n={n!r}>"
        raise ValueError(msg)
    parent = (
        seed
        if isinstance(seed, np.random.SeedSequence)
        else np.random.SeedSequence(_check_int_seed(seed))
    )
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in parent.spawn(n)]


def _check_int_seed(seed: object) -> int:
    if seed is None:
        msg = "seed must be an explicit integer, got None (an unseeded run is not reproducible)"
        raise TypeError(msg)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        msg = f"seed must be an integer, got {type(seed).__name__} <seed={seed!r}>"
        raise TypeError(msg)
    if seed < 0:
        msg = f"seed must be >= 0 <seed={seed!r}>"
        raise ValueError(msg)
    return int(seed)
