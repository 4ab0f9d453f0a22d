from __future__ import annotations

import copy
import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from sma_response.conf.resolvers import CONFIG_DIR
from sma_response.conf.simulation import to_simulation_spec
from sma_response.simulate.cohort import DAYS_PER_MONTH, SimulatedPatients, simulate_patients
from sma_response.simulate.names import NAMES
from sma_response.simulate.params import SCALES, DiseaseParams
from sma_response.simulate.registries import (
    RegistryData,
    birth_dates,
    check_registries,
    observe_registries,
    scale_in_use,
)
from sma_response.simulate.spec import SimulationSpec, SimulationSpecError

TABLES = ("patients", "visits", "assessments", "treatments", "events", "shared")


def default_spec(**overrides: object) -> SimulationSpec:
    """The shipped default simulation config, with overrides (dotted keys allowed)."""
    raw = OmegaConf.load(CONFIG_DIR / "simulation" / "default.yaml")
    del raw["defaults"]
    for key, value in overrides.items():
        OmegaConf.update(raw, key, value)
    return to_simulation_spec(raw)


@pytest.fixture(scope="module")
def spec() -> SimulationSpec:
    return default_spec(n_patients=1500, chunk_size=1000)


@pytest.fixture(scope="module")
def sim(spec: SimulationSpec) -> SimulatedPatients:
    return simulate_patients(spec, seed=3)


@pytest.fixture(scope="module")
def data(sim: SimulatedPatients, spec: SimulationSpec) -> RegistryData:
    return observe_registries(sim, spec, seed=4)


def test_every_registry_enrols_and_visits(data: RegistryData, spec: SimulationSpec) -> None:
    for reg in spec.registries:
        part = data.registry(reg.name)
        assert len(part.patients) > 50, reg.name
        assert len(part.visits) > len(part.patients), reg.name
        if reg.reporter == "patient":
            assert part.assessments.empty, "a patient-reported registry records no scales"
        else:
            assert part.assessments["score"].notna().sum() > 100, reg.name


def test_enrolment_window(data: RegistryData, sim: SimulatedPatients, spec: SimulationSpec) -> None:
    pt = data.patients
    truth = sim.patients.set_index("person_id").loc[pt["person_id"]]
    birth = truth["birth_year_decimal"].to_numpy()
    start_year = pt["registry"].map({r.name: r.start_year for r in spec.registries}).astype(float)
    opens_days = (start_year.to_numpy() - birth) * 12.0 * DAYS_PER_MONTH
    entry = pt["entry_age_days"].to_numpy()
    assert (entry >= np.floor(truth["diagnosis_age_days"].to_numpy()) - 1).all()
    assert (entry >= np.floor(opens_days) - 1).all()
    assert (pt["exit_age_days"].to_numpy() <= truth["end_age_days"].to_numpy() + 1e-9).all()
    assert (entry < pt["exit_age_days"].to_numpy()).all()
    died = pt["exit_reason"].to_numpy() == "death"
    np.testing.assert_allclose(
        pt.loc[died, "exit_age_days"].to_numpy(), truth["death_age_days"].to_numpy()[died]
    )
    # Visits fall inside the window, the first one at entry.
    vi = data.visits.merge(
        pt[["local_id", "entry_age_days", "exit_age_days"]].astype({"local_id": str}),
        left_on=data.visits["local_id"].astype(str),
        right_on="local_id",
    )
    assert (vi["visit_age_days"] >= vi["entry_age_days"]).all()
    assert (vi["visit_age_days"] < vi["exit_age_days"]).all()
    first = vi.loc[vi["visit_no"] == 1]
    assert (first["visit_age_days"] == first["entry_age_days"]).all()


def test_home_enrolments_follow_region(
    data: RegistryData, sim: SimulatedPatients, spec: SimulationSpec
) -> None:
    home = data.patients.loc[~data.patients["shared"]]
    region = sim.patients["region"].to_numpy()[home["person_id"].to_numpy()]
    expected = home["registry"].map({r.name: r.region for r in spec.registries}).astype(str)
    assert (region == expected.to_numpy()).all()


