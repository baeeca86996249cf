"""Regenerate the README's settings table from ``contrib_awsstorage.s3.conf``.

Run ``python tools/update_readme.py`` after changing the options table; the
test suite fails while the README and the table disagree.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def render(readme: str) -> str:
    from contrib_awsstorage.s3.conf import settings_table_markdown

    block = f"{START}\n{settings_table_markdown()}\n{END}"
    return re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, readme, flags=re.S)


if __name__ == "__main__":
    path = ROOT / "README.md"
    path.write_text(render(path.read_text()))
    print("README.md settings table updated")
