"""Pseudonymisation: normalisation rules and the HMAC, checked against Python's hmac module."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from omnimetrics.config import Settings
from omnimetrics.ingest.door import Door
from tests.helpers import SECRET


@pytest.fixture(scope="module")
def door():
    gate = Door(Settings(secret=SECRET))
    yield gate
    gate.close()


def expected(text: str) -> str:
    return hmac.new(SECRET, text.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "raw", [" Jane.Doe@Example.COM", "jane.doe@example.com", "JANE.DOE@EXAMPLE.COM  "]
)
def test_emails_are_trimmed_lowercased_then_hmac(door, raw):
    assert door.hash_values("email", [raw]) == [expected("jane.doe@example.com")]


@pytest.mark.parametrize(
    "raw",
    ["06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "06.12.34.56.78", "(06) 12-34-56-78"],
)
def test_phones_normalise_to_e164_with_the_default_country(door, raw):
    assert door.hash_values("phone", [raw]) == [expected("+33612345678")]


def test_other_country_codes_and_invalid_values(door):
    uk = Door(Settings(secret=SECRET, phone_country_code="44"))
    assert uk.hash_values("phone", ["07911 123456"]) == [expected("+447911123456")]
    uk.close()
    assert door.hash_values("email", ["jane.doe@", "no-at-sign", "", None]) == [None] * 4
    assert door.hash_values("phone", ["12", "+0612345678", None]) == [None] * 3


def test_long_keys_follow_rfc_2104(door):
    key = b"k" * 100
    long_door = Door(Settings(secret=key))
    digest = hmac.new(key, b"a@b.co", hashlib.sha256).hexdigest()
    assert long_door.hash_values("email", ["a@b.co"]) == [digest]
    long_door.close()


def test_free_text_is_masked(door):
    text = "Call me on +33 6 12 34 56 78 or 06 12 34 56 78, mail jane_d@shop.fr. Order 12345."
    assert door.mask_text(text) == "Call me on [phone] or [phone], mail [email]. Order 12345."


def test_activation_hashes_are_plain_sha256_of_the_normalised_value():
    on = Door(Settings(secret=SECRET, activation_hashes=True))
    plain = hashlib.sha256
    assert on.activation_values("email", [" Jane.Doe@Example.COM", "bad@"]) == [
        plain(b"jane.doe@example.com").hexdigest(),
        None,
    ]
    assert on.activation_values("phone", ["06 12 34 56 78"]) == [plain(b"+33612345678").hexdigest()]
    assert on.activation_values("phone", ["06 12 34 56 78"], digits=True) == [
        plain(b"33612345678").hexdigest()
    ]
    on.close()


def test_activation_columns_only_with_the_flag():
    import pyarrow as pa

    from omnimetrics.schema import table_contract

    batch = pa.record_batch(
        {"customer_id": ["C1"], "email": ["a@b.co"], "phone": ["+447911123456"]}
    )
    names = {}
    for flag in (False, True):
        gate = Door(Settings(secret=SECRET, activation_hashes=flag))
        (chunk,) = gate.apply(table_contract("customers"), batch.schema, [batch])
        out = chunk.to_arrow_table()
        names[flag] = {n for n in out.column_names if n.startswith("_activation_")}
        row = out.to_pylist()[0]
        gate.close()
    assert names[False] == set()
    assert names[True] == {"_activation__email_hash", "_activation_digits__email_hash",
                           "_activation__phone_hash", "_activation_digits__phone_hash"}  # fmt: skip
    assert row["_activation__email_hash"] == hashlib.sha256(b"a@b.co").hexdigest()
    assert row["_activation_digits__email_hash"] is None
    assert row["_activation_digits__phone_hash"] == hashlib.sha256(b"447911123456").hexdigest()
    assert "a@b.co" not in str(row) and "447911123456" not in str(row)
