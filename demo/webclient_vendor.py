"""The website's and webclient's third-party libraries, served by the game.

Evennia's ``website/base.html`` and ``webclient/base.html`` link jQuery,
Bootstrap, popper, golden-layout and favico.js from public CDNs, and its
font plugin links Google Fonts. A game on a closed network (or one that wants
every byte from its own bucket) gets none of them, and the webclient stops at
"jQuery not found". Here the same files come from the npm registry, pinned to
the versions the templates name (``demo/vendor/package.json``, installed
with ``npm ci``), go into the game's ``web/static/vendor/`` and so up to S3
with the rest, and template overrides in the game dir link them through
``{% static %}``.

The overrides are made from the installed Evennia's own templates, one URL
swapped at a time, so they follow the Evennia version; a third-party link
this table does not know is an error, not a silent CDN request. The
templates' Subresource Integrity hashes are kept: the npm files are the very
bytes the CDNs serve, and the browser checks it.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "vendor"  # package.json, package-lock.json
NODE_MODULES = VENDOR_DIR / "node_modules"
STATIC_PREFIX = "vendor"
INSTALL_HINT = "run `make webclient-assets` (npm ci in demo/vendor/)"


@dataclass(frozen=True)
class CdnFile:
    """One file a stock template links from a CDN, and where npm has it."""

    url: str  # exactly as Evennia's template links it
    package: str  # npm package name
    version: str  # the version the URL names
    path: str  # the file inside the npm package

    @property
    def alias(self) -> str:
        """The npm alias in package.json (several versions side by side)."""
        return f"{self.package}-{self.version}"

    @property
    def static_name(self) -> str:
        return f"{STATIC_PREFIX}/{self.alias}/{self.path}"


# golden-layout.com's "files/latest" is the last 1.x build, 1.5.9 (2.x is
# another API and ships no such bundle); favico.js 0.3.10 is named in the URL.
CDN_FILES = (
    CdnFile("https://code.jquery.com/jquery-3.2.1.min.js", "jquery", "3.2.1", "dist/jquery.min.js"),
    CdnFile(
        "https://code.jquery.com/jquery-3.2.1.slim.min.js",
        "jquery",
        "3.2.1",
        "dist/jquery.slim.min.js",
    ),
    CdnFile(
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.11.0/umd/popper.min.js",
        "popper.js",
        "1.11.0",
        "dist/umd/popper.min.js",
    ),
    CdnFile(
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",
        "popper.js",
        "1.12.9",
        "dist/umd/popper.min.js",
    ),
    CdnFile(
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.0.0-beta/css/bootstrap.min.css",
        "bootstrap",
        "4.0.0-beta",
        "dist/css/bootstrap.min.css",
    ),
    CdnFile(
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.0.0-beta/js/bootstrap.min.js",
        "bootstrap",
        "4.0.0-beta",
        "dist/js/bootstrap.min.js",
    ),
    CdnFile(
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.0.0/js/bootstrap.min.js",
        "bootstrap",
        "4.0.0",
        "dist/js/bootstrap.min.js",
    ),
    CdnFile(
        "https://cdn.jsdelivr.net/npm/bootstrap@4.6.0/dist/css/bootstrap.min.css",
        "bootstrap",
        "4.6.0",
        "dist/css/bootstrap.min.css",
    ),
    CdnFile(
        "https://golden-layout.com/files/latest/js/goldenlayout.min.js",
        "golden-layout",
        "1.5.9",
        "dist/goldenlayout.min.js",
    ),
    CdnFile(
        "https://golden-layout.com/files/latest/css/goldenlayout-base.css",
        "golden-layout",
        "1.5.9",
        "src/css/goldenlayout-base.css",
    ),
    CdnFile(
        "https://golden-layout.com/files/latest/css/goldenlayout-dark-theme.css",
        "golden-layout",
        "1.5.9",
        "src/css/goldenlayout-dark-theme.css",
    ),
    CdnFile(
        "https://cdn.rawgit.com/ejci/favico.js/master/favico-0.3.10.min.js",
        "favico.js",
        "0.3.10",
        "favico-0.3.10.min.js",
    ),
)
TEMPLATES = ("website/base.html", "webclient/base.html")

# The font plugin offers Google Fonts, which are not the game's files; the
# game keeps the font Evennia ships (and the browser's own monospace).
FONT_PLUGIN = "webclient/js/plugins/font.js"
FONT_CSS = "webclient/fonts/DejaVuSansMono.css"
FONT_URLS_SCRIPT = (
    "    <!-- contrib_awsstorage demo: the font plugin's fonts, from the game's static files -->\n"
    '    <script type="text/javascript">\n'
    '      var webclient_font_urls = {"DejaVu Sans Mono": "{% static "'
    + FONT_CSS
    + '" %}", "Monospace": ""};\n'
    "    </script>\n"
)
_FONT_TABLE = re.compile(r"const font_urls = \{.*?\};", re.S)
_EXTERNAL_RESOURCE = re.compile(
    r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""", re.I
)
_LOCAL_STATIC = re.compile(r"""((?:src|href)\s*=\s*)(["']?)/static/([^"'\s>]+)\2""", re.I)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)


