"""The README follows the code: its case-file reference is the schema's, and every command it
shows is tried (issue 22.6): the files and scripts it names exist, every `fem-spin` line parses
with the real command line, the cheap ones run, and all use one form (the activated venv)."""

import shlex
from pathlib import Path

import pytest

from fem_spin.io.schema_export import reference_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PROGRAMS = {"make", "source", "fem-spin", "python", "mpirun", "bash", "podman", "docker", "sbatch",
            "apptainer", "git", "cd", "pip", "srun"}


@pytest.mark.serial
def test_readme_case_reference_is_current():
    assert reference_markdown() in README, \
        "regenerate the table: python scripts/update_readme_table.py"


def readme_commands() -> list[list[str]]:
    """The shell commands of the README's indented blocks (continuations joined, comments cut)."""
    cmds, joined = [], ""
    for line in README.splitlines():
        if not line.startswith("    ") or line.lstrip().startswith(("|", "#", "from ", "import ", "[")):
            joined = ""
            continue
        text = joined + line.strip()
        if text.endswith("\\"):
            joined = text[:-1] + " "
            continue
        joined = ""
        try:
            words = shlex.split(text, comments=True)
        except ValueError:
            continue
        if words and words[0] in PROGRAMS:
            cmds.append(words)
    return cmds


def test_the_readme_has_commands():
    progs = {c[0] for c in readme_commands()}
    assert {"make", "fem-spin", "python", "mpirun"} <= progs, progs
    assert len(readme_commands()) > 20


@pytest.mark.serial
def test_every_readme_command_names_real_files_and_parses(capfd):
    """One form everywhere (plain `python`, `fem-spin`, `mpirun` in the activated venv; no
    `.venv/bin/...` variant), every demo script and case file exists, every fem-spin line is
    accepted by fem-spin's own parser, and `mpirun` lines launch fem-spin or python."""
    from fem_spin.app.cli import build_parser

    parser = build_parser()
    for words in readme_commands():
        assert words[0] == "source" or not any(w.startswith(".venv/bin/") for w in words), words
        if words[0] == "mpirun":
            assert words[1] == "-n" and words[3] in ("fem-spin", "python"), words
            words = words[3:]
        if words[0] == "python":
            script = ROOT / words[1]
            assert script.is_file(), words
        elif words[0] == "fem-spin":
            args = words[1:words.index("--")] if "--" in words else words[1:]
            args = [a for a in args if a != ">" and not a.endswith(".schema.json")]
            ns = parser.parse_args(args)  # raises on an unknown command or option
            for attr in ("case", "result"):
                path = getattr(ns, attr, None)
                if path is not None and attr == "case":
                    assert (ROOT / path).is_file(), words


@pytest.mark.serial
@pytest.mark.parametrize("line", ["fem-spin info", "fem-spin schema",
                                  "fem-spin run demos/slab.toml -o {tmp}/slab-1d",
                                  "fem-spin plot {tmp}/slab-1d"])
def test_the_cheap_readme_commands_run(tmp_path_factory, line):
    """The README's quick commands, run for real (the demos and sweeps are run by `make demo`
    and by their own tests)."""
    from fem_spin.app import cli

    tmp = tmp_path_factory.getbasetemp() / "readme"
    tmp.mkdir(exist_ok=True)
    assert line.split(" -o ")[0] in README or line.startswith("fem-spin plot")
    words = shlex.split(line.format(tmp=tmp))
    words = [str(ROOT / w) if w.startswith("demos/") else w for w in words]
    assert cli.main(words[1:] + (["--overwrite", "-q"] if words[1] == "run" else [])) == 0