def test_shared_patients_are_recorded(data: RegistryData) -> None:
    shared = data.shared
    assert len(shared) > 0
    assert (shared["registry"] == "cure_pr").all()
    assert int(data.patients["shared"].sum()) == len(shared)
    assert (shared["local_id"] != shared["source_local_id"]).all()
    links = data.patients.assign(local_id=data.patients["local_id"].astype(str))
    by_id = links.set_index("local_id")["person_id"]
    assert (by_id.loc[shared["source_local_id"]].to_numpy() == shared["person_id"].to_numpy()).all()
    assert (by_id.loc[shared["local_id"]].to_numpy() == shared["person_id"].to_numpy()).all()


def test_scales_follow_age_function_and_registry(data: RegistryData, spec: SimulationSpec) -> None:
    asm = data.assessments
    age_years = asm["visit_age_days"] / 365.25
    assert (age_years[asm["scale"] == "hine2"] < 2.0 + 1e-9).all()
    assert (age_years[asm["scale"] == "hfmse"] >= 2.0 - 0.01).all()
    assert (age_years[asm["scale"] == "6mwt"] >= 5.0 - 0.01).all()
    assert (age_years[asm["scale"] == "mfm32"] >= 6.0 - 0.01).all()
    for reg in spec.registries:
        used = set(asm.loc[asm["registry"] == reg.name, "scale"].astype(str))
        assert used <= set(reg.scales), reg.name
    # The six-minute walk only for walkers at that visit.
    walk = asm.loc[asm["scale"] == "6mwt", ["local_id", "visit_no"]].astype({"local_id": str})
    vi = data.visits.astype({"local_id": str}).set_index(["local_id", "visit_no"])
    walking = vi.loc[list(walk.itertuples(index=False, name=None)), "walking"]
    assert walking.dropna().all()


def test_dach_cadence_follows_nusinersen_dosing(data: RegistryData) -> None:
    vi = data.registry("smartcare_dach").visits
    same = vi["local_id"].to_numpy()[1:] == vi["local_id"].to_numpy()[:-1]
    gap = np.diff(vi["visit_age_days"].to_numpy()) / DAYS_PER_MONTH
    therapy = vi["current_therapy"].astype(str).to_numpy()
    on = same & (therapy[1:] == "nusinersen") & (therapy[:-1] == "nusinersen")
    off = same & (therapy[1:] != "nusinersen") & (therapy[:-1] != "nusinersen")
    assert np.median(gap[on]) == pytest.approx(4.0, abs=0.6)
    assert np.median(gap[off]) == pytest.approx(6.0, abs=0.8)


def _before_start(starts: pd.DataFrame, seen: pd.DataFrame) -> pd.Series:
    """Per therapy start: how many ``seen`` rows fall 0-14 days before its (whole) day."""
    pairs = (
        starts.reset_index(drop=True)
        .reset_index(names="start")
        .merge(seen, on="local_id", how="left")
    )
    before = np.floor(pairs["start_age_days"]) - pairs["visit_age_days"]
    return before.between(0, 14).groupby(pairs["start"]).sum()


def test_clinician_registries_assess_before_therapy_start(
    data: RegistryData, sim: SimulatedPatients, spec: SimulationSpec
) -> None:
    birth = sim.patients["birth_year_decimal"].to_numpy()
    for reg in spec.registries:
        part = data.registry(reg.name)
        tr = part.treatments.astype({"local_id": str})
        first = tr.loc[tr["line"] == 1]
        opens = (reg.start_year - birth[first["person_id"].to_numpy()]) * 12.0 * DAYS_PER_MONTH
        after_open = first.loc[first["start_age_days"].to_numpy() > opens]
        assert len(after_open) > 30, reg.name
        visits = part.visits.astype({"local_id": str})[["local_id", "visit_age_days"]]
        if reg.reporter == "patient":
            # Yearly surveys, not timed to the first dose.
            assert (_before_start(after_open, visits) > 0).mean() < 0.2
            continue
        scored = part.assessments.loc[part.assessments["score"].notna()]
        scored = scored.astype({"local_id": str})[["local_id", "visit_age_days"]]
        assert (_before_start(after_open, scored) > 0).mean() >= 0.8, reg.name
        # Every start seen (first line or switch, on or after entry) has exactly one visit in
        # the fortnight before it: the baseline visit replaces scheduled ones nearby.
        entry = part.patients.astype({"local_id": str}).set_index("local_id")["entry_age_days"]
        in_window = np.floor(tr["start_age_days"]) >= entry.loc[tr["local_id"]].to_numpy()
        assert (_before_start(tr.loc[in_window], visits) == 1).all(), reg.name


