"""The data a run reads: the CDM of a dataset and the simulator's ground truth.

The CDM is simulated and harmonised when missing; the ground truth is for evaluation only.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sma_response.conf.nodes import node_dict
from sma_response.evaluate.oracle import read_option_truth, read_oracle
from sma_response.harmonise.cdm import source_digest
from sma_response.harmonise.io import read_text
from sma_response.harmonise.pseudonym import PseudonymKey, resolve_key
from sma_response.pipelines.harmonise import run_harmonisation
from sma_response.pipelines.simulate import run_simulation
from sma_response.schemas import CDM_SCHEMAS, validate_cdm
from sma_response.tracking.provenance import cdm_fingerprint

__all__ = [
    "DataError",
    "ensure_cdm",
    "load_cdm",
    "option_truth_frames",
    "oracle_predictions",
    "pseudonym_key",
    "read_cdm_fingerprint",
]

log = logging.getLogger(__name__)


class DataError(Exception):
    """The dataset is missing and may not be created (one line, no traceback)."""


def ensure_cdm(cfg: DictConfig) -> Path:
    """Return the CDM folder of ``cfg.dataset``, simulating and harmonising it when missing.

    Raises
    ------
    DataError
        If the dataset has no raw data and may not be simulated.
    """
    raw_dir = Path(cfg.harmonise.raw_dir)
    cdm_dir = Path(cfg.harmonise.out_dir) / "cdm"
    cdm_manifest = cdm_dir / "manifest.json"
    if not raw_dir.is_dir():
        if not cfg.simulate_if_missing:
            msg = (
                f"no dataset at {raw_dir} "
                "(set simulate_if_missing=true to create the synthetic one)"
            )
            raise DataError(msg)
        log.warning("dataset %s not found: simulating it into %s", cfg.dataset, raw_dir)
        sim_cfg = OmegaConf.create(
            {
                "seed": cfg.seed,
                "simulation": node_dict(cfg.simulation, key="simulation"),
                "paths": node_dict(cfg.paths, key="paths"),
                "progress": cfg.progress,
            }
        )
        run_simulation(sim_cfg)
    on_stale = str(cfg.harmonise.get("on_stale", "reharmonise"))
    if on_stale not in ("reharmonise", "refuse"):
        msg = f"harmonise.on_stale: unknown {on_stale!r}; expected 'reharmonise' or 'refuse'"
        raise DataError(msg)
    stale = cdm_manifest.is_file() and _built_from_other_exports(
        cdm_manifest, raw_dir, Path(cfg.harmonise.registry_dir)
    )
    if stale and on_stale == "refuse":
        msg = (
            f"the CDM in {cdm_dir} was built from other export files (or mappings) than those "
            f"now in {raw_dir}: run sma-harmonise dataset={cfg.dataset}, or allow "
            "harmonise.on_stale=reharmonise"
        )
        raise DataError(msg)
    if not cdm_manifest.is_file() or stale:
        why = "the exports changed since it was built" if stale else "there is none yet"
        log.warning("harmonising %s into %s (%s)", raw_dir, cdm_dir, why)
        run_harmonisation(OmegaConf.create(node_dict(cfg.harmonise, key="harmonise")))
    return cdm_dir


def _built_from_other_exports(manifest: Path, raw_dir: Path, registry_dir: Path) -> bool:
    """Whether the CDM's recorded source digest differs from the exports there now."""
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8")).get("source_digest")
    except (OSError, ValueError):
        return True
    return recorded != source_digest(raw_dir, registry_dir)


def load_cdm(cdm_dir: Path) -> tuple[dict[str, pd.DataFrame], str]:
    """Read and validate the CDM tables; return them with the CDM digest from its manifest."""
    tables = {name: pd.read_parquet(cdm_dir / f"{name}.parquet") for name in CDM_SCHEMAS}
    manifest = json.loads((cdm_dir / "manifest.json").read_text(encoding="utf-8"))
    return validate_cdm(tables), str(manifest.get("digest", ""))


def read_cdm_fingerprint(cdm_dir: Path) -> dict[str, Any]:
    """Fingerprint of the CDM tables as stored on disk (before schema validation)."""
    return cdm_fingerprint(
        {name: pd.read_parquet(Path(cdm_dir) / f"{name}.parquet") for name in CDM_SCHEMAS}
    )


def pseudonym_key(key_file: Path) -> PseudonymKey:
    """Return the pseudonym secret (environment, else the local key file) harmonisation uses."""
    secret = read_text(key_file) if key_file.is_file() else None
    return resolve_key(environ=os.environ, local_secret=secret)


def oracle_predictions(
    cohort: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    raw_dir: Path,
    key_file: Path,
    task: str,
    estimand: str = "while_alive",
) -> pd.Series | None:
    """Return the truth of each index event (evaluation only), or ``None`` without one."""
    truth_dir, key = raw_dir / "ground_truth", pseudonym_key(key_file)
    return read_oracle(cohort, targets, truth_dir=truth_dir, key=key, task=task, estimand=estimand)


def option_truth_frames(
    cohort: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    raw_dir: Path,
    key_file: Path,
    estimand: str = "while_alive",
) -> dict[str, pd.DataFrame] | None:
    """Return the truth of each index event under every option (evaluation only)."""
    truth_dir, key = raw_dir / "ground_truth", pseudonym_key(key_file)
    return read_option_truth(cohort, targets, truth_dir=truth_dir, key=key, estimand=estimand)
