"""Who and where a request is for, read from its SigV4 Authorization header.

No signature is verified: the emulator trusts its callers. The credential scope gives the
region; a 12-digit access key id is taken as the account (a common local convention), and so
is the account inside a task's temporary key (``ASIA`` + 12 digits + 4 characters, as the task
credentials endpoint hands them out), so the AWS SDK in a task calls as the task's account.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_TASK_KEY = re.compile(r"^ASIA(\d{12})[0-9A-Z]{4}$")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


class Caller(NamedTuple):
    access_key_id: str | None
    region: str | None
    service: str | None


def read_caller(authorization: str | None) -> Caller:
    if not authorization:
        return Caller(None, None, None)
    match = _CREDENTIAL.search(authorization)
    if match is None:
        return Caller(None, None, None)
    return Caller(match.group(1), match.group(2), match.group(3))


def account_for(access_key_id: str | None, default_account: str) -> str:
    if access_key_id and len(access_key_id) == 12 and access_key_id.isdigit():
        return access_key_id
    task_key = _TASK_KEY.match(access_key_id or "")
    if task_key is not None:
        return task_key.group(1)
    return default_account
