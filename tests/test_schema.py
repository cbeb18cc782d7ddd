"""The case schema (issue 21): the typed Case round-trips every shipped case, geometry kinds
are types, and the exported JSON Schema accepts every demo and rejects a misspelt key."""

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from fem_spin.io.case import load_case
from fem_spin.io.model import Case, as_case
from fem_spin.io.schema import NAMED, SCHEMA, DeviceSection, RingSection, SlabSection, keys_of
from fem_spin.io.schema_export import json_schema
from test_cli import run

ROOT = Path(__file__).resolve().parents[1]
DEMOS = sorted((ROOT / "demos").glob("*.toml"))


def test_the_demos_exist():
    assert len(DEMOS) >= 10, DEMOS


@pytest.mark.parametrize("path", DEMOS, ids=lambda p: p.name)
def test_every_demo_validates_against_the_json_schema(path):
    jsonschema.validate(tomllib.loads(path.read_text()), json_schema())


@pytest.mark.parametrize("path", DEMOS, ids=lambda p: p.name)
def test_typed_case_round_trips_every_demo(path):
    table = load_case(path)
    case = as_case(table)
    assert case.to_dict() == table
    assert Case.from_dict(case.to_dict()) == case
    kind = {"slab": SlabSection, "ring": RingSection, "gmsh": DeviceSection}[table["geometry"]["kind"]]
    assert type(case.geometry) is kind
    for name, region in case.regions.items():  # attributes, filled in from [material]
        assert region.D_m2_per_s == table["regions"][name]["D_m2_per_s"]


def test_json_schema_rejects_a_misspelt_key_and_a_wrong_value():
    text = (ROOT / "demos" / "slab.toml").read_text()
    bad = tomllib.loads(text.replace("theta_deg", "theta_degs", 1))
    with pytest.raises(jsonschema.ValidationError, match="theta_degs"):
        jsonschema.validate(bad, json_schema())
    wrong = tomllib.loads(text)
    wrong["geometry"]["kind"] = "torus"
    with pytest.raises(jsonschema.ValidationError, match="torus"):
        jsonschema.validate(wrong, json_schema())
    region = tomllib.loads((ROOT / "demos" / "spin_valve.toml").read_text())
    region["regions"]["free"]["profil"] = "ovf"
    with pytest.raises(jsonschema.ValidationError, match="profil"):
        jsonschema.validate(region, json_schema())


def test_schema_tables_come_from_the_section_classes():
    from fem_spin.io.schema import NAMED_SECTIONS, SECTIONS

    assert {s: list(keys_of(c)) for s, c in SECTIONS.items()} == {s: list(k) for s, k in SCHEMA.items()}
    assert {s: list(keys_of(c)) for s, c in NAMED_SECTIONS.items()} == {s: list(k) for s, k in NAMED.items()}
    # a region inherits [material]'s and [magnetization]'s keys, default None
    assert NAMED["regions"]["tau_sf_s"].default is None
    assert NAMED["regions"]["tau_sf_s"].doc.startswith("(default [material]) ")


@pytest.mark.serial
def test_schema_command_prints_the_json_schema(comm_tmp, capfd):
    assert run("schema") == 0
    out = capfd.readouterr().out
    assert json.loads(out) == json_schema()
    jsonschema.Draft202012Validator.check_schema(json.loads(out))


@pytest.mark.parametrize("path", DEMOS, ids=lambda p: p.name)
def test_the_saved_case_reads_back_as_the_same_case(path):
    """case.toml (every key written out, defaults included) must read back as the same case:
    `fem-spin run case.toml` repeats a run and `fem-spin plot` reads it (a ring's saved
    theta_deg was refused)."""
    from fem_spin.io.case import dump_toml, resolve_case

    table = load_case(path)
    again = resolve_case(tomllib.loads(dump_toml(table)))
    assert again == table


def test_json_schema_carries_the_bounds_fem_spin_applies():
    """An editor checking with the JSON Schema refuses what fem-spin refuses (issue 41:
    length_nm = -100 and theta_deg = 270 passed it): each bounded check gives its limits."""
    from fem_spin.io.schema_export import json_schema

    props = json_schema()["properties"]
    assert props["geometry"]["properties"]["length_nm"]["exclusiveMinimum"] == 0
    theta = props["magnetization"]["properties"]["theta_deg"]
    assert (theta["minimum"], theta["maximum"]) == (0, 180)
    assert props["dynamics"]["properties"]["theta"]["maximum"] == 1
    assert props["dynamics"]["properties"]["output_every"]["minimum"] == 1
