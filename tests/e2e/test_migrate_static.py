"""End-to-end: ``evennia s3_migrate_static`` in a game set up as the README says.

Such a game's ``collectstatic`` goes straight to S3, so ``STATIC_ROOT`` is
never written: the command syncs what ``collectstatic`` would collect (the
staticfiles finders) instead of failing on the missing folder.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.evennia]


def test_dry_run_without_a_static_root_lists_the_finders_files(game):
    assert not (game.game_dir / "server" / ".static").exists()
    # "-v" is the launcher's --version: the verbosity goes in full
    result = game.evennia(
        "s3_migrate_static", "--dry-run", "--force", "--verbosity", "2", check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "Source: the staticfiles finders" in out
    listed = {line.removeprefix("would upload ") for line in out.splitlines()}
    assert "webclient/js/evennia.js" in listed, out[-2000:]
    assert "Dry run, would have uploaded" in out and "failed 0" in out
