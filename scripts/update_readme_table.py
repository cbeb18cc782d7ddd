"""Regenerate the README's case-file reference table from the schema (tests/test_docs.py checks it)."""

from pathlib import Path

from fem_spin.io.schema_export import reference_markdown

readme = Path(__file__).resolve().parents[1] / "README.md"
lines = readme.read_text().splitlines(keepends=True)
start = next(i for i, line in enumerate(lines) if line.startswith("| key | type | unit | default | meaning |"))
end = start
while end < len(lines) and lines[end].startswith("|"):
    end += 1
readme.write_text("".join(lines[:start]) + reference_markdown() + "".join(lines[end:]))
