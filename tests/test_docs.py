"""The README's case-file reference is the schema's (so docs follow code changes)."""

from pathlib import Path

import pytest

from fem_spin.io.schema_export import reference_markdown

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.serial
def test_readme_case_reference_is_current():
    assert reference_markdown() in (ROOT / "README.md").read_text(), \
        "regenerate the table: python -c 'from fem_spin.io.schema_export import reference_markdown as r; print(r())'"
