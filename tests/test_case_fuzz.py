"""Property-based: malformed case files give one clean error line (exit 2) or a valid run."""

import string
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fem_spin.app import cli
from fem_spin.io.case import dump_toml
from fem_spin.io.schema import SCHEMA

BASE = {
    "geometry": {"kind": "slab", "dim": 1, "length_nm": 12.0, "width_nm": 1.0,
                 "h_interface_nm": 0.3, "h_far_nm": 0.6},
    "magnetization": {"theta_deg": 60.0},
    "discretization": {"degree": 1},
    "output": {"profile_points": 11, "png": False, "paraview": False},
}

# The overrides of the size guards are left out: with them a fuzzed 3D mesh of h = 0.01 nm is
# meshed for real and takes the machine's memory (an OOM kill of the whole test run, seen once).
OVERRIDES = {("geometry", "allow_large"), ("dynamics", "allow_long")}
keys = st.sampled_from([(s, k) for s, ks in SCHEMA.items() for k in ks if (s, k) not in OVERRIDES]
                       + [("geometry", "lenght_nm"), ("bogus", "x"), ("solver", "petsc_options")])
scalars = st.one_of(
    st.integers(-3, 25), st.floats(-3, 25), st.sampled_from([float("nan"), float("inf"), 0.0, -0.0]),
    st.booleans(), st.text(string.ascii_letters + "_. ", max_size=8),
    st.sampled_from(["slab", "ring", "interface", "wall", "uniform", "direct", "iterative"]))
junk = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(
    st.text(string.ascii_lowercase, min_size=1, max_size=5), scalars, max_size=2))
num = st.floats(-2, 30)
typed = {"float": num, "int": st.integers(-2, 4), "bool": st.booleans(), "table": st.just({}),
         "vec3": st.lists(num, min_size=3, max_size=3), "str": st.text(string.ascii_letters, max_size=6),
         "strlist": st.lists(st.sampled_from(["m", "M", "T", "J", "abs_m", "B_sd", "x"]), max_size=3),
         # [[dynamics.stages]]: tables with or without their t_end_s, and out-of-range values
         "stages": st.lists(st.fixed_dictionaries({}, optional={
             "t_end_s": st.sampled_from([1e-12, 0.0, -1e-12]), "dt_s": st.sampled_from([1e-12, 3e-13, -1.0]),
             "relax": st.booleans(), "B_T": st.lists(num, min_size=3, max_size=3)}), max_size=2)}
# every kind of the schema has its own values (a new kind must be added here)
assert {k.kind for ks in SCHEMA.values() for k in ks.values()} <= set(typed)


@st.composite
def mutation(draw):
    """A key and, mostly, a value of its own type (in or out of range), else junk."""
    section, key = draw(keys)
    spec = SCHEMA.get(section, {}).get(key)
    if spec is None or draw(st.integers(0, 3)) == 0:
        return (section, key), draw(junk)
    if spec.choices and draw(st.booleans()):
        return (section, key), draw(st.sampled_from(spec.choices))
    return (section, key), draw(typed[spec.kind])


mutations = st.lists(mutation(), min_size=1, max_size=3)


@pytest.mark.serial
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations)
def test_malformed_cases_fail_cleanly(tmp_path_factory, capfd, muts):
    folder = tmp_path_factory.mktemp("fuzz")
    raw = {s: dict(v) for s, v in BASE.items()}
    for (section, key), value in muts:
        raw.setdefault(section, {})[key] = value
    text = dump_toml(raw)
    tomllib.loads(text)  # the fuzzer itself writes valid TOML
    (folder / "case.toml").write_text(text)
    capfd.readouterr()
    rc = cli.main(["run", str(folder / "case.toml"), "-o", str(folder / "out"), "-q"])
    err = capfd.readouterr().err
    assert "Traceback" not in err
    if rc == 0:
        assert (folder / "out" / "profile.csv").exists()
    else:
        assert rc in (1, 2), (rc, err)
        errors = [ln for ln in err.splitlines() if ln.startswith("fem-spin: error")]
        assert len(errors) == 1, (text, err)
        assert not (folder / "out").exists()
