"""`reliatic serve` with group commit turned off: the naive baseline for acknowledged writes.

The very same server, except that the writer thread commits each job on its own
(`MAX_GROUP = 1`): one `BEGIN IMMEDIATE … COMMIT`, so one fsync with `synchronous=FULL`,
per request. The benchmark measures POST against this and against the real server in the
same run; the ratio is what group commit buys (issue 7 asks for at least 3x).

Run: `python bench/naive_server.py --data-dir DIR serve --port P` (the `reliatic` arguments).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliatic_appliance.cli.main import main
from reliatic_appliance.storage import sqlite

if __name__ == "__main__":
    sqlite.MAX_GROUP = 1
    sys.exit(main())
