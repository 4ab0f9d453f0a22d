"""Reproduce a logged training run: check what it was made from, re-run it, compare exactly.

``reproduce_run(run_id, tracking=...)`` is what ``sma-reproduce`` calls:

1. read what the run logged: the resolved config, overrides and config-group choices, seed,
   data digest (and per-table fingerprint), key package versions, git commit and dirty flag;
2. check each against the current environment and name every difference:

   * ``config``: the config of the re-run (the logged one, with ``changes`` applied) against
     the logged one; folders that moved with the checkout are noted, not counted;
   * ``config files``: the logged overrides re-applied to the *current* ``configs/`` give the
     logged config (catches an edited default; only for runs launched through Hydra);
   * ``seed``; ``data``: the CDM digest recomputed from the data on disk (simulated and
     harmonised from the logged config first when missing); ``packages``: the key packages of
     ``environment/key_packages.json`` against those installed; ``git commit``/``git tree``;

3. re-run :func:`~sma_response.pipelines.train.run_training` with the logged config, tagged
   ``reproduces=<run id>``;
4. compare every metric (except ``timing/*``) and the logged predictions (and SHAP values,
   subgroup and attrition tables) exactly, and tag the new run
   ``reproduction.status=identical|different`` with the report as ``reproduction/report.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sma_response._utils.errors import reraise
from sma_response.conf.compose import with_baseline_model
from sma_response.conf.factory import ConfigError
from sma_response.conf.logged import logged_config, overrides_check, rerun_config, train_config
from sma_response.conf.nodes import node_dict, node_spec
from sma_response.conf.resolvers import PROJECT_ROOT
from sma_response.pipelines.data import DataError, ensure_cdm, read_cdm_fingerprint
from sma_response.pipelines.train import TrainingError, run_training
from sma_response.tracking.compare import (
    Check,
    ReproductionReport,
    config_check,
    data_check,
    diff_configs,
    git_checks,
    packages_check,
    relocate_config,
    result_checks,
    tag_reproduction,
)
from sma_response.tracking.lookup import (
    RunNotFinishedError,
    RunNotFoundError,
    get_run,
    read_run_json,
    read_run_text,
    require_finished,
)
from sma_response.tracking.spec import TrackingSpec

__all__ = [
    "DEFAULT_COMPARE",
    "Check",
    "ReproductionError",
    "ReproductionReport",
    "diff_configs",
    "relocate_config",
    "reproduce_run",
    "run_reproduction",
]

log = logging.getLogger(__name__)

#: Logged files compared exactly between the original run and its reproduction.
DEFAULT_COMPARE = (
    "predictions/oof.parquet",
    "predictions/oof_baseline.parquet",
    "explain/shap_oof.parquet",
    "evaluation/subgroups.csv",
    "evaluation/interval_coverage.csv",
    "cohort/attrition.csv",
)


class ReproductionError(Exception):
    """The reproduction cannot start for a reason the user can fix (one line, no traceback)."""


def _rerun_train_config(
    config: Mapping[str, Any], config_dir: str | Path | None, notes: list[str]
) -> DictConfig:
    """Return the re-run's config: comparator filled in for older runs, on today's schema."""
    filled, note = with_baseline_model(config, config_dir=config_dir)
    notes.extend([note] if note else [])
    return train_config(filled)


def _data_check(
    rerun_cfg: DictConfig,
    tags: Mapping[str, str],
    fingerprint: Mapping[str, Any] | None,
    notes: list[str],
) -> Check:
    logged_digest = tags.get("data.digest") or (fingerprint or {}).get("digest", "")
    cdm_dir = Path(rerun_cfg.harmonise.out_dir) / "cdm"
    existed = (cdm_dir / "manifest.json").is_file()
    try:
        cdm_dir = ensure_cdm(rerun_cfg)
    except DataError as err:
        return Check("data", "differs", logged_digest[:16], "missing", details=[str(err)])
    if not existed:
        notes.append(
            f"data: no CDM at {cdm_dir}; rebuilt it from the logged config "
            "(simulated if needed, harmonised)"
        )
    return data_check(logged_digest, fingerprint, read_cdm_fingerprint(cdm_dir), cdm_dir)


# --------------------------------------------------------------------------- main entry


def reproduce_run(
    run_id: str,
    *,
    tracking: TrackingSpec,
    rerun: bool = True,
    changes: Sequence[str] = (),
    data_dir: str | None = None,
    output_root: str | None = None,
    compare: Iterable[str] = DEFAULT_COMPARE,
    root_dir: str | Path | None = None,
    config_dir: str | Path | None = None,
) -> ReproductionReport:
    """Rebuild a logged training run, check it against this environment, re-run and compare.

    Parameters
    ----------
    run_id
        The run to reproduce.
    tracking
        Store holding it; the reproduction is logged there, in the run's experiment (its model
        is logged but not registered).
    rerun
        Re-run the training; ``False`` checks config, data, packages and code only.
    changes
        ``key=value`` overrides of the logged config for the re-run (each is reported).
    data_dir, output_root
        Where the data and outputs are now (``None``: as logged, moved with the checkout).
    compare
        Logged files to compare exactly (those the original run has).
    root_dir
        The current checkout (default: this package's project root).
    config_dir
        The ``configs/`` folder to re-compose the logged overrides with (default: the
        checkout's).

    Returns
    -------
    ReproductionReport

    Raises
    ------
    ReproductionError
        Unknown run, a run without a logged config, or changes that cannot be applied.
    """
    started = time.perf_counter()
    root = str(root_dir or PROJECT_ROOT)
    notes: list[str] = []
    with reraise(ReproductionError, ConfigError, RunNotFoundError, RunNotFinishedError):
        original, logged = _logged_run(tracking, run_id)
        require_finished(original)  # a killed or failed run is no result to reproduce
        relocated, moved = relocate_config(
            logged, root_dir=root, data_dir=data_dir, output_root=output_root
        )
        notes.extend(moved)
        rerun_dict = rerun_config(relocated, changes, tracking, original["experiment_name"])
        rerun_cfg = _rerun_train_config(rerun_dict, config_dir, notes)
    checks = [
        config_check(relocated, rerun_dict, changes),
        *_environment_checks(
            tracking, run_id, original["tags"], logged, rerun_cfg, notes, root, config_dir
        ),
    ]
    new_run_id = None
    if rerun:
        new_run_id = _rerun(tracking, run_id, rerun_cfg, original, notes)
        checks += result_checks(
            tracking, run_id, new_run_id, original["metrics"], compare,
            optimized=logged.get("optimized_metric"),
        )  # fmt: skip
    report = ReproductionReport(
        run_id=run_id, new_run_id=new_run_id, checks=checks, notes=notes,
        status=ReproductionReport.status_of(checks, rerun=rerun), tracking_uri=tracking.uri,
        wall_seconds=time.perf_counter() - started,
    )  # fmt: skip
    if new_run_id is not None:
        tag_reproduction(tracking, new_run_id, report)
    log.info("%s", report.summary())
    return report


def _logged_run(tracking: TrackingSpec, run_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the original run and its logged (unresolved) config."""
    original = get_run(tracking, run_id)
    config = logged_config(read_run_text(tracking, run_id, "config/config.yaml"), run_id)
    logged = node_dict(config, resolve=False, key="config/config.yaml")
    return original, logged


def _environment_checks(
    tracking: TrackingSpec,
    run_id: str,
    tags: Mapping[str, str],
    logged: Mapping[str, Any],
    rerun_cfg: DictConfig,
    notes: list[str],
    root: str,
    config_dir: str | Path | None,
) -> list[Check]:
    """Config files, seed, data, packages and code of the run against now."""
    seed_logged = str(tags.get("seed", logged.get("seed")))
    return [
        overrides_check(
            read_run_json(tracking, run_id, "config/overrides.json"),
            logged,
            Path(config_dir) if config_dir else None,
        ),
        Check(
            name="seed",
            status="same" if seed_logged == str(rerun_cfg.seed) else "differs",
            logged=seed_logged,
            current=str(rerun_cfg.seed),
        ),
        _data_check(
            rerun_cfg, tags, read_run_json(tracking, run_id, "data/cdm_fingerprint.json"), notes
        ),
        packages_check(
            read_run_json(tracking, run_id, "environment/key_packages.json"),
            read_run_text(tracking, run_id, "environment/versions.txt"),
        ),
        *git_checks(tags, Path(root)),
    ]


def _rerun(
    tracking: TrackingSpec,
    run_id: str,
    rerun_cfg: DictConfig,
    original: Mapping[str, Any],
    notes: list[str],
) -> str:
    log.info("re-running %s with the logged config", run_id)
    try:
        result = run_training(rerun_cfg, extra_tags={"reproduces": run_id})
    except TrainingError as err:
        msg = f"the re-run failed: {err}"
        raise ReproductionError(msg) from err
    notes.append(
        f"reproduction logged as run {result.run_id} in experiment "
        f"{original['experiment_name']!r} ({tracking.uri})"
    )
    return result.run_id


def run_reproduction(cfg: DictConfig) -> ReproductionReport:
    """Reproduce the run named by a composed ``reproduce`` config (``configs/reproduce.yaml``).

    Raises
    ------
    ReproductionError
        For problems the user can fix (no or unknown run id, bad changes).
    """
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, value=True)
    if OmegaConf.is_missing(cfg, "run_id") or not cfg.run_id:
        msg = "run_id: name the run to reproduce (sma-reproduce <run id>)"
        raise ReproductionError(msg)
    tracking = node_spec(cfg.tracking, TrackingSpec, key="tracking")
    return reproduce_run(
        str(cfg.run_id),
        tracking=tracking,
        rerun=bool(cfg.rerun),
        changes=[str(c) for c in cfg.changes],
        data_dir=cfg.data_dir,
        output_root=cfg.output_root,
        compare=[str(c) for c in cfg.compare],
        root_dir=str(cfg.paths.root_dir),
    )