def test_missing_scores_at_the_registry_rate(data: RegistryData, spec: SimulationSpec) -> None:
    for reg in spec.registries:
        scores = data.registry(reg.name).assessments["score"]
        if len(scores):
            assert scores.isna().mean() == pytest.approx(reg.missing_rate, abs=0.03), reg.name


def test_clinical_status(data: RegistryData, sim: SimulatedPatients) -> None:
    vi = data.visits
    pv = sim.patients["permanent_ventilation_age_days"].to_numpy()[vi["person_id"].to_numpy()]
    ventilated = pv <= vi["visit_age_days"].to_numpy()
    hours = vi["ventilation_hours_per_day"].to_numpy()
    known = ~np.isnan(hours)
    assert (hours[ventilated & known] >= 16).all()
    assert (hours[~ventilated & known] <= 12).all()
    assert ((hours[known] >= 0) & (hours[known] <= 24)).all()
    weight = vi["weight_kg"].dropna()
    assert weight.between(1.5, 150).all()
    # Ever achieved never lags behind currently able.
    for m in ("head_control", "sitting", "standing", "walking"):
        now = vi[m].fillna(value=False).to_numpy(dtype=bool)
        ever = vi[f"ever_{m}"].fillna(value=True).to_numpy(dtype=bool)
        assert (ever | ~now).all(), m


def test_identifiers(data: RegistryData, sim: SimulatedPatients) -> None:
    pt = data.patients
    home_region = sim.patients["region"].to_numpy()[pt["person_id"].to_numpy()]
    for region in ("DE", "IT", "NL", "US"):
        rows = pt.loc[home_region == region]
        assert set(rows["last_name"]) <= set(NAMES[region]["last"])
        first_pool = set(NAMES[region]["female"]) | set(NAMES[region]["male"])
        assert set(rows["first_name"]) <= first_pool
    # Same person, same identity in every registry.
    per_person = pt.groupby("person_id")[["first_name", "last_name", "birth_date"]].nunique()
    assert (per_person == 1).all().all()
    years = pd.DatetimeIndex(pt["birth_date"]).year.to_numpy()
    decimal = sim.patients["birth_year_decimal"].to_numpy()[pt["person_id"].to_numpy()]
    assert (years == np.floor(decimal)).all()
    assert pt["record_number"].str.match(r"^[A-Z]+\d{2}-\d{7}$").all()
    prefix = {"smartcare_dach": "SC-", "ismac_itu": "ITU-", "nl_sma": "NLSMA", "cure_pr": "CS"}
    for registry, start in prefix.items():
        ids = pt.loc[pt["registry"] == registry, "local_id"].astype(str)
        assert ids.str.fullmatch(rf"{start}\d{{7}}").all()
        assert ids.is_unique


def test_observation_is_deterministic(
    sim: SimulatedPatients, spec: SimulationSpec, data: RegistryData
) -> None:
    again = observe_registries(sim, spec, seed=4)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(again, name), getattr(data, name))
    other = observe_registries(sim, spec, seed=5)
    assert not other.visits["visit_age_days"].equals(data.visits["visit_age_days"])


def test_inputs_are_not_mutated(spec: SimulationSpec) -> None:
    small = dataclasses.replace(spec, n_patients=200)
    sim = simulate_patients(small, seed=1)
    patients_before = sim.patients.copy()
    treatments_before = sim.treatments.copy()
    ability_before = sim.history.ability.copy()
    spec_before = copy.deepcopy(small)
    observe_registries(sim, small, seed=2, params=DiseaseParams())
    pd.testing.assert_frame_equal(sim.patients, patients_before)
    pd.testing.assert_frame_equal(sim.treatments, treatments_before)
    np.testing.assert_array_equal(sim.history.ability, ability_before)
    assert small == spec_before


