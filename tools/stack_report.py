"""Say which stack a venv holds (Python, Django, Twisted, Evennia), for the
matrix in the Makefile; with --evennia / --no-evennia, also fail when the
venv does not hold the stack it was built for."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    want = parser.add_mutually_exclusive_group()
    want.add_argument("--evennia", action="store_true", help="fail unless Evennia is installed")
    want.add_argument("--no-evennia", action="store_true", help="fail if Evennia is installed")
    args = parser.parse_args(argv)
    evennia = version("evennia")
    print(f"Python {platform.python_version()}, Django {version('django')}, "
          f"Twisted {version('twisted')}, Evennia {evennia or 'absent'}")
    if args.evennia and not evennia:
        print("error: this stack is meant to have Evennia, and it is not installed", file=sys.stderr)
        return 1
    if args.no_evennia and evennia:
        print(f"error: this stack is meant to run without Evennia, and Evennia {evennia} is installed "
              "(something in setup.cfg's install_requires or the test extra pulls it in)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
