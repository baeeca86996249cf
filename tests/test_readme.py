"""The README is right: its first commands, its JSON, its settings table."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_starts_with_exactly_the_two_commands():
    first_block = re.match(r"```sh\n(.*?)```", README, re.S)
    assert first_block, "README must open with a sh code block"
    assert first_block.group(1).split("\n")[:-1] == ["make demo", "make test"]


def test_every_json_block_is_valid_json():
    blocks = re.findall(r"```json\n(.*?)```", README, re.S)
    assert len(blocks) >= 2  # the IAM policy and the public-read bucket policy
    for block in blocks:
        doc = json.loads(block)
        if isinstance(doc, list):  # the CORS configuration, checked below
            continue
        assert doc["Version"] == "2012-10-17"
        for statement in doc["Statement"]:
            assert statement["Effect"] == "Allow"
            assert statement["Action"] and statement["Resource"]


def test_cors_rule_is_the_one_the_embedded_bucket_gets():
    """The README's CORS advice and what the demo and the browser test use
    are one rule (embedded_s3.browser_cors_rules)."""
    from contrib_awsstorage.embedded_s3 import browser_cors_rules

    (cors,) = [
        json.loads(b)
        for b in re.findall(r"```json\n(.*?)```", README, re.S)
        if isinstance(json.loads(b), list)
    ]
    assert cors == browser_cors_rules(cors[0]["AllowedOrigins"])
    assert cors[0]["AllowedMethods"] == ["GET", "HEAD"]


def test_iam_policy_covers_what_the_storage_and_sync_do():
    policy = json.loads(re.findall(r"```json\n(.*?)```", README, re.S)[0])
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


def test_settings_table_matches_the_options_table():
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from update_readme import render

    assert render(README) == README, "run: python tools/update_readme.py"
    from contrib_awsstorage.s3.conf import OPTIONS

    for opt in OPTIONS.values():
        for name in opt.settings:
            assert f"`{name}`" in README, name


def test_documented_classes_exist():
    """Every dotted path the README tells users to put in settings exists
    (read from the source: some modules need Evennia's settings to import)."""
    import ast

    paths = set(re.findall(r'"(contrib_awsstorage\.[\w.]+)"', README))
    paths |= set(
        re.findall(r"from (contrib_awsstorage\.\w+) import (\w+)", README)
        and [
            f"{m}.{n}"
            for m, n in re.findall(r"from (contrib_awsstorage\.\w+) import (\w+)", README)
        ]
    )
    assert len(paths) >= 5, paths
    for dotted in paths:
        module, _, attr = dotted.rpartition(".")
        tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
        names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
        assert attr in names, dotted
