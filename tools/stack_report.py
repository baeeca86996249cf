"""Say which stack a venv holds (Python, Django, Twisted, Evennia), for the
matrix in the Makefile. With ``--expect``, fail when the venv does not hold
the stack it was built for (a resolver that picked another Django, or an
Evennia that crept into the no-Evennia stack), so each stack proves what
its name says."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata

PARTS = ("python", "django", "twisted", "evennia")


def versions() -> dict[str, str]:
    """``{part: version or "absent"}``."""
    found = {"python": platform.python_version()}
    for dist in PARTS[1:]:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "absent"
    return found


def mismatches(found: dict[str, str], expected: list[str]) -> list[str]:
    """``part=prefix`` items (``evennia=absent``, ``django=6.1``) that ``found`` does not meet."""
    wrong = []
    for item in expected:
        part, _, want = item.partition("=")
        have = found.get(part, "absent")
        if not (have == want or have.startswith(want + ".")):
            wrong.append(f"{part} {have}, expected {want}")
    return wrong


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--expect",
        nargs="*",
        default=[],
        metavar="PART=VERSION",
        help=f"parts ({', '.join(PARTS)}) and version prefixes, or 'absent'",
    )
    args = parser.parse_args(argv)
    found = versions()
    print(", ".join(f"{part.capitalize()} {found[part]}" for part in PARTS))
    wrong = mismatches(found, args.expect)
    if wrong:
        print(
            "error: this venv is not the stack it was built for: " + "; ".join(wrong),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
