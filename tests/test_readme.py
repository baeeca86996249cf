"""The README and the docs are right: their commands, JSON, settings and links."""

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "contrib_awsstorage"
README = (ROOT / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))}
#: the project files a maintained package keeps beside the README
HOUSE_FILES = ("CONTRIBUTING.md", "LICENSE", "NOTICE", "CHANGELOG.md", "SECURITY.md")
#: AWS variables the README names that boto3 reads itself, not this package
BOTO3_NAMES = {"AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"}


def _json_blocks(text):
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]


def _package_source() -> str:
    return "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))


def test_readme_is_a_short_users_guide():
    size = len(README.encode())
    assert size < 15 * 1024, f"README.md is {size} bytes; keep it under 15 KB (internals: docs/)"
    for section in ("## Install", "## Commands", "## Settings", "## Migrating"):
        assert section in README, section


def test_the_two_commands_come_first():
    """The title, then exactly the two commands for a fresh machine, in the first 40 lines."""
    assert README.startswith("# contrib_awsstorage\n")
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block, "README must show a sh code block with the two commands"
    assert first_block.group(1).split("\n")[:-1] == ["make demo", "make test"]
    head = "\n".join(README.splitlines()[:40])
    assert first_block.group(0) in head
    for target in ("demo", "test"):
        assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.M), target


def test_docs_and_house_files_exist():
    for name in ("layers.md", "web.md", "sync.md", "settings.md"):
        assert name in DOCS, f"docs/{name}"
    for name in HOUSE_FILES:
        assert (ROOT / name).stat().st_size > 0, name
    assert "BSD 3-Clause" in (ROOT / "LICENSE").read_text()
    assert "license = BSD-3-Clause" in (ROOT / "setup.cfg").read_text()
    notice = (ROOT / "NOTICE").read_text()
    assert "Evennia" in notice and "django-storages" in notice
    assert re.search(r"^## \[Unreleased\]", (ROOT / "CHANGELOG.md").read_text(), re.M)


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", text, flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_relative_links_point_at_files_and_headings_that_exist():
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "SECURITY.md"]
    pages += sorted((ROOT / "docs").glob("*.md"))
    for page in pages:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", page.read_text()):
            if "://" in target:
                continue
            path = (page.parent / target) if target else page
            assert path.exists(), f"{page.name} links to missing {target}"
            if anchor:
                assert anchor in _anchors(path.read_text()), f"{page.name}: {target}#{anchor}"


def test_every_json_block_is_valid_json():
    blocks = _json_blocks(README)
    assert len(blocks) >= 3  # the IAM policy, the public-read bucket policy, the CORS rule
    for text in [README, *DOCS.values()]:
        for doc in _json_blocks(text):
            if isinstance(doc, list):  # a CORS configuration
                continue
            assert doc["Version"] == "2012-10-17"
            for statement in doc["Statement"]:
                assert statement["Effect"] == "Allow"
                assert statement["Action"] and statement["Resource"]


def test_cors_rule_is_the_one_the_embedded_bucket_gets():
    """The README's CORS advice and what the demo and the browser test use
    are one rule (embedded_s3.browser_cors_rules)."""
    from contrib_awsstorage.embedded_s3 import browser_cors_rules

    (cors,) = [doc for doc in _json_blocks(README) if isinstance(doc, list)]
    assert cors == browser_cors_rules(cors[0]["AllowedOrigins"])
    assert cors[0]["AllowedMethods"] == ["GET", "HEAD"]


def test_iam_policy_covers_what_the_storage_and_sync_do():
    policy = _json_blocks(README)[0]
    actions = {
        a
        for s in policy["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    for needed in (
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucketMultipartUploads",
    ):
        assert needed in actions, needed
    assert "s3:*" not in actions


def test_every_setting_the_readme_names_exists():
    """A storage setting is in s3/conf.py's options table; any other setting
    the README names (sync, web) is read somewhere in the package."""
    from contrib_awsstorage.s3.conf import OPTIONS

    known = {name for opt in OPTIONS.values() for name in (*opt.settings, *opt.env)}
    source = _package_source()
    named = set(re.findall(r"`((?:AWS|AWSSTORAGE)_[A-Z0-9_]+|UPSTREAM_IPS)`", README))
    assert len(named) >= 20, named
    for name in sorted(named - BOTO3_NAMES):
        found = name in known or f'"{name}"' in source
        assert found, f"README names {name}, which no option and no module reads"


def test_readme_settings_table_defaults_match_the_options_table():
    """Each row of the README's compact table whose setting is a storage
    option shows that option's default first."""
    from contrib_awsstorage.s3.conf import OPTIONS

    by_setting = {name: opt for opt in OPTIONS.values() for name in opt.settings}
    section = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z0-9_]+)`[^|]*\| `([^`]*)`", section, re.M)
    checked = 0
    for name, shown in rows:
        if name in by_setting:
            assert shown == repr(by_setting[name].default), (name, shown)
            checked += 1
    assert checked >= 8, rows


def test_settings_reference_matches_the_options_table():
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from update_readme import render

    text = DOCS["settings.md"]
    assert render(text) == text, "run: python tools/update_readme.py"
    from contrib_awsstorage.s3.conf import OPTIONS

    for opt in OPTIONS.values():
        for name in opt.settings:
            assert f"`{name}`" in text, name


def test_documented_classes_exist():
    """Every dotted path the README tells users to put in settings exists
    (read from the source: some modules need Evennia's settings to import)."""
    paths = set(re.findall(r'"(contrib_awsstorage\.[\w.]+)"', README))
    paths |= {
        f"{m}.{n}" for m, n in re.findall(r"from (contrib_awsstorage\.\w+) import (\w+)", README)
    }
    assert len(paths) >= 5, paths
    for dotted in paths:
        module, _, attr = dotted.rpartition(".")
        tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
        names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
        assert attr in names, dotted


def test_the_bucket_is_set_up_with_s3_setup():
    """The README's bucket section is built around s3_setup, whose options it names;
    the JSON blocks stay only as the reference of what it does."""
    from django.core.management import load_command_class

    section = README.split("## Set up the bucket", 1)[1].split("\n## ", 1)[0]
    parser = load_command_class("contrib_awsstorage", "s3_setup").create_parser(
        "evennia", "s3_setup"
    )
    known = set(re.findall(r"(--[a-z][a-z-]+)", parser.format_help()))
    named = set(re.findall(r"(--[a-z][a-z-]+)", section))
    assert {"--apply", "--profile", "--cloudfront", "--json", "--origin"} <= named
    assert named <= known, named - known
    assert section.index("evennia s3_setup") < section.index("```json")
    assert "stock_collectstatic" not in README


def test_commands_the_readme_lists_exist():
    commands = PACKAGE / "management" / "commands"
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    names = re.findall(r"^\| `(\w+)`", section, re.M)
    assert names == ["collectstatic", "s3_setup", "s3_migrate_static", "s3_check"], names
    for name in names:
        assert (commands / f"{name}.py").exists(), name
    assert "| `@awsstatus` |" in section
    tree = ast.parse((PACKAGE / "awsstatus.py").read_text())
    keys = {
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["key"]
        and isinstance(node.value, ast.Constant)
    }
    assert "@awsstatus" in keys, keys
    for switch in ("refresh", "check", "write"):
        assert f"/{switch}" in section, switch
