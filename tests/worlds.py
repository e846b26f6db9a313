"""Each process builds a frozen scenario world once and hands every later test a fresh copy of it.

A scenario's world (`tui.sim.scenarios.build`: 24 h of history, a 30 min warm-up) takes 50-100 ms to build, and
the app tests build the same few (the same scenario, seed and start, the clock frozen) hundreds of times. A copy
unpickled from the first build takes about 20 ms and is the same world: the same runs, samples, ids and random
state, so it goes on exactly as a fresh build would.

Only worlds whose clock is frozen at a given start are copied (a running clock is anchored to when it was built).
The functions a world holds (its tasks' plans and payloads) are shared with the copy, not pickled: they are
module-level code without state, and a world holding a closure is built afresh each time instead.
`tests/sim/test_engine.py` builds its worlds with `build` itself, so the build stays under test.
"""

from __future__ import annotations

import gc
import io
import pickle
import types
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tui.sim.engine import Engine

Key = tuple[str, int, datetime, int | None, int | None]


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, functions: list[types.FunctionType]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.functions = functions

    def persistent_id(self, obj: Any) -> int | None:
        if isinstance(obj, types.FunctionType):
            if obj.__closure__ is not None:
                raise pickle.PicklingError(f"{obj.__qualname__} holds state")
            self.functions.append(obj)
            return len(self.functions) - 1
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, functions: list[types.FunctionType]) -> None:
        super().__init__(io.BytesIO(data))
        self.functions = functions

    def persistent_load(self, pid: Any) -> Any:
        return self.functions[pid]


def cached(build: Callable[..., Engine]) -> Callable[..., Engine]:
    """`build`, copying the first world built for each frozen scenario, seed and start."""
    worlds: dict[Key, tuple[bytes, list[types.FunctionType]] | None] = {}

    def build_or_copy(
        name: str,
        *,
        seed: int = 1,
        start: datetime | None = None,
        speed: float = 1.0,
        queues: int | None = None,
        runs: int | None = None,
    ) -> Engine:
        if start is None or speed != 0:
            return build(name, seed=seed, start=start, speed=speed, queues=queues, runs=runs)
        key = (name, seed, start, queues, runs)
        if key in worlds:
            stored = worlds[key]
            if stored is None:
                return build(name, seed=seed, start=start, speed=speed, queues=queues, runs=runs)
            data, functions = stored
            enabled = gc.isenabled()
            gc.disable()  # a million bytes of small objects, none of them garbage yet
            try:
                engine: Engine = _Unpickler(data, functions).load()
            finally:
                if enabled:
                    gc.enable()
            return engine
        engine = build(name, seed=seed, start=start, speed=speed, queues=queues, runs=runs)
        file, functions = io.BytesIO(), []
        try:
            _Pickler(file, functions).dump(engine)
        except (pickle.PicklingError, TypeError, AttributeError):
            worlds[key] = None
        else:
            worlds[key] = (file.getvalue(), functions)
        return engine

    return build_or_copy
