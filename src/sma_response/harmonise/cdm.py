"""The harmonised CDM as written: linked, ordered, cross-checked tables, manifest and files.

After every registry is harmonised and the results combined, :func:`linked_cdm` links duplicate
patients across registries, puts every table in its written row order and checks the rules
that span tables; :func:`cdm_manifest` describes the result; :func:`write_outputs` writes the
CDM folder atomically (all tables or none) with the bookkeeping files beside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sma_response._utils.io import atomic_directory, atomic_path, atomic_write_text
from sma_response.harmonise.harmonise import CDM_COLUMNS, HarmonisedRegistry
from sma_response.harmonise.io import TruthFileError, read_link_truth
from sma_response.harmonise.linkage import LinkageSpec, apply_links, link_patients
from sma_response.harmonise.order import linkage_against_truth, sort_table
from sma_response.harmonise.pseudonym import PseudonymKey
from sma_response.harmonise.quality import accounting_totals, check_accounting
from sma_response.schemas import validate_cdm

__all__ = [
    "NOT_EXPORTS",
    "SUMMARY_FILE",
    "TRUTH_FILE",
    "HarmonisationResult",
    "cdm_manifest",
    "linkage_quality",
    "linked_cdm",
    "n_linked_groups",
    "source_digest",
    "write_outputs",
]

SUMMARY_FILE = "harmonise_summary.txt"
#: The simulator's truth of who is whom across registries (never read for anything but QA).
TRUTH_FILE = Path("ground_truth") / "registry_links.parquet"

log = logging.getLogger(__name__)


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
    notes
        What the run noticed on the way (an unreadable truth file, an unused column).
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


def linkage_quality(
    raw_dir: Path, links: pd.DataFrame, key: PseudonymKey, notes: list[str]
) -> dict[str, float] | None:
    """Linkage precision and recall against the simulator's truth (the only read of it).

    ``None`` when the dataset has no truth (a real export). An unreadable truth file costs only
    the linkage figures: the run carries on and says so in ``notes`` and the log.
    """
    try:
        truth = read_link_truth(raw_dir / TRUTH_FILE)
    except TruthFileError as err:
        notes.append(f"linkage quality not evaluated: {err}")
        log.warning("linkage quality not evaluated: %s", err)
        return None
    return None if truth is None else linkage_against_truth(links, truth, key=key)


def linked_cdm(
    combined: HarmonisedRegistry, spec: LinkageSpec
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Return the CDM tables with ``linked_id`` in their written row order, and the links.

    Each table passed its schema registry by registry (failures quarantined); the combined CDM
    must also meet the rules that span tables, and the accounting identity must hold. A
    failure here is a harmonisation bug, so it raises.
    """
    links = link_patients(combined.link_keys, spec=spec)
    tables = dict(combined.tables)
    tables["patients"] = apply_links(tables["patients"], links)
    tables = {name: sort_table(name, tables[name]) for name in CDM_COLUMNS}
    validate_cdm(tables, schemas=False)
    check_accounting(combined.accounting)
    return tables, links


def n_linked_groups(links: pd.DataFrame) -> int:
    """Return the number of persons with records in more than one registry."""
    return int((links.groupby("linked_id").size() > 1).sum())


#: Folders of a dataset that are not registry exports (the simulator's truth: evaluation only).
NOT_EXPORTS = ("ground_truth",)


def source_digest(raw_dir: Path, registry_dir: Path | None = None) -> str:
    """SHA-256 of the export files of a dataset folder (and of the registry mappings).

    Every file under ``raw_dir`` but :data:`NOT_EXPORTS`, by relative path and content, in
    sorted order; with ``registry_dir``, its ``*.yaml`` mappings too. A CDM whose recorded
    digest differs was built from other exports (or mappings) than those there now.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "a.csv").write_bytes(b"id,1")
    ...     before = source_digest(Path(tmp))
    ...     _ = (Path(tmp) / "a.csv").write_bytes(b"id,2")
    ...     before != source_digest(Path(tmp))
    True
    """
    sha = hashlib.sha256()
    roots = [("export", raw_dir)] + ([("mapping", registry_dir)] if registry_dir else [])
    for label, root in roots:
        pattern = "*.yaml" if label == "mapping" else "*"
        for path in sorted(root.rglob(pattern)):
            rel = path.relative_to(root)
            if not path.is_file() or (label == "export" and rel.parts[0] in NOT_EXPORTS):
                continue
            sha.update(f"{label}:{rel.as_posix()}\0".encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(block)
    return sha.hexdigest()


def cdm_manifest(
    *,
    dataset: str,
    tables: Mapping[str, pd.DataFrame],
    digest: str,
    registries: Sequence[str],
    key_source: str,
    combined: HarmonisedRegistry,
    linked_groups: int,
    sources: str = "",
) -> dict[str, Any]:
    """Return the ``manifest.json`` of a CDM: digest, rows per table, registries, records.

    ``sources`` is the :func:`source_digest` of the exports it was built from.
    """
    return {
        "dataset": dataset,
        "digest": digest,
        "source_digest": sources,
        "tables": {name: len(frame) for name, frame in tables.items()},
        "registries": list(registries),
        "pseudonym_key": key_source,
        "records": accounting_totals(combined.accounting).iloc[0].astype(int).to_dict(),
        "n_rejects": len(combined.rejects),
        "n_linked_groups": linked_groups,
    }


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="zstd")


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        _write_parquet(frame, tmp)


def write_outputs(
    out_dir: Path,
    *,
    tables: Mapping[str, pd.DataFrame],
    combined: HarmonisedRegistry,
    summary: str,
    manifest: Mapping[str, object],
) -> None:
    """Write ``cdm/`` atomically (all tables or none), then rejects, accounting, corrections."""
    rejects = combined.rejects.sort_values(
        ["registry", "file", "row", "table", "column"], kind="stable"
    ).reset_index(drop=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_directory(out_dir / "cdm") as tmp:
        for name, frame in tables.items():
            _write_parquet(frame, tmp / f"{name}.parquet")
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    _write_table(rejects, out_dir / "rejects.parquet")
    _write_table(combined.accounting.reset_index(drop=True), out_dir / "accounting.parquet")
    _write_table(combined.corrections.reset_index(drop=True), out_dir / "corrections.parquet")
    atomic_write_text(out_dir / SUMMARY_FILE, summary)
