"""Per-therapy estimates scored against the simulator's truth, policy regret and E-values.

Evaluation only: the truth (each patient's expected outcome under every therapy) never reaches
a fit. ``pehe`` is the root mean square error of the estimated against the true contrast over
the patients in support; ``pehe_constant`` that of giving everyone the true average contrast
and ``pehe_zero`` that of assuming no difference. ``pehe_truth_fit`` is the held-out error of a
model fitted to the true contrast itself from the same features: how much of the contrast the
registry's features can explain at all (a floor no estimator from these data can beat).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, cross_val_predict
from xgboost import XGBRegressor

from sma_response.effects.spec import ARMS

__all__ = ["apply_eligibility", "e_values", "policy_regret", "score_effects"]


def apply_eligibility(
    estimates: pd.DataFrame, eligible: pd.DataFrame, reference: str
) -> pd.DataFrame:
    """Add ``status`` (estimated | not_estimable | not_an_option); blank what is not estimated.

    A contrast whose therapy (or the reference) the patient's label does not allow is "not an
    option", whatever the data say; one outside common support is "not estimable".
    """
    out = estimates.copy()
    arm = out["contrast"].str.split("_vs_").str[0]
    ok = eligible.reindex(out["index_id"].to_numpy())
    allowed = np.array(
        [bool(ok.iloc[i][a]) and bool(ok.iloc[i][reference]) for i, a in enumerate(arm)]
    )
    status = np.where(~allowed, "not_an_option", np.where(out["in_support"], "estimated",
                                                          "not_estimable"))  # fmt: skip
    status = np.where((status == "estimated") & out["estimate"].isna(), "not_estimable", status)
    out["status"] = status
    out.loc[status != "estimated", ["estimate", "lower", "upper"]] = np.nan
    return out


def _truth_fit(Z: np.ndarray, true: np.ndarray, groups: np.ndarray, seed: int) -> float:
    if len(true) < 50:
        return float("nan")
    model = XGBRegressor(
        n_estimators=300, max_depth=3, learning_rate=0.05, n_jobs=2, random_state=seed
    )
    pred = cross_val_predict(model, Z, true, cv=GroupKFold(n_splits=5), groups=groups)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def score_effects(
    estimates: pd.DataFrame,
    truth: dict[str, pd.DataFrame],
    *,
    Z: pd.DataFrame | None = None,
    groups: pd.Series | None = None,
    seed: int = 0,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Score every outcome and contrast against the truth.

    Parameters
    ----------
    estimates
        :func:`apply_eligibility` output.
    truth
        ``outcome -> frame`` indexed by ``index_id`` with one column per therapy.
    Z, groups
        Encoded features and patients, for ``pehe_truth_fit`` (skipped when ``None``).

    Returns
    -------
    (dict, pandas.DataFrame)
        Metrics ``effects/<outcome>/<contrast>/<name>`` and the same figures as a table.
    """
    metrics: dict[str, float] = {}
    rows = []
    for (outcome, contrast), part in estimates.groupby(["outcome", "contrast"], sort=True):
        arm, ref = str(contrast).split("_vs_")
        frame = truth.get(str(outcome))
        if frame is None:
            continue
        t = frame.reindex(part["index_id"].to_numpy())
        true = (t[arm] - t[ref]).to_numpy(dtype=float)
        est = part["estimate"].to_numpy(dtype=float)
        ok = ~np.isnan(true) & ~np.isnan(est)
        row: dict[str, float | str] = {"outcome": str(outcome), "contrast": str(contrast)}
        row["n_scored"] = float(ok.sum())
        if ok.sum() == 0:
            rows.append(row)
            continue
        e, tt = est[ok], true[ok]
        lo, hi = part["lower"].to_numpy(dtype=float)[ok], part["upper"].to_numpy(dtype=float)[ok]
        row.update(
            pehe=float(np.sqrt(np.mean((e - tt) ** 2))),
            pehe_constant=float(np.sqrt(np.mean((tt - tt.mean()) ** 2))),
            pehe_zero=float(np.sqrt(np.mean(tt**2))),
            sign_agreement=float(np.mean(np.sign(e) == np.sign(tt))),
            coverage=float(np.mean((lo <= tt) & (tt <= hi))) if not np.isnan(lo).all()
            else float("nan"),
            true_average=float(tt.mean()),
            estimated_average=float(e.mean()),
        )  # fmt: skip
        if Z is not None and groups is not None:
            ids = part["index_id"].to_numpy()[ok]
            row["pehe_truth_fit"] = _truth_fit(
                Z.loc[ids].to_numpy(dtype=float), tt, groups.loc[ids].astype(str).to_numpy(),
                seed,
            )  # fmt: skip
        rows.append(row)
        for key, value in row.items():
            if key not in ("outcome", "contrast"):
                metrics[f"effects/{outcome}/{contrast}/{key}"] = float(value)
    return metrics, pd.DataFrame(rows)


