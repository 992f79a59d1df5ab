"""argon2id password hashes: salted, verified, refused when wrong or malformed."""

from __future__ import annotations

from gridmap.access.passwords import hash_password, needs_rehash, verify_password


def test_hash_is_salted_argon2id_and_verifies() -> None:
    first, second = hash_password("正确的密码-1"), hash_password("正确的密码-1")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "正确的密码-1") and verify_password(second, "正确的密码-1")
    assert not needs_rehash(first)


def test_wrong_missing_or_malformed_hash_is_refused() -> None:
    stored = hash_password("secret-pass")
    assert not verify_password(stored, "secret-pasS")
    assert not verify_password(None, "secret-pass")
    assert not verify_password("plain-text-not-a-hash", "plain-text-not-a-hash")
