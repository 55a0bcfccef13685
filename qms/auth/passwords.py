"""Password hashing (argon2id) and the password policy."""
from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _

from qms.errors import InvalidInput

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile


def _current_hasher() -> PasswordHasher:
    """The production hasher, or a cheaper argon2id one when the app is configured for tests."""
    from flask import current_app, has_app_context

    if has_app_context() and current_app.config.get("PASSWORD_HASH_FAST_FOR_TESTS"):
        return _FAST_TEST_HASHER
    return _hasher


# Still argon2id, with a small cost: only for test suites that create hundreds of accounts.
_FAST_TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
MIN_LENGTH = 12


class PasswordPolicyError(InvalidInput):
    """A password the policy refuses; the message says why."""


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("qms.auth").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def check_policy(password: str, *, username: str = "", min_length: int = MIN_LENGTH) -> None:
    if len(password) < min_length:
        raise PasswordPolicyError(_("The password must have at least %(count)d characters.", count=min_length))
    if password.lower() in common_passwords() or password.lower().rstrip("0123456789!") in common_passwords():
        raise PasswordPolicyError(_("This password is in a list of common passwords; choose another."))
    if username and username.lower() in password.lower():
        raise PasswordPolicyError(_("The password must not contain the user name."))


def hash_password(password: str) -> str:
    return _current_hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _current_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verified against when the user name is unknown, so timing does not reveal which names exist.
DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")
