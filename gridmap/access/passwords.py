"""Password hashing with argon2id (argon2-cffi's ``PasswordHasher``).

Why argon2-cffi over werkzeug's scrypt: argon2id is the first choice of the OWASP password
storage guidance and the winner of the Password Hashing Competition; the library encodes
its parameters and salt in the hash and says when a hash made with older parameters
should be replaced (:func:`needs_rehash`), so the cost can be raised later without a
migration.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()

#: Shortest password accepted for an account.
MIN_LENGTH = 8


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; parameters encoded in the string)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False for no hash or a malformed one)."""
    if not password_hash:
        _HASHER.hash(password)  # same time spent: an unknown account looks like a bad password
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with parameters older than the current ones."""
    return _HASHER.check_needs_rehash(password_hash)
