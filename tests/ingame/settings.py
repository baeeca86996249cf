"""Evennia's own default settings plus this contrib, for the in-game tests.

Run by ``make test`` as a second pytest pass (``--ds=tests.ingame.settings``)
because Evennia's command test helpers need Evennia's apps and database.
"""

from evennia.settings_default import *  # noqa: F401,F403

INSTALLED_APPS = ["contrib_awsstorage"] + list(INSTALLED_APPS)  # noqa: F405
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
SECRET_KEY = "ingame-tests-only"
TEST_ENVIRONMENT = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# No game directory here: use Evennia's stock typeclasses and cmdsets, as
# Evennia's own test suite does (evennia.utils.test_resources).
_TEMPLATE = "evennia.game_template"
CMDSET_UNLOGGEDIN = f"{_TEMPLATE}.commands.default_cmdsets.UnloggedinCmdSet"
CMDSET_SESSION = f"{_TEMPLATE}.commands.default_cmdsets.SessionCmdSet"
CMDSET_CHARACTER = f"{_TEMPLATE}.commands.default_cmdsets.CharacterCmdSet"
CMDSET_ACCOUNT = f"{_TEMPLATE}.commands.default_cmdsets.AccountCmdSet"
CMDSET_PATHS = [f"{_TEMPLATE}.commands", "evennia", "evennia.contrib"]
BASE_ACCOUNT_TYPECLASS = "evennia.accounts.accounts.DefaultAccount"
BASE_OBJECT_TYPECLASS = "evennia.objects.objects.DefaultObject"
BASE_CHARACTER_TYPECLASS = "evennia.objects.objects.DefaultCharacter"
BASE_ROOM_TYPECLASS = "evennia.objects.objects.DefaultRoom"
BASE_EXIT_TYPECLASS = "evennia.objects.objects.DefaultExit"
BASE_CHANNEL_TYPECLASS = "evennia.comms.comms.DefaultChannel"
BASE_SCRIPT_TYPECLASS = "evennia.scripts.scripts.DefaultScript"
BASE_GUEST_TYPECLASS = "evennia.accounts.accounts.DefaultGuest"
DEFAULT_HOME = "#1"
