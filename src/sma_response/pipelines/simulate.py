"""Simulation pipeline: config -> patients -> registry observations -> dataset folder.

``run_simulation(cfg)`` is what ``sma-simulate`` calls: it converts the config to a
:class:`~sma_response.simulate.spec.SimulationSpec` once, simulates the patients (with a progress
bar), lets every registry observe them, builds the export and ground-truth files, and writes them
to ``<paths.data_dir>/raw/<dataset>/`` in one atomic step (a temporary folder renamed into place,
so a crash never leaves half a dataset).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from sma_response import __version__
from sma_response._utils.random import spawn_seeds
from sma_response.conf.simulation import to_simulation_spec
from sma_response.simulate.cohort import simulate_patients
from sma_response.simulate.dataset import dataset_files, write_dataset
from sma_response.simulate.registries import observe_registries, summarise_registries

__all__ = ["SimulationResult", "run_simulation"]

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
