"""The access test's world of two units (fixture `world`), which the pseudo-locale walk reads too."""
from tests.qms.test_access import world  # noqa: F401 - a fixture, found by pytest through this conftest
