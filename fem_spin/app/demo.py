"""The demos' command line: `python demos/NAME.py [OUT] [...] [--help]`. One parser for all of
them, its description the script's own header (its leading comment lines), so `--help` says
what the demo does and starts nothing (it used to be taken as the output folder)."""

from __future__ import annotations

import argparse
from pathlib import Path


def header(script: str | Path) -> str:
    """The leading comment block of a script, without its `#` marks (jupytext's `# #` title too)."""
    lines = []
    for line in Path(script).read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").rstrip())
    return "\n".join(lines).strip()


def demo_parser(script: str | Path, default_out: str) -> argparse.ArgumentParser:
    """A parser with the script's header and the optional result folder OUT (default_out);
    add a demo's own arguments to it, then parse_args()."""
    parser = argparse.ArgumentParser(prog=f"python demos/{Path(script).name}", description=header(script),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default=default_out, type=Path,
                        help=f"the result folder (default: {default_out})")
    return parser


def demo_output(script: str | Path, default_out: str) -> Path:
    """OUT of a demo that takes nothing else."""
    return demo_parser(script, default_out).parse_args().out
