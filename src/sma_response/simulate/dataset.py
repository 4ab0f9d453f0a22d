"""A simulated dataset as files: registry exports, ground truth, README and manifest.

:func:`dataset_files` returns every file of ``data/raw/<dataset>/`` as ``{relative_path:
bytes}``; writing them is the pipeline's job. The bytes depend only on the spec, the seed and the
package version (no clock), so the same config gives a byte-identical folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from sma_response._utils.io import atomic_directory
from sma_response.simulate.cohort import SimulatedPatients
from sma_response.simulate.exports import export_registries, parquet_bytes
from sma_response.simulate.ground_truth import build_ground_truth
from sma_response.simulate.params import DiseaseParams
from sma_response.simulate.registries import RegistryData
from sma_response.simulate.spec import SimulationSpec

__all__ = [
    "GROUND_TRUTH_DIR",
    "dataset_files",
    "dataset_manifest",
    "dataset_readme",
    "spec_digest",
    "write_dataset",
]

#: Sub-folder of the dataset holding the ground truth (never read by training).
GROUND_TRUTH_DIR = "ground_truth"


def spec_digest(spec: SimulationSpec) -> str:
    """SHA-256 of the spec's canonical JSON (sorted keys), identifying the configuration.

    Examples
    --------
    >>> spec_digest(SimulationSpec()) == spec_digest(SimulationSpec())
    True
    >>> spec_digest(SimulationSpec()) == spec_digest(SimulationSpec(n_patients=10))
    False
    """
    text = json.dumps(dataclasses.asdict(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dataset_files(
    sim: SimulatedPatients,
    data: RegistryData,
    *,
    spec: SimulationSpec,
    seed: int,
    package_version: str,
    params: DiseaseParams | None = None,
) -> dict[str, bytes]:
    """Every file of a simulated dataset folder.

    Parameters
    ----------
    sim
        Simulated patients.
    data
        Their registry observations.
    spec
        Simulation spec.
    seed
        Seed the dataset was made with (recorded in the manifest).
    package_version
        Version of the package that made it (recorded in the manifest).
    params
        Disease parameters (calibrated defaults when ``None``).

    Returns
    -------
    dict of str to bytes
        ``<registry>/<file>`` exports, ``ground_truth/<table>.parquet``, ``README.md`` and
        ``manifest.json`` (which lists the SHA-256 of every other file).
    """
    files = export_registries(data, spec=spec)
    truth = build_ground_truth(sim, data, spec=spec, params=params)
    files.update(
        {
            f"{GROUND_TRUTH_DIR}/{name}.parquet": parquet_bytes(table)
            for name, table in truth.items()
        }
    )
    files["README.md"] = dataset_readme(spec, files=sorted(files)).encode("utf-8")
    manifest = dataset_manifest(
        files, spec=spec, seed=seed, package_version=package_version, n_enrolled=len(data.patients)
    )
    files["manifest.json"] = manifest.encode("utf-8")
    return dict(sorted(files.items()))


def dataset_manifest(
    files: Mapping[str, bytes],
    *,
    spec: SimulationSpec,
    seed: int,
    package_version: str,
    n_enrolled: int,
) -> str:
    """Build the dataset's manifest (JSON text): what made it and the SHA-256 of every file.

    Parameters
    ----------
    files
        The dataset's other files by relative path.
    spec
        Simulation spec.
    seed
        Seed.
    package_version
        Package version.
    n_enrolled
        Number of registry enrolments (a shared patient counts once per registry).

    Returns
    -------
    str
        Pretty-printed JSON with sorted keys and a final newline.
    """
    manifest = {
        "dataset": spec.dataset,
        "seed": seed,
        "n_patients": spec.n_patients,
        "n_enrolments": n_enrolled,
        "data_cut_year": spec.data_cut_year,
        "config_digest": spec_digest(spec),
        "package": "sma-response",
        "package_version": package_version,
        "registries": {
            reg.name: {
                "region": reg.region,
                "export_format": reg.export_format,
                "reporter": reg.reporter,
            }
            for reg in spec.registries
        },
        "files": {
            path: {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
            for path, content in sorted(files.items())
        },
    }
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def dataset_readme(spec: SimulationSpec, *, files: list[str]) -> str:
    """Short README of a dataset folder: what each file is, and the rule about ground truth.

    Parameters
    ----------
    spec
        Simulation spec.
    files
        Relative paths of the dataset's files.

    Returns
    -------
    str
        Markdown text.
    """
    registries = "\n".join(
        f"- `{reg.name}/` ({reg.region}, {reg.reporter}-reported, format `{reg.export_format}`): "
        + ", ".join(f"`{p.split('/', 1)[1]}`" for p in files if p.startswith(f"{reg.name}/"))
        for reg in spec.registries
    )
    return f"""# Simulated SMA registry dataset `{spec.dataset}`

Synthetic data made by `sma-simulate` (package `sma-response`): {spec.n_patients} simulated
people with spinal muscular atrophy, observed by {len(spec.registries)} registries up to the
data cut ({spec.data_cut_year}). No real person is described; names, record numbers and birth
dates are invented, but they are direct identifiers in form and are handled as such.

## Registry exports (read-only raw data)

{registries}

Each export has its own file type, column names, codes, units, date style and missing-value
marker, as real registries do; `configs/registry/<name>.yaml` maps each onto the common data
model. A few patients appear in two registries (different local ids).

## Ground truth (`{GROUND_TRUTH_DIR}/`)

**Never read this folder in training, feature engineering or model selection.** It is the
oracle for evaluation only.

- `patients.parquet`: one row per `person_id`: region, sex, birth year, true SMA type and SMN2
  copies, onset, diagnosis, event and milestone ages (days), and the latent disease parameters.
- `registry_links.parquet`: `registry, local_id -> person_id` (how the oracle is joined to
  harmonised records), with the enrolment window and exit reason.
- `counterfactuals.parquet`: for every person and option (each therapy, untreated) the
  expected {spec.truth_horizon_months:g}-month change on every scale and the probability of a
  meaningful response, at the index (first therapy start, else first registry visit, else
  diagnosis; `index_kind`).
- `shared_patients.parquet`: which person is enrolled in a second registry, with both local ids.

The ground truth holds no names, record numbers or exact birth dates.

## Provenance

`manifest.json` records the dataset name, seed, size, the digest of the simulation config, the
package version and the SHA-256 of every file. The same config and seed give byte-identical files.
"""


def write_dataset(folder: Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (relative path -> bytes) as the folder ``folder``, atomically.

    Everything goes to a temporary sibling folder first, flushed to disk, which then replaces
    ``folder`` (see :func:`sma_response._utils.io.atomic_directory`).

    Parameters
    ----------
    folder
        Dataset folder; created with its parents if needed, replaced if it exists.
    files
        File content by path relative to ``folder``.

    Returns
    -------
    pathlib.Path
        ``folder``.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with atomic_directory(folder) as tmp:
        for relative, content in files.items():
            path = tmp / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
    return folder
