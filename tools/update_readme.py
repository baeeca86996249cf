"""Regenerate the settings table of ``docs/settings.md`` from ``contrib_awsstorage.s3.conf``.

Run ``python tools/update_readme.py`` after changing the options table; the
test suite fails while the docs and the table disagree.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
#: the document that holds the generated table (the README links to it)
SETTINGS_DOC = ROOT / "docs" / "settings.md"


def render(text: str) -> str:
    from contrib_awsstorage.s3.conf import settings_table_markdown

    block = f"{START}\n{settings_table_markdown()}\n{END}"
    return re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)


if __name__ == "__main__":
    SETTINGS_DOC.write_text(render(SETTINGS_DOC.read_text()))
    print(f"{SETTINGS_DOC.relative_to(ROOT)} settings table updated")
