"""In-game tests run with Evennia's settings: initialise Evennia once."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def evennia_initialised(django_db_setup, django_db_blocker):
    import evennia

    with django_db_blocker.unblock():
        evennia._init()
    yield
