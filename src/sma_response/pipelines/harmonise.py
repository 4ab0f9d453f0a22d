"""Harmonisation pipeline: registry exports -> validated CDM tables, rejects, accounting, summary.

``run_harmonisation(cfg)`` is what ``sma-harmonise`` calls:

1. load the registry mappings (``configs/registry/<name>.yaml``) for the registries present;
2. resolve the pseudonymisation secret (never logged, never in the config);
3. per registry: read the export (``harmonise.io``), harmonise it (``harmonise.harmonise``);
4. link duplicate patients across registries (``linked_id``);
5. validate the CDM (schemas and cross-table rules) and check the accounting identity;
6. write ``cdm/*.parquet`` (one atomic folder, with ``manifest.json`` holding the content
   digest), ``rejects.parquet``, ``accounting.parquet``, ``corrections.parquet`` and
   ``harmonise_summary.txt``; with ground truth present, report linkage precision and recall.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from sma_response._utils.errors import reraise
from sma_response.conf.nodes import node_spec
from sma_response.harmonise.cdm import (
    cdm_manifest,
    linked_cdm,
    n_linked_groups,
    source_digest,
    write_outputs,
)
from sma_response.harmonise.harmonise import (
    HarmonisedRegistry,
    combine_registries,
    harmonise_registry,
)
from sma_response.harmonise.io import TruthFileError, read_link_truth, read_registry, read_text
from sma_response.harmonise.layout import ExportLayoutError, registry_specs
from sma_response.harmonise.linkage import LinkageSpec
from sma_response.harmonise.order import linkage_against_truth
from sma_response.harmonise.pseudonym import PseudonymKey, resolve_key
from sma_response.harmonise.quality import accounting_totals, summarise
from sma_response.harmonise.spec import RegistrySpec
from sma_response.tracking.provenance import cdm_digest

__all__ = [
    "HarmonisationError",
    "HarmonisationResult",
    "load_registry_specs",
    "run_harmonisation",
]

log = logging.getLogger(__name__)

TRUTH_FILE = Path("ground_truth") / "registry_links.parquet"


class HarmonisationError(Exception):
    """The run cannot start: missing dataset folder, bad mapping, unknown registry (one line)."""


@dataclass
class HarmonisationResult:
    """What a harmonisation run produced.

    Attributes
    ----------
    out_dir, cdm_dir
        Output folder and its CDM sub-folder.
    dataset
        Dataset name.
    n_rows
        Rows per CDM table.
    digest
        Content digest of the CDM (see :func:`~sma_response.tracking.provenance.cdm_digest`).
    accounting
        Records in, accepted, corrected and quarantined per registry, file and table.
    n_rejects
        Rows of the rejects table.
    n_linked_groups
        Persons with records in more than one registry.
    linkage
        Linkage precision and recall against the simulator's truth (``None`` if not evaluated).
    key_source
        Where the pseudonymisation secret came from (``env``, ``file``, ``development``).
    summary
        The text written to ``harmonise_summary.txt``.
    wall_seconds
        Duration of the run.
    """

    out_dir: Path
    cdm_dir: Path
    dataset: str
    n_rows: dict[str, int]
    digest: str
    accounting: pd.DataFrame
    n_rejects: int
    n_linked_groups: int
    linkage: dict[str, float] | None
    key_source: str
    summary: str
    wall_seconds: float
    notes: list[str] = field(default_factory=list)


def load_registry_specs(
    registry_dir: Path, names: str | Sequence[str], raw_dir: Path
) -> tuple[list[tuple[RegistrySpec, Path]], list[str]]:
    """Read the mappings of the registries to harmonise (see :func:`registry_specs`).

    Raises
    ------
    HarmonisationError
        What :func:`registry_specs` refuses, as one line.
    """
    with reraise(HarmonisationError, ExportLayoutError):
        return registry_specs(registry_dir, names, raw_dir)


def _local_secret(path: Path) -> str | None:
    return read_text(path) if path.is_file() else None


def _evaluate_linkage(
    raw_dir: Path, links: pd.DataFrame, key: PseudonymKey, notes: list[str]
) -> dict[str, float] | None:
    """Linkage quality against the simulator's truth (the only read of ``ground_truth/``).

    An unreadable truth file costs only the linkage figures: the run carries on and says so.
    """
    try:
        truth = read_link_truth(raw_dir / TRUTH_FILE)
    except TruthFileError as err:
        notes.append(f"linkage quality not evaluated: {err}")
        log.warning("linkage quality not evaluated: %s", err)
        return None
    return None if truth is None else linkage_against_truth(links, truth, key=key)


def _harmonise_each(
    specs: list[tuple[RegistrySpec, Path]], *, key: PseudonymKey, progress: bool
) -> HarmonisedRegistry:
    results = []
    with tqdm(total=len(specs), unit="registry", desc="harmonise", disable=not progress) as bar:
        for spec, folder in specs:
            bar.set_postfix_str(spec.name)
            results.append(harmonise_registry(read_registry(spec, folder), key=key))
            bar.update(1)
    return combine_registries(results)


def _log_totals(accounting: pd.DataFrame, digest: str, wall: float) -> None:
    totals = accounting_totals(accounting).iloc[0]
    log.info(
        "harmonised %d records: %d accepted, %d corrected, %d quarantined; CDM digest %s; %.1f s",
        totals["n_in"],
        totals["n_accepted"],
        totals["n_corrected"],
        totals["n_quarantined"],
        digest[:12],
        wall,
    )


def run_harmonisation(cfg: DictConfig) -> HarmonisationResult:
    """Harmonise a dataset from the composed ``harmonise`` config and write the outputs.

    Parameters
    ----------
    cfg
        Composed config (``configs/harmonise.yaml``). It is not modified.

    Returns
    -------
    HarmonisationResult
        Where the outputs went, row counts, digest, accounting and linkage quality.

    Raises
    ------
    HarmonisationError
        If the run cannot start (missing dataset folder, invalid mapping, unknown registry).
    """
    started = time.perf_counter()
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, value=True)
    raw_dir, out_dir = Path(cfg.raw_dir), Path(cfg.out_dir)
    if not raw_dir.is_dir():
        msg = f"dataset={cfg.dataset}: no dataset folder {raw_dir} (make one with sma-simulate)"
        raise HarmonisationError(msg)
    names = cfg.registries if isinstance(cfg.registries, str) else list(cfg.registries)
    sources = source_digest(raw_dir, Path(cfg.registry_dir))  # before reading: a later edit shows
    specs, notes = load_registry_specs(Path(cfg.registry_dir), names, raw_dir)
    key = resolve_key(environ=os.environ, local_secret=_local_secret(Path(cfg.pseudonym_key_file)))
    log.info("harmonising %r: %d registries, key from %s", cfg.dataset, len(specs), key.source)
    combined = _harmonise_each(specs, key=key, progress=bool(cfg.progress))
    linkage_spec = node_spec(cfg.linkage, LinkageSpec, key="linkage")
    tables, links = linked_cdm(combined, linkage_spec)
    digest = cdm_digest(tables)
    all_notes = notes + combined.notes
    linkage = _evaluate_linkage(raw_dir, links, key, all_notes) if cfg.evaluate_linkage else None
    linked_groups = n_linked_groups(links)
    summary = summarise(
        dataset=str(cfg.dataset),
        accounting=combined.accounting,
        rejects=combined.rejects,
        corrections=combined.corrections,
        tables=tables,
        digest=digest,
        key_source=key.source,
        linkage=linkage,
        n_linked_groups=linked_groups,
        notes=all_notes,
    )
    manifest = cdm_manifest(
        dataset=str(cfg.dataset), tables=tables, digest=digest,
        registries=[spec.name for spec, _ in specs], key_source=key.source, combined=combined,
        linked_groups=linked_groups, sources=sources,
    )  # fmt: skip
    write_outputs(out_dir, tables=tables, combined=combined, summary=summary, manifest=manifest)
    wall = time.perf_counter() - started
    _log_totals(combined.accounting, digest, wall)
    return HarmonisationResult(
        out_dir=out_dir,
        cdm_dir=out_dir / "cdm",
        dataset=str(cfg.dataset),
        n_rows={name: len(frame) for name, frame in tables.items()},
        digest=digest,
        accounting=combined.accounting,
        n_rejects=len(combined.rejects),
        n_linked_groups=linked_groups,
        linkage=linkage,
        key_source=key.source,
        summary=summary,
        wall_seconds=wall,
        notes=all_notes,
    )
