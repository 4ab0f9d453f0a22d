"""Typed configuration of a simulated multi-region registry (the ``simulation`` config group)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from sma_response.simulate.params import ARMS, SCALES, THERAPIES, DiseaseParams


class SimulationSpecError(ValueError):
    """A simulation config is invalid; the message names the offending key."""


@dataclass
class RegionSpec:
    """How care differs in one region: newborn screening, therapy access and choice.

    Attributes
    ----------
    name
        Region code (also written into exports).
    weight
        Relative share of the simulated births from this region.
    nbs_start_year
        Calendar year newborn screening started (``None``: never).
    nbs_coverage
        Share of births screened once it started.
    approval_year
        Calendar year (decimal) each therapy became available.
    treat_probability
        Probability a diagnosed patient is ever treated, by age band at possible start:
        ``infant`` (< 2 y), ``child`` (2-18 y), ``adult``.
    therapy_weight
        Multipliers of the clinical preference for each therapy in this region.
    start_delay_months
        Mean delay from diagnosis (or availability) to first dose.
    switch_probability
        Probability a treated patient switches once (nusinersen -> risdiplam or, under 2 years,
        onasemnogene).
    """

    name: str
    weight: float = 1.0
    nbs_start_year: float | None = None
    nbs_coverage: float = 0.9
    approval_year: dict[str, float] = field(
        default_factory=lambda: {"nusinersen": 2017.5, "onasemnogene": 2020.5, "risdiplam": 2021.3}
    )
    treat_probability: dict[str, float] = field(
        default_factory=lambda: {"infant": 0.95, "child": 0.85, "adult": 0.55}
    )
    therapy_weight: dict[str, float] = field(
        default_factory=lambda: {"nusinersen": 1.0, "risdiplam": 1.0, "onasemnogene": 1.0}
    )
    start_delay_months: float = 2.0
    switch_probability: float = 0.15


@dataclass
class RegistrySpec:
    """How one registry observes its patients and exports them.

    Attributes
    ----------
    name
        Registry name; also the export sub-folder and the mapping config name.
    region
        Region whose patients it enrols.
    export_format
        One of the writers in :mod:`sma_response.simulate.exports`.
    start_year
        Calendar year (decimal) the registry began enrolling.
    visit_interval_months
        Mean months between visits (jittered).
    scales
        Scales the registry records (others are missing by design).
    reporter
        ``clinician`` or ``patient`` (patient-reported registries record milestones only).
    assessor_bias
        Systematic bias of this registry's assessors, in scale points (applied to every scale).
    missing_rate
        Probability a scheduled score is missing.
    dropout_per_year
        Yearly hazard of leaving the registry.
    share_from
        Other registry names this one also enrols a few patients from (shared patients).
    share_fraction
        Share of those registries' patients also enrolled here.
    nusinersen_visit_interval_months
        Mean months between visits while the patient is on nusinersen (visits follow the
        intrathecal dosing); ``None``: the cadence does not depend on therapy.
    enrol_delay_months
        Mean delay (exponential) from eligibility (diagnosis or registry start) to enrolment.
    n_sites
        Number of participating centres; each has its own random assessor offset.
    site_bias_sd
        SD of a centre's systematic offset on each scale, in units of that scale's
        measurement-noise SD.
    id_prefix
        Prefix of the registry's pseudonymous patient id (``local_id``); empty: the upper-case
        registry name and a dash. Must differ between registries.
    record_prefix
        Prefix of the hospital record number (a direct identifier carried by the export).
    """

    name: str
    region: str
    export_format: str
    start_year: float = 2016.0
    visit_interval_months: float = 6.0
    scales: list[str] = field(default_factory=lambda: list(SCALES))
    reporter: str = "clinician"
    assessor_bias: float = 0.0
    missing_rate: float = 0.1
    dropout_per_year: float = 0.08
    share_from: list[str] = field(default_factory=list)
    share_fraction: float = 0.02
    nusinersen_visit_interval_months: float | None = None
    enrol_delay_months: float = 3.0
    n_sites: int = 8
    site_bias_sd: float = 0.3
    id_prefix: str = ""
    record_prefix: str = "MRN"


@dataclass
class SimulationSpec:
    """A simulated dataset: size, seed-independent settings, regions and registries."""

    dataset: str = "default"
    n_patients: int = 3000
    data_cut_year: float = 2026.5
    oldest_birth_year: float = 1966.0
    chunk_size: int = 20000
    regions: list[RegionSpec] = field(default_factory=list)
    registries: list[RegistrySpec] = field(default_factory=list)
    #: Ground-truth horizon for counterfactual outcomes, months after the index.
    truth_horizon_months: float = 12.0
    #: Disease-model parameters that differ from :class:`DiseaseParams`' starting values: the
    #: calibrated set of ``make calibrate`` (``configs/calibration/fitted_params.yaml``).
    disease: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def disease_params(self) -> DiseaseParams:
        """Return the disease parameters this dataset is simulated with.

        Raises
        ------
        SimulationSpecError
            For a name in ``disease`` that is not a parameter.
        """
        try:
            return DiseaseParams().with_overrides(self.disease)
        except ValueError as err:
            msg = f"simulation.disease: {err}"
            raise SimulationSpecError(msg) from err

    def validate(self) -> SimulationSpec:
        """Check the spec; raise :class:`SimulationSpecError` naming the bad key."""

        def fail(key: str, problem: str) -> NoReturn:
            msg = f"simulation.{key}: {problem}"
            raise SimulationSpecError(msg)

        if not isinstance(self.n_patients, int) or self.n_patients <= 0:
            fail("n_patients", f"must be a positive integer, got {self.n_patients!r}")
        if self.chunk_size <= 0:
            fail("chunk_size", f"must be positive, got {self.chunk_size!r}")
        if self.oldest_birth_year >= self.data_cut_year:
            fail("oldest_birth_year", "must be before data_cut_year")
        if not self.regions:
            fail("regions", "at least one region is needed")
        names = [r.name for r in self.regions]
        if len(set(names)) != len(names):
            fail("regions", f"duplicated region name in {names}")
        for i, region in enumerate(self.regions):
            if region.weight < 0:
                fail(f"regions[{i}].weight", f"must be >= 0, got {region.weight}")
            for therapy in (*region.approval_year, *region.therapy_weight):
                if therapy not in THERAPIES:
                    fail(
                        f"regions[{i}]",
                        f"unknown therapy {therapy!r}; expected one of {list(THERAPIES)}",
                    )
            for key, p in (
                ("nbs_coverage", region.nbs_coverage),
                ("switch_probability", region.switch_probability),
            ):
                if not 0.0 <= p <= 1.0:
                    fail(f"regions[{i}].{key}", f"must be a probability, got {p}")
        if sum(r.weight for r in self.regions) <= 0:
            fail("regions", "weights add up to zero")
        reg_names = [r.name for r in self.registries]
        if len(set(reg_names)) != len(reg_names):
            fail("registries", f"duplicated registry name in {reg_names}")
        for i, reg in enumerate(self.registries):
            if reg.region not in names:
                fail(
                    f"registries[{i}].region",
                    f"unknown region {reg.region!r}; expected one of {names}",
                )
            for scale in reg.scales:
                if scale not in SCALES:
                    fail(
                        f"registries[{i}].scales",
                        f"unknown scale {scale!r}; expected one of {list(SCALES)}",
                    )
            for other in reg.share_from:
                if other not in reg_names:
                    fail(f"registries[{i}].share_from", f"unknown registry {other!r}")
            if reg.visit_interval_months <= 0:
                fail(f"registries[{i}].visit_interval_months", "must be positive")
        return self


__all__ = ["ARMS", "RegionSpec", "RegistrySpec", "SimulationSpec", "SimulationSpecError"]
