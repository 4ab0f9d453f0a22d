"""Per-patient therapy contrasts: cross-fitted doubly robust learner, T- and S-learners.

For a contrast ``a vs r`` and an outcome, the learner is fitted on the starts of ``a`` or ``r``
that lie in common support (both propensities at least ``min_propensity``), and predicts for
every patient in support; outside support the estimate is missing ("not estimable from this
registry"), never extrapolated. The doubly robust learner (EconML ``ForestDRLearner``) fits its
outcome and propensity nuisance models in patient-grouped folds and regresses the AIPW
pseudo-outcomes on the patient's features with an honest causal forest, which also gives each
patient an interval.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from econml.dr import ForestDRLearner
from econml.metalearners import SLearner, TLearner
from scipy.stats import norm
from sklearn.model_selection import GroupKFold
from xgboost import XGBClassifier, XGBRegressor

from sma_response.effects.overlap import cross_fitted_propensity, in_support, propensity_model
from sma_response.effects.spec import ARMS, EffectsSpec
from sma_response.features.preprocess import make_preprocessor

__all__ = ["EffectEstimates", "estimate_effects", "treatment_codes"]

log = logging.getLogger(__name__)


@dataclass
class EffectEstimates:
    """What the effects stage estimated (no truth involved).

    Attributes
    ----------
    estimates
        Long table ``index_id, outcome, contrast, estimate, lower, upper, in_support``; the
        estimate is missing outside support.
    propensity
        Held-out propensity of each therapy, indexed by ``index_id``.
    therapy
        Therapy code of each row (into :data:`ARMS`).
    population
        Per outcome and contrast: the average contrast in support with its 95% interval, the
        reference arm's mean outcome there and the outcome's SD (for the E-value).
    covariates
        The encoded features every model saw (imputed, scaled, one-hot), indexed by
        ``index_id``.
    """

    estimates: pd.DataFrame
    propensity: pd.DataFrame
    therapy: np.ndarray
    population: pd.DataFrame
    covariates: pd.DataFrame


def treatment_codes(therapy: pd.Series) -> np.ndarray:
    """Return each therapy's position in :data:`ARMS` (-1 for anything else)."""
    return pd.Categorical(therapy.astype(str), categories=list(ARMS)).codes.astype(int)


def _nuisance(*, discrete: bool, spec: EffectsSpec, seed: int) -> XGBClassifier | XGBRegressor:
    kwargs = {
        "n_estimators": spec.nuisance_trees, "max_depth": spec.nuisance_depth,
        "learning_rate": 0.05, "subsample": 0.8, "n_jobs": 2, "random_state": seed,
    }  # fmt: skip
    return XGBClassifier(**kwargs) if discrete else XGBRegressor(**kwargs)


def _fit_contrast(
    Y: np.ndarray, T: np.ndarray, Z: np.ndarray, groups: np.ndarray, *,
    codes: tuple[int, int], discrete: bool, spec: EffectsSpec, seed: int,
) -> tuple[object, bool]:  # fmt: skip
    """Fit one learner for ``codes = (reference, arm)``; return it and whether it has intervals."""
    ref, arm = codes
    if spec.estimator == "dr":
        est = ForestDRLearner(
            model_regression=_nuisance(discrete=discrete, spec=spec, seed=seed),
            model_propensity=propensity_model(trees=150, seed=seed),
            discrete_outcome=discrete,
            cv=GroupKFold(n_splits=spec.n_splits),
            categories=[ref, arm],
            n_estimators=spec.n_estimators,
            min_samples_leaf=spec.min_samples_leaf,
            min_propensity=spec.min_propensity / 2,
            random_state=seed,
            n_jobs=1,
        )
        est.fit(Y, T, X=Z, groups=groups)
        return est, True
    model = _nuisance(discrete=False, spec=spec, seed=seed)  # 0/1 outcome regressed for response
    learner: TLearner | SLearner = (
        TLearner(models=model, categories=[ref, arm])
        if spec.estimator == "t"
        else SLearner(overall_model=model, categories=[ref, arm])
    )
    learner.fit(Y, T, X=Z)
    return learner, False


