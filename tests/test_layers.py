"""The layering rules hold: each folder imports only what it may.

- ``s3/`` (and ``aws_s3_cdn``) imports neither Twisted nor Evennia;
- ``web/`` (and ``webserver``) imports neither boto3 nor Evennia;
- ``sync/`` and ``diagnostics/`` import neither Twisted nor Evennia;
- the app, its checks and its commands work in a plain Django project;
- only the Evennia entry points (``services``, ``awsstatus``) import Evennia;
- no module of the package takes part in an import cycle.
Each import case runs in a fresh interpreter with the forbidden packages blocked.
"""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "contrib_awsstorage"
EVENNIA_ENTRY_POINTS = {"contrib_awsstorage.services", "contrib_awsstorage.awsstatus"}

PRELUDE = """
import sys
BLOCKED = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked for this test: " + name)
        return None
sys.meta_path.insert(0, Block())
"""


def run_blocked(blocked, body: str) -> subprocess.CompletedProcess:
    code = (
        PRELUDE.format(blocked=tuple(blocked))
        + textwrap.dedent(body)
        + textwrap.dedent("""
        bad = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
        assert not bad, bad
        print("OK")
    """)
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_web_layer_imports_and_builds_without_boto3():
    result = run_blocked(
        ("boto3", "botocore", "s3transfer"),
        """
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True, UPSTREAM_IPS=["127.0.0.1", "10.0.0.0/8"])
        django.setup()
        from contrib_awsstorage import webserver
        from contrib_awsstorage.web import forwarded
        from contrib_awsstorage.web import static_redirect
        from contrib_awsstorage.web import staticroot
        pool = webserver.LockableThreadPool(minthreads=1, maxthreads=2)
        root = webserver.DjangoWebRoot(pool)
        site = webserver.Website(root)
        assert root.status()["pending"] == 0
        static_redirect.static_resource("/tmp", "https://cdn.example.com/static/")
        webserver.PrivateStaticRoot("/tmp")
    """,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


@pytest.mark.parametrize("command", ["s3_check", "s3_migrate_static", "collectstatic"])
def test_app_checks_and_commands_load_without_evennia_or_twisted(command):
    result = run_blocked(
        ("evennia", "twisted"),
        f"""
        import django
        from django.conf import settings
        settings.configure(
            USE_TZ=True, SECRET_KEY="x", STATIC_URL="/static/",
            INSTALLED_APPS=["contrib_awsstorage", "django.contrib.staticfiles"],
            STORAGES={{"default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
                      "staticfiles": {{"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage",
                                       "OPTIONS": {{"bucket_name": "layer-test", "region_name": "eu-west-1"}}}}}},
        )
        django.setup()
        from django.core import checks
        from django.core.management import load_command_class
        checks.run_checks()
        cmd = load_command_class("contrib_awsstorage", {command!r})
        cmd.create_parser("manage.py", {command!r})
        from contrib_awsstorage import diagnostics, sync
        from contrib_awsstorage.sync import collect as sync_collect
        from contrib_awsstorage.sync import record as syncrecord
    """,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


def _modules_of(folder: str) -> list[str]:
    return sorted(
        "contrib_awsstorage."
        + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for p in (PACKAGE / folder).rglob("*.py")
    )


RULES = {
    # folder: (blocked top-level packages, extra modules that follow the same rule)
    "s3": (
        ("evennia", "twisted"),
        ["contrib_awsstorage.aws_s3_cdn", "contrib_awsstorage.media_types"],
    ),
    "web": (("evennia", "boto3", "botocore", "s3transfer"), ["contrib_awsstorage.webserver"]),
    "sync": (("evennia", "twisted"), []),
    "provision": (("evennia", "twisted"), []),
    "diagnostics": (
        ("evennia", "twisted"),
        ["contrib_awsstorage.checks", "contrib_awsstorage.humanize"],
    ),
}


@pytest.mark.parametrize("folder", sorted(RULES))
def test_every_module_of_a_folder_keeps_its_rule(folder):
    blocked, extra = RULES[folder]
    modules = _modules_of(folder) + extra
    result = run_blocked(
        blocked,
        f"""
        import importlib
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True)
        django.setup()
        for name in {modules!r}:
            importlib.import_module(name)
    """,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


def _imports(path: Path, module: str) -> set[str]:
    """Package modules that ``module`` imports, at module level or inside functions
    (a cycle through a deferred import is still a cycle)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            if n.level:
                base = package.split(".")
                base = base[: len(base) - (n.level - 1)]
                target = ".".join(base + ([n.module] if n.module else []))
            else:
                target = n.module or ""
            if target.startswith("contrib_awsstorage"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in n.names)
        elif isinstance(n, ast.Import):
            found.update(a.name for a in n.names if a.name.startswith("contrib_awsstorage"))
    return found


def test_no_import_cycle_in_the_package():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = "contrib_awsstorage." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {m: {i for i in _imports(p, m) if i in modules and i != m} for m, p in modules.items()}
    # A package's __init__ re-exporting its own modules is not a cycle of theirs.
    for m in graph:
        graph[m] = {
            i for i in graph[m] if not (m.startswith(i + ".") and modules[i].name == "__init__.py")
        }
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_only_the_evennia_entry_points_import_evennia():
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if "import evennia" in text or "from evennia" in text:
            importers.add(
                "contrib_awsstorage." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
            )
    assert importers <= EVENNIA_ENTRY_POINTS, importers - EVENNIA_ENTRY_POINTS
