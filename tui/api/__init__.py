"""The async API client: typed results, one error taxonomy, no Textual."""

import sys

# When click is installed (uvicorn brings it), `import httpx` also loads its command-line client (click, pygments,
# rich.progress): about 15 ms of start-up for a feature we never use. A None entry makes that optional import fail
# at once, and httpx falls back to its documented stub. It changes nothing if httpx was imported earlier.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