def policy_regret(
    estimates: pd.DataFrame,
    truth: pd.DataFrame,
    eligible: pd.DataFrame,
    population: pd.DataFrame,
    *,
    outcome: str,
    reference: str,
) -> dict[str, float]:
    """Regret of recommending the best estimated eligible option, and of the best-average rule.

    For each patient with a truth: the options are the therapies the label allows whose
    contrast was estimated (the reference always, where allowed); the recommendation is the
    highest estimate (reference = 0). Regret is the true outcome of the truly best allowed
    therapy minus that of the recommendation, averaged. The comparator recommends to everyone
    the allowed therapy with the best estimated average contrast.
    """
    part = estimates.loc[estimates["outcome"] == outcome]
    est = part.pivot_table(
        index="index_id", columns="contrast", values="estimate", aggfunc="first", dropna=False
    )
    ids = truth.dropna().index.intersection(est.index)
    if len(ids) == 0:
        return {}
    arms = list(ARMS)
    value = pd.DataFrame(-np.inf, index=ids, columns=arms)
    value[reference] = 0.0
    average = {reference: 0.0}
    pop = population.loc[population["outcome"] == outcome].set_index("contrast")["ate"]
    for arm in arms:
        if arm == reference:
            continue
        name = f"{arm}_vs_{reference}"
        if name in est.columns:
            value[arm] = est.loc[ids, name].fillna(-np.inf).to_numpy()
        average[arm] = float(pop.get(name, np.nan))
    allowed = eligible.reindex(ids)[arms].to_numpy(dtype=bool)
    value = value.where(allowed, -np.inf)
    true = truth.loc[ids, arms].to_numpy(dtype=float)
    best_true = np.where(allowed, true, -np.inf).max(axis=1)
    chosen = np.argmax(value.to_numpy(), axis=1)
    rank = np.array([average[a] if np.isfinite(average[a]) else -np.inf for a in arms])
    fixed = np.argmax(np.where(allowed, rank[None, :], -np.inf), axis=1)
    rows = np.arange(len(ids))
    regret = best_true - true[rows, chosen]
    regret_fixed = best_true - true[rows, fixed]
    return {
        "effects/policy_regret": float(np.mean(regret)),
        "effects/policy_regret_best_average": float(np.mean(regret_fixed)),
        "effects/policy_best_match": float(np.mean(regret <= 1e-12)),
        "effects/policy_n": float(len(ids)),
    }


def e_values(population: pd.DataFrame) -> pd.DataFrame:
    """Return the E-value of each population contrast (VanderWeele & Ding, Ann Intern Med 2017).

    The minimum strength (risk ratio) of association an unmeasured confounder would need with
    both the therapy and the outcome to explain the average contrast away (``e_value``) or to
    move its 95% interval to include no difference (``e_value_interval``; 1 when it already
    does). A response contrast is taken as a risk ratio against the reference arm's rate; a
    change contrast through its standardised difference ``d`` (``RR = exp(0.91 d)``).

    Examples
    --------
    >>> pop = pd.DataFrame({"outcome": ["response"], "contrast": ["x_vs_y"], "ate": [0.2],
    ...                     "ate_lower": [0.1], "ate_upper": [0.3], "reference_mean": [0.4],
    ...                     "outcome_sd": [0.5]})
    >>> round(float(e_values(pop)["e_value"].iloc[0]), 2)
    2.37
    """

    def rr(outcome: str, diff: float, base: float, sd: float) -> float:
        if outcome == "response":
            ratio = (base + diff) / base if base > 0 else np.nan
        else:
            ratio = float(np.exp(0.91 * diff / sd)) if sd > 0 else np.nan
        return 1.0 / ratio if ratio < 1 else ratio

    def evalue(ratio: float) -> float:
        return float(ratio + np.sqrt(ratio * (ratio - 1.0))) if np.isfinite(ratio) else np.nan

    out = []
    for row in population.itertuples(index=False):
        ate, lo, hi = float(row.ate), float(row.ate_lower), float(row.ate_upper)
        base, sd = float(row.reference_mean), float(row.outcome_sd)
        near = 0.0 if (lo <= 0 <= hi) or np.isnan(lo) else (lo if ate > 0 else hi)
        out.append(
            {
                "outcome": row.outcome, "contrast": row.contrast, "ate": ate,
                "ate_lower": lo, "ate_upper": hi,
                "e_value": evalue(rr(str(row.outcome), ate, base, sd)),
                "e_value_interval": 1.0 if near == 0.0 else evalue(
                    rr(str(row.outcome), near, base, sd)),
            }
        )  # fmt: skip
    return pd.DataFrame(out)
