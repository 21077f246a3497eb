"""Privacy: pseudonymise identifiers, honour consent, erase a person everywhere.

- `pseudonymise`: emails and phones normalised and keyed-hashed (HMAC with the secret).
- `consent`: who refused a purpose, read from the CRM record.
- `erasure`: a person removed from every table, their later rows suppressed at the door.
"""

from omnimetrics.privacy.consent import consenting_persons, refusing_persons
from omnimetrics.privacy.erasure import KEEP, PAIRED, ErasureReport, erase
from omnimetrics.privacy.pseudonymise import Pseudonymiser

__all__ = [
    "KEEP",
    "PAIRED",
    "ErasureReport",
    "Pseudonymiser",
    "consenting_persons",
    "erase",
    "refusing_persons",
]
