"""Fill the bytecode caches before the xdist workers (and the console processes the tests start) read them.

pytest rewrites the asserts of each test module and conftest it imports (parse, rewrite, compile) and keeps the
result in `__pycache__/*-pytest-*.pyc` beside the module, unless `sys.dont_write_bytecode` is set
(`PYTHONDONTWRITEBYTECODE`): then every worker rewrites every module again, on every run, about 3 s of CPU per
worker for this suite. The controller collects nothing; here it rewrites the modules its workers will import, in
the order they collect them, in a thread that runs while they start, and writes the cache (atomically, as pytest
does: a worker reading it meanwhile sees a whole file or none, and rewrites the module itself if none). A run
after it only checks that the cache is still fresh.

The console's own package (`tui`) is compiled after them (the workers have imported it by then), the way Python
caches any module it imports (`__pycache__/*.pyc`, also skipped under `PYTHONDONTWRITEBYTECODE`): each
`platos-tui` or `python -m tui` process a test starts, and every worker of the next run, then loads it instead of
compiling its 130 modules (a quarter of a second per process).

This uses pytest's own rewriting functions (`_pytest.assertion.rewrite`): if they are not there, nothing is cached
and every worker rewrites as before.
"""

from __future__ import annotations

import compileall
import fnmatch
import threading
from pathlib import Path

import pytest

import tui

_thread: threading.Thread | None = None


def _modules(config: pytest.Config) -> list[Path]:
    """The test modules and conftests under the run's arguments, in the order a worker collects them."""
    patterns = [*config.getini("python_files"), "conftest.py"]
    found: list[Path] = []
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        found += [f for f in files if any(fnmatch.fnmatch(f.name, p) for p in patterns) and f not in found]
    return found


def _cache(config: pytest.Config, modules: list[Path]) -> None:
    from _pytest.assertion.rewrite import (
        PYC_TAIL,
        _read_pyc,
        _rewrite_test,
        _write_pyc,
        assertstate_key,
        get_cache_dir,
        try_makedirs,
    )

    state = config.stash[assertstate_key]
    for module in modules:
        cache_dir = get_cache_dir(module)
        pyc = cache_dir / (module.name[:-3] + PYC_TAIL)
        if _read_pyc(module, pyc) is not None or not try_makedirs(cache_dir):
            continue
        stat, code = _rewrite_test(module, config)
        _write_pyc(state, code, stat, pyc)
    compileall.compile_dir(Path(tui.__file__).parent, quiet=2)


def start(config: pytest.Config) -> None:
    """In an xdist controller that rewrites asserts: start caching the rewritten modules."""
    global _thread
    if not config.pluginmanager.hasplugin("dsession") or config.getoption("assertmode") != "rewrite":
        return
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return
    needed = ("PYC_TAIL", "_read_pyc", "_rewrite_test", "_write_pyc", "assertstate_key", "get_cache_dir")
    if not all(hasattr(rewrite, name) for name in (*needed, "try_makedirs")):
        return
    _thread = threading.Thread(target=_cache, args=(config, _modules(config)), name="bytecode-cache", daemon=True)
    _thread.start()


def finish() -> None:
    """Wait for the cache to be written (a short run may end first)."""
    if _thread is not None:
        _thread.join()
