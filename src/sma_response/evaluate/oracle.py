"""The simulator's ground truth joined to a cohort: the oracle a model is scored against.

Evaluation only, never training: the truth of each index event's actual therapy on its
target scale (the true response probability, or the true expected change). Under the composite
estimand the true probability is that of a meaningful gain *and* of staying alive without
permanent ventilation to the horizon (the product of the two truths, which are independent in
the simulator).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from sma_response.harmonise.io import TruthFileError, read_truth
from sma_response.harmonise.pseudonym import PseudonymKey, pseudonymise

__all__ = [
    "COMPOSITE_TRUTH_COLUMN",
    "ORACLE_AGE_TOLERANCE_DAYS",
    "TRUTH_COLUMNS",
    "join_oracle",
    "option_truth",
    "read_option_truth",
    "read_oracle",
]

log = logging.getLogger(__name__)

#: Columns of the simulator's counterfactual table the join reads.
TRUTH_COLUMNS = (
    "person_id",
    "option",
    "index_age_days",
    "scale",
    "expected_change",
    "response_probability",
)
#: Truth column of the chance to reach the horizon alive and free of permanent ventilation.
COMPOSITE_TRUTH_COLUMN = "event_free_probability"
#: The truth is indexed at the first therapy start; later index events have no oracle.
ORACLE_AGE_TOLERANCE_DAYS = 31


def _joined(
    cohort: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    links: pd.DataFrame,
    counterfactuals: pd.DataFrame,
    key: PseudonymKey | bytes,
    on: tuple[str, ...] = ("person_id", "therapy", "primary_scale"),
) -> pd.DataFrame:
    """Cohort rows with their truth rows (index age within the tolerance) on ``on``."""
    parts = [
        g.assign(
            patient_id=pseudonymise(
                g["local_id"].astype(str), registry=str(reg), key=key
            ).to_numpy()
        )
        for reg, g in links.groupby("registry", sort=True)
    ]
    people = pd.concat(parts, ignore_index=True)[["patient_id", "person_id"]]
    rows = cohort[["index_id", "patient_id", "therapy", "index_age_days"]].merge(
        targets[["index_id", "primary_scale"]], on="index_id"
    )
    rows = rows.merge(people, on="patient_id", how="left")
    joined = rows.merge(
        counterfactuals.rename(
            columns={
                "option": "therapy",
                "scale": "primary_scale",
                "index_age_days": "truth_age_days",
            }
        ),
        on=list(on),
        how="left",
    )
    gap = (joined["truth_age_days"] - joined["index_age_days"]).abs()
    joined = joined.loc[gap <= ORACLE_AGE_TOLERANCE_DAYS]
    return joined


def option_truth(
    cohort: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    links: pd.DataFrame,
    counterfactuals: pd.DataFrame,
    key: PseudonymKey | bytes,
    estimand: str = "while_alive",
) -> dict[str, pd.DataFrame]:
    """Return the truth of every index event under every option, per outcome.

    ``change``: the expected 12-month change on the row's primary scale; ``response``: the
    probability of a meaningful gain (times that of staying alive without permanent
    ventilation under the composite estimand). Frames are indexed by ``index_id`` with one
    column per option (each therapy and ``untreated``).
    """
    cf = counterfactuals.rename(columns={"option": "truth_option"})
    joined = _joined(
        cohort, targets, links=links, counterfactuals=cf, key=key,
        on=("person_id", "primary_scale"),
    )  # fmt: skip
    response = joined["response_probability"]
    if estimand == "composite":
        response = response * joined[COMPOSITE_TRUTH_COLUMN]
    joined = joined.assign(response=response)
    return {
        name: joined.pivot_table(
            index="index_id", columns="truth_option", values=column, aggfunc="first"
        ).rename_axis(columns=None)
        for name, column in (("change", "expected_change"), ("response", "response"))
    }


def join_oracle(
    cohort: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    links: pd.DataFrame,
    counterfactuals: pd.DataFrame,
    key: PseudonymKey | bytes,
    task: str,
    estimand: str = "while_alive",
) -> pd.Series:
    """Return the oracle's prediction of each index event that has one, indexed by ``index_id``.

    Parameters
    ----------
    cohort, targets
        The run's cohort and labels.
    links
        ``registry, local_id, person_id`` of the simulated registries.
    counterfactuals
        The simulator's truth per person and therapy option (:data:`TRUTH_COLUMNS`).
    key
        The pseudonym secret harmonisation used, so that pseudonymous keys match.
    task
        ``classification`` (response probability) or ``regression`` (expected change).
    estimand
        ``composite``: a classification truth is multiplied by
        :data:`COMPOSITE_TRUTH_COLUMN`; ``while_alive``: it is conditional on survival.
    """
    joined = _joined(cohort, targets, links=links, counterfactuals=counterfactuals, key=key)
    joined = joined.set_index("index_id")
    if task != "classification":
        return joined["expected_change"]
    if estimand == "composite":
        return (joined["response_probability"] * joined[COMPOSITE_TRUTH_COLUMN]).rename(
            "response_probability"
        )
    return joined["response_probability"]


def _truth_tables(
    truth_dir: Path, columns: list[str], *, what: str
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Read the counterfactuals and registry links (``None``, with a warning, when unusable)."""
    try:
        counterfactuals = read_truth(truth_dir / "counterfactuals.parquet", columns)
        links = read_truth(
            truth_dir / "registry_links.parquet", ["registry", "local_id", "person_id"]
        )
    except TruthFileError as err:
        log.warning("%s: %s", what, err)
        return None
    if counterfactuals is None or links is None:
        return None
    return counterfactuals, links


def read_oracle(
    cohort: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    truth_dir: Path,
    key: PseudonymKey,
    task: str,
    estimand: str = "while_alive",
) -> pd.Series | None:
    """Return the truth of each index event from a dataset's ``ground_truth/`` folder.

    An absent, truncated or corrupted truth file (or one written before the composite truth
    existed, for a composite run) gives ``None`` (the run has no ``oracle/*`` figures) and a
    warning naming the file: the truth is an extra, never a reason to fail.
    """
    columns = list(TRUTH_COLUMNS)
    if task == "classification" and estimand == "composite":
        columns.append(COMPOSITE_TRUTH_COLUMN)
    tables = _truth_tables(truth_dir, columns, what="oracle figures not computed")
    if tables is None:
        return None
    counterfactuals, links = tables
    return join_oracle(
        cohort,
        targets,
        links=links,
        counterfactuals=counterfactuals,
        key=key,
        task=task,
        estimand=estimand,
    )


def read_option_truth(
    cohort: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    truth_dir: Path,
    key: PseudonymKey,
    estimand: str = "while_alive",
) -> dict[str, pd.DataFrame] | None:
    """Return :func:`option_truth` from a dataset's ``ground_truth/`` folder (``None``: none)."""
    columns = [*TRUTH_COLUMNS, COMPOSITE_TRUTH_COLUMN]
    tables = _truth_tables(truth_dir, columns, what="per-therapy truth not read")
    if tables is None:
        return None
    counterfactuals, links = tables
    return option_truth(
        cohort, targets, links=links, counterfactuals=counterfactuals, key=key, estimand=estimand
    )
