"""Print what setup.cfg requires (install_requires, plus the extras named on
the command line), one requirement a line, for ``pip install -r``.

The Makefile installs these into every stack's venv at once, in parallel
(downloads are most of a venv's making), and only then installs the project
itself, one venv after another: building it writes into the source tree."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


def requirements(extras: list[str]) -> list[str]:
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    sections = [config["options"]["install_requires"]]
    for extra in extras:
        sections.append(config["options.extras_require"][extra])
    lines = (line.strip() for section in sections for line in section.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1:])))
