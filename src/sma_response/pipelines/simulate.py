"""Simulation pipeline: config -> patients -> registry observations -> dataset folder.

``run_simulation(cfg)`` is what ``sma-simulate`` calls: it converts the config to a
:class:`~sma_response.simulate.spec.SimulationSpec` once, simulates the patients (with a progress
bar), lets every registry observe them, builds the export and ground-truth files, and writes them
to ``<paths.data_dir>/raw/<dataset>/`` in one atomic step (a temporary folder renamed into place,
so a crash never leaves half a dataset).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm.auto import tqdm

from sma_response import __version__
from sma_response._utils.io import atomic_directory
from sma_response._utils.random import spawn_seeds
from sma_response.simulate.cohort import simulate_patients
from sma_response.simulate.dataset import dataset_files
from sma_response.simulate.exports import check_export_formats
from sma_response.simulate.params import THERAPIES
from sma_response.simulate.registries import RegistryData, check_registries, observe_registries
from sma_response.simulate.spec import SimulationSpec, SimulationSpecError

__all__ = [
    "SimulationResult",
    "run_simulation",
    "to_simulation_spec",
    "write_dataset",
]

log = logging.getLogger(__name__)


@dataclass
class SimulationResult:
    """What a simulation run produced.

    Attributes
    ----------
    output_dir
        The dataset folder written.
    dataset
        Dataset name.
    seed
        Seed used.
    n_patients
        Simulated people.
    registries
        One row per registry: ``registry, region, format, reporter, patients, shared, visits,
        assessments, nusinersen, risdiplam, onasemnogene`` (the therapy columns are shares of
        the registry's treated patients by first therapy).
    type_mix
        Share of each SMA type among the simulated people.
    n_shared
        Enrolments that duplicate a patient of another registry.
    n_files, n_bytes
        Files written and their total size.
    wall_seconds
        Duration of the run.
    """

    output_dir: Path
    dataset: str
    seed: int
    n_patients: int
    registries: pd.DataFrame
    type_mix: dict[str, float]
    n_shared: int
    n_files: int
    n_bytes: int
    wall_seconds: float


def to_simulation_spec(node: object) -> SimulationSpec:
    """Convert the ``simulation`` config node to a validated :class:`SimulationSpec`.

    Parameters
    ----------
    node
        A ``DictConfig`` (typed or not) or a plain mapping.

    Returns
    -------
    SimulationSpec
        The validated spec.

    Raises
    ------
    SimulationSpecError
        Naming the offending key (``simulation.<key>: <problem>``), for type errors, unknown
        keys, missing values and every rule of :meth:`SimulationSpec.validate`, the registry
        checks and the export formats.
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(SimulationSpec), node)
        spec = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        problem = str(getattr(err, "msg", err)).splitlines()[0]
        msg = f"simulation.{key}: {problem}"
        raise SimulationSpecError(msg) from err
    assert isinstance(spec, SimulationSpec)
    spec.validate()
    check_registries(spec)
    check_export_formats(spec)
    return spec


def run_simulation(cfg: DictConfig) -> SimulationResult:
    """Simulate a dataset from the composed ``simulate`` config and write it.

    Parameters
    ----------
    cfg
        Composed config (``configs/simulate.yaml``): ``simulation``, ``paths.data_dir``,
        ``seed``, ``progress``. It is not modified.

    Returns
    -------
    SimulationResult
        Where the dataset went and what it holds.

    Raises
    ------
    SimulationSpecError
        If the simulation config is invalid (raised before any simulation work).
    """
    started = time.perf_counter()
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, value=True)
    spec = to_simulation_spec(cfg.simulation)
    seed = int(cfg.seed)
    # Patients and their observation draw from independent streams of the one seed.
    patient_seed, observe_seed = spawn_seeds(seed, 2)
    params = spec.disease_params()
    log.info("simulating %d patients (dataset %r, seed %d)", spec.n_patients, spec.dataset, seed)
    with tqdm(
        total=spec.n_patients, unit="patients", desc="simulate", disable=not cfg.progress
    ) as bar:
        sim = simulate_patients(spec, seed=patient_seed, params=params, progress=bar.update)
    data = observe_registries(sim, spec, seed=observe_seed, params=params)
    files = dataset_files(
        sim, data, spec=spec, seed=seed, package_version=__version__, params=params
    )
    output_dir = Path(cfg.paths.data_dir) / "raw" / spec.dataset
    write_dataset(output_dir, files)
    result = SimulationResult(
        output_dir=output_dir,
        dataset=spec.dataset,
        seed=seed,
        n_patients=len(sim.patients),
        registries=summarise_registries(data, spec),
        type_mix=sim.patients["sma_type"].value_counts(normalize=True).sort_index().to_dict(),
        n_shared=len(data.shared),
        n_files=len(files),
        n_bytes=sum(len(b) for b in files.values()),
        wall_seconds=time.perf_counter() - started,
    )
    for row in result.registries.itertuples(index=False):
        log.info(
            "%s: %d patients (%d shared), %d visits, %d assessments",
            row.registry,
            row.patients,
            row.shared,
            row.visits,
            row.assessments,
        )
    log.info(
        "wrote %d files (%.1f MB) to %s in %.1f s",
        result.n_files,
        result.n_bytes / 1e6,
        output_dir,
        result.wall_seconds,
    )
    return result


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


def summarise_registries(data: RegistryData, spec: SimulationSpec) -> pd.DataFrame:
    """Per-registry counts and first-therapy mix (see :attr:`SimulationResult.registries`)."""
    rows = []
    for reg in spec.registries:
        part = data.registry(reg.name)
        first = part.treatments.loc[part.treatments["line"] == 1, "therapy"].astype(str)
        mix = first.value_counts(normalize=True)
        rows.append(
            {
                "registry": reg.name,
                "region": reg.region,
                "format": reg.export_format,
                "reporter": reg.reporter,
                "patients": len(part.patients),
                "shared": int(part.patients["shared"].sum()),
                "visits": len(part.visits),
                "assessments": int(part.assessments["score"].notna().sum()),
                **{t: float(mix.get(t, 0.0)) for t in THERAPIES},
            }
        )
    return pd.DataFrame(rows)
