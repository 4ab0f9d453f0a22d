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
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from sma_response._utils.errors import reraise
from sma_response.conf.nodes import node_spec
from sma_response.harmonise.cdm import (
    HarmonisationResult,
    cdm_manifest,
    linkage_quality,
    linked_cdm,
    n_linked_groups,
    source_digest,
    write_outputs,
)
from sma_response.harmonise.io import read_text
from sma_response.harmonise.layout import ExportLayoutError, harmonise_registries, registry_specs
from sma_response.harmonise.linkage import LinkageSpec
from sma_response.harmonise.pseudonym import resolve_key
from sma_response.harmonise.quality import summarise, totals_line
from sma_response.harmonise.spec import RegistrySpec
from sma_response.tracking.provenance import cdm_digest

__all__ = [
    "HarmonisationError",
    "HarmonisationResult",
    "load_registry_specs",
    "run_harmonisation",
]

log = logging.getLogger(__name__)


class HarmonisationError(Exception):
    """The run cannot start: missing dataset folder, bad mapping, unknown registry (one line)."""


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
    combined = harmonise_registries(specs, key=key, progress=bool(cfg.progress))
    linkage_spec = node_spec(cfg.linkage, LinkageSpec, key="linkage")
    tables, links = linked_cdm(combined, linkage_spec)
    digest = cdm_digest(tables)
    all_notes = notes + combined.notes
    linkage = linkage_quality(raw_dir, links, key, all_notes) if cfg.evaluate_linkage else None
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
    log.info("%s; CDM digest %s; %.1f s", totals_line(combined.accounting), digest[:12], wall)
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
