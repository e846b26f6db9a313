"""A plugin command for tests: records each run in DIR/runs, fails while DIR/fail exists, waits while DIR/hold does."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(directory: str, note: str) -> int:
    root = Path(directory)
    with (root / "runs").open("a") as runs:
        runs.write(f"{note}\n")
    deadline = time.monotonic() + 10
    while (root / "hold").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    print(f"probe ran with {note}")
    return 3 if (root / "fail").exists() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
