"""``scoring.paused_gc``: the collector is off inside and back on after; what was made inside goes to the oldest
generation (not walked again by young-generation passes) and cyclic garbage made inside is still collected."""

from __future__ import annotations

import gc
import weakref

from irrecist.scoring import paused_gc


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_objects_made_while_paused_go_to_the_oldest_generation() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        kept = [[i] for i in range(1000)]
    assert gc.isenabled()
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(kept) in oldest and id(kept[-1]) in oldest
    assert not any(id(kept) == id(o) for o in gc.get_objects(generation=0))


def test_cyclic_garbage_made_while_paused_is_still_collected() -> None:
    with paused_gc():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
    assert gone() is not None  # a cycle: only the collector frees it
    gc.collect()
    assert gone() is None


def test_a_paused_collector_stays_paused_after_a_nested_pause() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