def estimate_effects(
    features: pd.DataFrame,
    outcomes: dict[str, pd.Series],
    groups: pd.Series,
    *,
    spec: EffectsSpec,
    seed: int,
) -> EffectEstimates:
    """Estimate every contrast of every outcome for every index event in support.

    Parameters
    ----------
    features
        The run's feature frame (``therapy`` is the treatment; the rest are adjusted for and are
        the effect modifiers), indexed by ``index_id``.
    outcomes
        ``outcome -> values`` (same index; missing where not observed, e.g. no change score
        after a death).
    groups
        Patient of each row (folds never split a patient).
    spec, seed
        Settings and seed (nuisance models, forest).
    """
    T = treatment_codes(features["therapy"])
    covariates = features.drop(columns=["therapy"])
    encoded = make_preprocessor(covariates.dtypes, kind="linear").fit_transform(covariates)
    Z = encoded.to_numpy(dtype=float)
    g = groups.reindex(features.index).astype(str).to_numpy()
    P = cross_fitted_propensity(Z, T, g, n_splits=spec.n_splits, trees=150, seed=seed)
    ref = ARMS.index(spec.reference)
    z = float(norm.ppf(0.975))
    rows, population = [], []
    for name, values in outcomes.items():
        Y = values.reindex(features.index).to_numpy(dtype=float)
        discrete = name == "response"
        for contrast in _contrasts(spec.reference):
            arm = ARMS.index(contrast.split("_vs_")[0])
            support = in_support(P, arm, ref, spec.min_propensity)
            train = support & ~np.isnan(Y) & np.isin(T, [ref, arm])
            est = lo = hi = np.full(len(Z), np.nan)
            n_arm = int(np.sum(train & (arm == T)))
            if n_arm >= 2 * spec.n_splits and np.sum(train & (ref == T)) >= 2 * spec.n_splits:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # EconML's notes on the nuisance fits
                    learner, has_interval = _fit_contrast(
                        Y[train], T[train], Z[train], g[train], codes=(ref, arm),
                        discrete=discrete, spec=spec, seed=seed,
                    )  # fmt: skip
                    est = np.full(len(Z), np.nan)
                    est[support] = np.ravel(learner.effect(Z[support], T0=ref, T1=arm))  # type: ignore[attr-defined]
                    lo, hi = np.full(len(Z), np.nan), np.full(len(Z), np.nan)
                    if has_interval:
                        alpha = 1.0 - spec.interval_level
                        bounds = learner.effect_interval(  # type: ignore[attr-defined]
                            Z[support], T0=ref, T1=arm, alpha=alpha
                        )
                        lo[support], hi[support] = np.ravel(bounds[0]), np.ravel(bounds[1])
                    ate = float(np.mean(est[support]))
                    se = _ate_se(learner, Z[support], ref, arm) if has_interval else np.nan
            else:
                ate, se = np.nan, np.nan
                log.warning("effects: %s/%s not estimated: %d starts in support", name,
                            contrast, n_arm)  # fmt: skip
            rows.append(
                pd.DataFrame(
                    {
                        "index_id": features.index.astype(str), "outcome": name,
                        "contrast": contrast, "estimate": est, "lower": lo, "upper": hi,
                        "in_support": support,
                    }
                )
            )  # fmt: skip
            reference_rows = support & ~np.isnan(Y) & (ref == T)
            population.append(
                {
                    "outcome": name, "contrast": contrast, "n_support": int(support.sum()),
                    "n_fit": int(train.sum()), "n_arm": n_arm, "ate": ate,
                    "ate_lower": ate - z * se, "ate_upper": ate + z * se,
                    "reference_mean": float(np.mean(Y[reference_rows]))
                    if reference_rows.any() else np.nan,
                    "outcome_sd": float(np.nanstd(Y[support])) if support.any() else np.nan,
                }
            )  # fmt: skip
    return EffectEstimates(
        estimates=pd.concat(rows, ignore_index=True),
        propensity=pd.DataFrame(P, index=features.index, columns=list(ARMS)),
        therapy=T,
        population=pd.DataFrame(population),
        covariates=encoded,
    )


def _contrasts(reference: str) -> list[str]:
    return [f"{arm}_vs_{reference}" for arm in ARMS if arm != reference]


def _ate_se(learner: object, Z: np.ndarray, ref: int, arm: int) -> float:
    """Return the standard error of the average contrast over ``Z`` (forest inference)."""
    inference = learner.ate_inference(Z, T0=ref, T1=arm)  # type: ignore[attr-defined]
    return float(np.ravel(inference.stderr_mean)[0])
