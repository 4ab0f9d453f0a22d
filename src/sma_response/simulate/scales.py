"""Motor scales: each maps latent ability through its own monotone link, floor, ceiling, noise."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from sma_response.simulate.params import SCALE_RANGE, DiseaseParams


def _power_link(ability: np.ndarray, lo: float, hi: float, power: float) -> np.ndarray:
    return np.clip((ability - lo) / (hi - lo), 0.0, 1.0) ** power


def expected_score(scale: str, ability: np.ndarray) -> np.ndarray:
    """Noise-free score of ``scale`` for latent ``ability`` (0..100).

    Parameters
    ----------
    scale
        One of :data:`sma_response.simulate.params.SCALES`.
    ability
        Latent motor ability.

    Returns
    -------
    numpy.ndarray
        Expected score in the scale's units; ``nan`` for the 6-minute walk test when the
        patient cannot walk.

    Examples
    --------
    >>> float(expected_score("hfmse", np.array([100.0]))[0])
    66.0
    """
    a = np.asarray(ability, dtype=float)
    if scale == "chop_intend":  # infant scale: sensitive at low ability, ceiling for sitters
        return 64.0 * (1.0 - np.exp(-(a + 3.0) / 18.0))
    if scale == "hine2":
        return 26.0 * (1.0 - np.exp(-np.maximum(a - 4.0, 0.0) / 28.0))
    if scale == "hfmse":  # floor below sitting-level ability
        return 66.0 * _power_link(a, 18.0, 95.0, 0.85)
    if scale == "rhs":
        return 69.0 * _power_link(a, 20.0, 92.0, 0.8)
    if scale == "rulm":  # upper limb: tracks HFMSE in non-walkers, ceiling effect in walkers
        return 37.0 * _power_link(a, 10.0, 60.0, 1.0)
    if scale == "mfm32":
        return 100.0 * _power_link(a, 5.0, 95.0, 0.7)
    if scale == "6mwt":
        metres = 650.0 * _power_link(a, 48.0, 100.0, 0.7)
        return np.where(a >= 52.0, metres, np.nan)
    msg = f"unknown scale {scale!r}; expected one of {sorted(SCALE_RANGE)}"
    raise ValueError(msg)


def noise_sd(
    scale: str, age_months: np.ndarray, params: DiseaseParams, *, expected: np.ndarray | None = None
) -> np.ndarray:
    """Measurement-noise SD of one assessment of ``scale`` at ``age_months``.

    Sum scores are noisiest mid-range: with ``expected`` given (the noise-free score), the SD is
    scaled by ``2 * sqrt(p * (1 - p))``, ``p`` the expected score's share of the range.
    """
    shape = np.broadcast_shapes(
        np.shape(age_months), () if expected is None else np.shape(expected)
    )
    sd = np.full(shape, params.scale_noise[scale], dtype=float)
    if expected is not None and scale != "6mwt":
        lo, hi = SCALE_RANGE[scale]
        share = np.clip(
            (np.nan_to_num(np.asarray(expected, dtype=float)) - lo) / (hi - lo), 0.03, 0.97
        )
        sd = sd * 2.0 * np.sqrt(share * (1.0 - share))
    if scale in ("hfmse", "rhs"):
        years = np.asarray(age_months, dtype=float) / 12.0
        extra = params.young_child_noise * np.exp(-years / params.young_child_noise_tau_years)
        sd = np.sqrt(sd**2 + extra**2)
    return sd


def observe_score(
    scale: str,
    ability: np.ndarray,
    age_months: np.ndarray,
    rng: np.random.Generator,
    params: DiseaseParams,
    *,
    fused: np.ndarray | None = None,
    bias: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Draw an observed score: expected score + assessor bias + noise, rounded and clipped.

    Parameters
    ----------
    scale
        Scale name.
    ability
        Latent ability at the assessment.
    age_months
        Age at the assessment (noise is larger in young children for HFMSE and RHS).
    rng
        Random generator.
    params
        Disease parameters.
    fused
        Whether the spine was fused before the assessment (shifts HFMSE and RHS).
    bias
        Systematic assessor or site bias, in scale points.

    Returns
    -------
    numpy.ndarray
        Integer-valued scores (6MWT in whole metres), ``nan`` where the scale does not apply.
    """
    mean = expected_score(scale, ability)
    if fused is not None and scale in params.fusion_shift:
        mean = mean + np.where(fused, params.fusion_shift[scale], 0.0)
    sd = noise_sd(scale, age_months, params, expected=mean)
    noisy = mean + bias + sd * rng.standard_normal(np.shape(mean))
    lo, hi = SCALE_RANGE[scale]
    return np.clip(np.round(noisy), lo, hi)


def response_probability(
    scale: str,
    expected_change: np.ndarray,
    age_months: np.ndarray,
    threshold: float,
    params: DiseaseParams,
    *,
    expected_start: np.ndarray | None = None,
) -> np.ndarray:
    """Probability that an observed change (two noisy assessments) reaches ``threshold``.

    The observed change is the expected change plus the difference of two independent
    measurement errors, rounded to whole points: P(round(change) >= threshold).
    """
    sd = np.sqrt(2.0) * noise_sd(scale, age_months, params, expected=expected_start)
    return ndtr((np.asarray(expected_change, dtype=float) - (threshold - 0.5)) / sd)
