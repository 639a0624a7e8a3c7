"""The one exemption from webhook target safety (SPEC §7): `reliatic selftest`'s receiver.

`selftest` proves the running service signs and delivers a webhook, to a receiver it starts
on loopback, on an appliance whose policy (rightly) refuses loopback targets and plain
http. Loosening `[webhooks]` for that would loosen it for every tenant. Instead the selftest
leaves a *grant* in the data dir for the one subscription it made, and the scheduler honours
it for that subscription only:

* only who can write the data dir can make one (the selftest runs as root or the service
  user): the API never writes files, and whoever can write there already holds the master
  key and every database, so a grant gives nobody anything new;
* it names one subscription id and its exact URL, an `https://` loopback address, and ends
  after a few minutes; a subscription whose URL changed no longer matches;
* the delivery goes out over TLS verified against the selftest's throwaway certificate
  only, whose key exists only in the selftest's private temp dir while it runs: so nothing
  else listening on loopback (a database, an admin port) can be reached through a grant,
  even on the granted port;
* every other delivery, and this one's address checks at connect time, are unchanged.

The grant file is `<data dir>/selftest/<webhook id>.json`, mode 0600; selftest removes it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from reliatic_appliance.domain.target_policy import TargetPolicy
from reliatic_appliance.timefmt import format_ts

GRANT_DIR = "selftest"
# What a grant allows on top of nothing: a loopback address, over https only.
GRANT_POLICY = TargetPolicy(allow_http=False, allow_private=False, allow_loopback=True)
_WEBHOOK_ID = re.compile(r"^whk_[0-9A-Z]{26}$")


@dataclass(frozen=True)
class TargetGrant:
    webhook_id: str
    url: str
    ca_pem: str
    expires_at: str


def is_loopback_https(url: str) -> bool:
    """An `https://` URL whose host is a literal loopback address (what a grant may name).

    Asked for every delivery, so the common answer (no) costs one string comparison.
    """
    if not url.startswith(("https://127.", "https://[::1]")):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        return parts.scheme == "https" and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _path(data_dir: Path, webhook_id: str) -> Path:
    if not _WEBHOOK_ID.match(webhook_id):  # it becomes a file name
        raise ValueError(f"not a webhook id: {webhook_id!r}")
    return data_dir / GRANT_DIR / f"{webhook_id}.json"


def write_grant(data_dir: Path, grant: TargetGrant) -> Path:
    if not is_loopback_https(grant.url):
        raise ValueError("a target grant names an https:// loopback URL only")
    path = _path(data_dir, grant.webhook_id)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(grant), handle)
    return path


def remove_grant(data_dir: Path, webhook_id: str) -> None:
    _path(data_dir, webhook_id).unlink(missing_ok=True)


def find_grant(data_dir: Path, webhook_id: str, url: str, *, now: datetime) -> TargetGrant | None:
    """The grant for this subscription and exactly this URL, if one exists and runs."""
    if not is_loopback_https(url):
        return None
    try:
        raw = json.loads(_path(data_dir, webhook_id).read_text(encoding="utf-8"))
        grant = TargetGrant(**raw)
    except (OSError, ValueError, TypeError):
        return None
    if grant.webhook_id != webhook_id or grant.url != url or grant.expires_at <= format_ts(now):
        return None
    return grant