def test_adding_a_registry_at_the_end_changes_no_other(spec: SimulationSpec) -> None:
    small = dataclasses.replace(spec, n_patients=300, registries=spec.registries[:2])
    sim = simulate_patients(small, seed=1)
    base = observe_registries(sim, small, seed=2)
    extra = dataclasses.replace(spec.registries[2], region="DE", id_prefix="EXTRA")
    more = observe_registries(
        sim, dataclasses.replace(small, registries=[*small.registries, extra]), seed=2
    )
    for name in ("smartcare_dach", "ismac_itu"):
        a, b = base.registry(name), more.registry(name)
        pd.testing.assert_frame_equal(
            a.visits.astype({"local_id": str, "registry": str}),
            b.visits.astype({"local_id": str, "registry": str}),
        )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("reporter", "robot", "registries[0].reporter"),
        ("missing_rate", 1.5, "registries[0].missing_rate"),
        ("dropout_per_year", -0.1, "registries[0].dropout_per_year"),
        ("n_sites", 0, "registries[0].n_sites"),
        ("nusinersen_visit_interval_months", 0.0, "registries[0].nusinersen_visit_interval_months"),
        ("id_prefix", "ITU-", "registries[1].id_prefix"),
        ("share_from", ["smartcare_dach"], "registries[0].share_from"),
    ],
)
def test_bad_registry_settings_name_the_key(
    spec: SimulationSpec, key: str, value: object, message: str
) -> None:
    registries = [dataclasses.replace(spec.registries[0], **{key: value}), *spec.registries[1:]]
    with pytest.raises(SimulationSpecError, match=re.escape(f"simulation.{message}")):
        check_registries(dataclasses.replace(spec, registries=registries))


@pytest.mark.parametrize(
    ("scale", "age", "sits", "walks", "expected"),
    [
        ("chop_intend", 4.0, False, False, True),
        ("chop_intend", 60.0, False, False, True),
        ("chop_intend", 60.0, True, False, False),
        ("hine2", 20.0, True, False, True),
        ("hine2", 30.0, True, True, False),
        ("hfmse", 30.0, True, False, True),
        ("hfmse", 20.0, True, False, False),
        ("rhs", 100.0, False, False, False),
        ("rulm", 40.0, True, False, True),
        ("rulm", 40.0, True, True, False),
        ("rulm", 240.0, True, True, True),
        ("mfm32", 80.0, False, False, True),
        ("6mwt", 70.0, True, True, True),
        ("6mwt", 50.0, True, True, False),
    ],
)
def test_scale_in_use(scale: str, age: float, sits: bool, walks: bool, expected: bool) -> None:
    got = scale_in_use(
        scale, age_months=np.array([age]), sits=np.array([sits]), walks=np.array([walks])
    )
    assert bool(got[0]) is expected


def test_scale_in_use_rejects_unknown_scale() -> None:
    with pytest.raises(ValueError, match="unknown scale"):
        scale_in_use(
            "gmfm", age_months=np.array([1.0]), sits=np.array([True]), walks=np.array([True])
        )
    assert set(SCALES) >= {"chop_intend", "6mwt"}


def test_birth_dates_cover_leap_years() -> None:
    dates = birth_dates(np.array([2020.0, 2020.9999, 2021.5, 1966.0]))
    assert dates.astype(str).tolist() == ["2020-01-01", "2020-12-31", "2021-07-02", "1966-01-01"]


def test_no_type_before_symptoms(data: RegistryData) -> None:
    """SMA type is defined by the untreated course: a child treated before symptoms has none."""
    pts = data.patients
    unseen = pts["presymptomatic"].to_numpy(dtype=bool) & pts["onset_age_days"].isna().to_numpy()
    assert unseen.any()
    assert pts.loc[unseen, "sma_type"].isna().all()
    # Every symptomatic, clinician-recorded patient still has a type.
    assert pts.loc[~pts["presymptomatic"].to_numpy(dtype=bool), "sma_type"].notna().mean() > 0.9