def evennia_web_dir() -> Path:
    spec = importlib.util.find_spec("evennia")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Evennia is not installed: pip install 'contrib-awsstorage[evennia]'")
    return Path(list(spec.submodule_search_locations)[0]) / "web"


# -- npm ------------------------------------------------------------------
def missing_packages() -> list[str]:
    """The pinned packages node_modules lacks (or has at another version)."""
    missing = []
    for alias, version in sorted({(f.alias, f.version) for f in CDN_FILES}):
        manifest = NODE_MODULES / alias / "package.json"
        try:
            found = json.loads(manifest.read_text()).get("version")
        except (OSError, ValueError):
            found = None
        if found != version:
            missing.append(f"{alias} (found {found or 'nothing'})")
    return missing


def ensure_node_modules(timeout: float = 300) -> None:
    """``npm ci`` in demo/vendor/ when node_modules is not the locked set."""
    if not missing_packages():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"{NODE_MODULES} lacks the webclient's libraries and npm is not installed: "
            f"install Node.js with npm, then {INSTALL_HINT}."
        )
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=VENDOR_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    still_missing = missing_packages()
    if result.returncode != 0 or still_missing:
        raise RuntimeError(
            f"npm ci in {VENDOR_DIR} failed ({result.returncode}); missing: {still_missing}\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )


# -- the game dir -----------------------------------------------------------
def install(game_dir: Path) -> list[str]:
    """Copy the libraries into the game's static files and write the
    template and font-plugin overrides. Returns the static names copied."""
    ensure_node_modules()
    static_dir = game_dir / "web" / "static"
    names = []
    for cdn_file in CDN_FILES:
        target = static_dir / cdn_file.static_name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(NODE_MODULES / cdn_file.alias / cdn_file.path, target)
        names.append(cdn_file.static_name)
    web = evennia_web_dir()
    for name in TEMPLATES:
        target = game_dir / "web" / "templates" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(local_template(name, (web / "templates" / name).read_text()))
    for name, text in (
        (FONT_PLUGIN, local_font_plugin((web / "static" / FONT_PLUGIN).read_text())),
        (FONT_CSS, local_font_css((web / "static" / FONT_CSS).read_text())),
    ):
        target = static_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return names


def local_template(name: str, text: str) -> str:
    """Evennia's template ``name`` with every CDN link made a ``{% static %}`` one."""
    for cdn_file in CDN_FILES:
        text = text.replace(cdn_file.url, '{% static "' + cdn_file.static_name + '" %}')
    # a hard-coded /static/ path would point at the game, not the bucket
    text = _LOCAL_STATIC.sub(lambda m: f'{m.group(1)}"{{% static "{m.group(3)}" %}}"', text)
    if "{% load static" not in text:
        raise RuntimeError(
            f"Evennia's {name} does not load the static tag; the demo cannot override it"
        )
    if name == "webclient/base.html":
        marker = "{% block guilib_import %}"
        if marker not in text:
            raise RuntimeError(
                f"Evennia's {name} has no {marker}; the demo cannot add its font table"
            )
        text = text.replace(marker, FONT_URLS_SCRIPT + "    " + marker, 1)
    left = _EXTERNAL_RESOURCE.findall(_HTML_COMMENT.sub("", text))
    if left:
        raise RuntimeError(
            f"Evennia's {name} links {', '.join(left)}, which demo/webclient_vendor.py has no "
            "npm copy of: add the package to demo/vendor/package.json and the file to CDN_FILES."
        )
    return (
        "{% comment %}contrib_awsstorage demo: Evennia's " + name + " with its CDN libraries "
        "served from the game's static files (demo/webclient_vendor.py){% endcomment %}" + text
    )


def local_font_plugin(text: str) -> str:
    """Evennia's font plugin, taking its font table from the page."""
    new, count = _FONT_TABLE.subn(
        "const font_urls = window.webclient_font_urls || {'Monospace': ''};", text
    )
    if count != 1:
        raise RuntimeError(
            f"Evennia's {FONT_PLUGIN} has no `const font_urls = {{...}};` table to replace"
        )
    return (
        "// contrib_awsstorage demo: fonts from the game's static files (demo/webclient_vendor.py)\n"
        + new
    )


def local_font_css(text: str) -> str:
    """The DejaVu font face, its file named relative to the stylesheet (so
    it loads from wherever the static files are, not the game's /static/)."""
    new = text.replace("url('/static/webclient/fonts/", "url('")
    if new == text:
        raise RuntimeError(
            f"Evennia's {FONT_CSS} no longer names url('/static/webclient/fonts/...')"
        )
    return new
