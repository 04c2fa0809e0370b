"""The timeline pass without a sort, for logs whose customers' events come in time order.

Exported logs are usually written in time order, and then an event's successor in
its customer's timeline is simply that customer's next event in the file. One hash
table keyed by customer, holding the time and (touchpoint, segment) number of the
customer's last event so far, classifies every event as the sorted pass of
:mod:`journeysim.logs.counts` does (``move`` to the next event, or ``cut`` by the
lookback window; the customers' last events, ``end``, are what is left over) as the
file is read, with no staging and no sort. The counts are those of the sorted pass
(only the sums of gaps may differ in the last digit: they are added in another
order); it costs well under half as much, and its memory grows with the customers,
not the events (24 bytes a slot, at most three quarters full).

The pass gives up (returns ``None``) and leaves the log to the sorted pass when a
customer's event is earlier than the one before it in the file (events at the same
instant keep their file order, as in the sort), or when the table would outgrow an
eighth of the machine's memory (a sort in DuckDB spills to disk; this table cannot).
User ids (text) are keyed by 104 bits of two hashes (64 of one, 40 of the other): two
of n customers share a key with odds of about n²/2¹⁰⁵, 3e-14 for a billion customers.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
from llvmlite import ir
from numba.extending import intrinsic

from journeysim._hash import mix
from journeysim.logs._csv import CsvEvents

__all__ = ["Transitions", "count_in_order"]

_U = np.uint64
_jit = numba.njit(cache=True, nogil=True)
_mix = numba.njit(inline="always")(mix)
# A customer's slot: key, (second key | last pair number + 1; 0: empty), last time: the keys are the
# first hash of the id and the high 40 bits of its second hash.
_PAIR_MASK = (1 << 24) - 1
_MAX_PAIRS = _PAIR_MASK - 1
_DEST_BITS = 25            # a group key is the pair number, then the destination's number + 1 (0: cut)
_FIRST_SLOTS = 1 << 16
_FIRST_GROUPS = 1 << 10
_FULL = 75                 # percent of the customer slots filled before the table grows
_GOLDEN = 0x9E3779B97F4A7C15
_AHEAD = 16                # events between a slot's prefetch and its use


@dataclass(frozen=True)
class Transitions:
    """The pass's groups: for each (pair ``sc``, destination pair ``dest``) the events that moved on
    (``dest`` = -1: were cut), ``n``, and the gaps' statistics (in the unit asked for). The
    reader's :meth:`~journeysim.logs._csv.CsvEvents.names` name the pair numbers."""

    sc: np.ndarray
    dest: np.ndarray
    n: np.ndarray
    zeros: np.ndarray       # gaps of length 0
    gaps: np.ndarray        # columns: sum, sum of logs (positive gaps), sum of squared logs, min, max


@intrinsic
def _prefetch(typingctx, table, row):
    """Ask the processor to start loading ``table[row]`` (a row of a 2-D C array) into cache.

    A customer's slot is a cache miss (the table is far larger than the cache); asked for
    a few events ahead, the misses of many events overlap: the pass is about twice as fast.
    """
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        byte = ir.IntType(8).as_pointer()
        offset = builder.mul(args[1], builder.extract_value(array.strides, 0))
        at = builder.gep(builder.bitcast(array.data, byte), [offset])
        i32 = ir.IntType(32)
        prefetch = builder.module.declare_intrinsic("llvm.prefetch", [byte], ir.FunctionType(ir.VoidType(),
                                                                                                [byte, i32, i32, i32]))
        builder.call(prefetch, [at, i32(0), i32(3), i32(1)])   # a read, keep in all caches, data
        return context.get_dummy_value()
    return numba.types.void(table, numba.types.int64), codegen


@numba.njit(inline="always")
def _home(k0, k1, shift):
    """Fibonacci hashing: the high bits of key × 2⁶⁴/φ, which every bit of the key reaches."""
    return np.int64(((_U(k0) ^ _U(k1)) * _U(_GOLDEN)) >> shift)


@numba.njit(inline="always")
def _shift(size):
    """64 - log2(size), for a power of 2."""
    shift = 64
    while size > 1:
        size >>= 1
        shift -= 1
    return _U(shift)


@numba.njit(inline="always")
def _slot(table, shift, k0, k1):
    """The slot of customer (k0, k1): where it is, or the empty slot where it goes (linear probing)."""
    mask = len(table) - 1
    i = _home(k0, k1, shift)
    while table[i, 1] != 0 and (table[i, 0] != k0 or table[i, 1] & ~_PAIR_MASK != k1):
        i = (i + 1) & mask
    return i


@numba.njit(inline="always")
def _group(groups, shift, key):
    mask = len(groups) - 1
    i = _home(key, 0, shift)
    while groups[i, 0] >= 0 and groups[i, 0] != key:
        i = (i + 1) & mask
    return i


@_jit
def _walk(k0, k1, t, sc, table, room, groups, n, zeros, gaps, state, window, unit):
    """Classify a block's events in file order. ``state`` holds the customers and groups so far.

    Returns the events consumed: fewer than all when the table holds ``room`` customers or
    the groups' table is half full (grow it and call again with the rest), -1 if a
    customer's event is earlier than their last one.
    """
    shift, gshift = _shift(len(table)), _shift(len(groups))
    users, kept = state[0], state[1]
    for j in range(len(t)):
        if users >= room or 2 * kept >= len(groups):
            state[0], state[1] = users, kept
            return j
        if j + _AHEAD < len(t):
            _prefetch(table, _home(k0[j + _AHEAD], k1[j + _AHEAD], shift))
        i = _slot(table, shift, k0[j], k1[j])
        last = (table[i, 1] & _PAIR_MASK) - 1
        if last < 0:
            table[i, 0] = k0[j]
            users += 1
        else:
            d = t[j] - table[i, 2]
            if d < 0:
                return -1
            move = d <= window
            key = (last << _DEST_BITS) | (np.int64(sc[j]) + 1 if move else 0)
            g = _group(groups, gshift, key)
            if groups[g, 0] < 0:
                groups[g, 0], groups[g, 1] = key, kept
                kept += 1
            k = groups[g, 1]
            n[k] += 1
            if move:
                gap = d / unit
                gaps[k, 0] += gap
                if gap > 0:
                    lg = np.log(gap)
                    gaps[k, 1] += lg
                    gaps[k, 2] += lg * lg
                else:
                    zeros[k] += 1
                gaps[k, 3] = min(gaps[k, 3], gap)
                gaps[k, 4] = max(gaps[k, 4], gap)
        table[i, 1], table[i, 2] = k1[j] | (np.int64(sc[j]) + 1), t[j]
    state[0], state[1] = users, kept
    return len(t)


@_jit
def _rehash_customers(old, table):
    shift = _shift(len(table))
    for r in range(len(old)):
        if r + _AHEAD < len(old):
            _prefetch(table, _home(old[r + _AHEAD, 0], old[r + _AHEAD, 1] & ~_PAIR_MASK, shift))
        if old[r, 1] != 0:
            table[_slot(table, shift, old[r, 0], old[r, 1] & ~_PAIR_MASK)] = old[r]


@_jit
def _rehash_groups(old, table):
    shift = _shift(len(table))
    for r in range(len(old)):
        if old[r, 0] >= 0:
            table[_group(table, shift, old[r, 0])] = old[r]


@_jit
def _text_keys(offsets, data, k0, k1):
    """Two independent hashes of each text (bytes ``data[offsets[j]:offsets[j + 1]]``), the second's
    high 40 bits only (see the slot's layout)."""
    for j in range(len(k0)):
        a, b = offsets[j], offsets[j + 1]
        h0, h1 = _U(b - a) ^ _U(0x243F6A8885A308D3), _U(b - a) ^ _U(0x13198A2E03707344)
        word, shift = _U(0), _U(0)
        for p in range(a, b):
            word |= _U(data[p]) << shift
            shift += _U(8)
            if shift == _U(64) or p == b - 1:
                h0 = _mix(h0 ^ word)
                h1 = _mix(h1 + word * _U(_GOLDEN))
                word, shift = _U(0), _U(0)
        k0[j], k1[j] = np.int64(h0), np.int64(h1) & ~_PAIR_MASK


def _keys(user: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each event's customer (a text id) as two int64 keys, the two hashes of its bytes."""
    wide = pa.types.is_large_string(user.type)
    _, offsets, data = user.buffers()
    offsets = np.frombuffer(offsets, np.int64 if wide else np.int32, len(user) + 1, user.offset * (8 if wide else 4))
    k0, k1 = np.empty(len(user), np.int64), np.empty(len(user), np.int64)
    _text_keys(offsets, np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8), k0, k1)
    return k0, k1


def _max_slots() -> int:
    """Customer slots allowed: a table of at most an eighth of the machine's memory."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        memory = 8 << 30
    return 1 << max(16, (memory // 8 // 24).bit_length() - 1)


def _customers(slots: int) -> np.ndarray:
    """An empty customer table, its pages faulted in up front (MAP_POPULATE, on Linux).

    The slots are touched in random order, and pages faulted in at random first touches
    cost several times more. Not in huge pages (numpy would ask for them): the kernel's
    compaction to find them can stall a fresh process's table for longer than the pass.
    """
    if not hasattr(mmap, "MAP_ANONYMOUS"):   # Windows
        return np.zeros((slots, 3), np.int64)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    return np.frombuffer(mmap.mmap(-1, slots * 24, flags=flags), np.int64).reshape(slots, 3)


def _room(table: np.ndarray) -> int:
    """Customers a table takes before it grows."""
    return len(table) * _FULL // 100


def _no_gaps(groups: int) -> np.ndarray:
    """Gap statistics of groups without gaps yet: sums 0, min +inf, max -inf."""
    return np.tile([0.0, 0.0, 0.0, np.inf, -np.inf], (groups, 1))


def _groups(rows: int) -> np.ndarray:
    return np.full((rows, 2), -1, np.int64)


def count_in_order(events: CsvEvents, *, window: int, unit: float) -> Transitions | None:
    """Read ``events`` once and count its transitions, or ``None`` if the log needs the sorted pass
    (see the module docstring; ``events.unclean`` then says whether its reader gave up too).

    ``window`` is the lookback in µs and ``unit`` the gaps' unit in µs.
    """
    table, groups, limit = _customers(_FIRST_SLOTS), _groups(_FIRST_GROUPS), _max_slots()
    n, zeros = np.zeros(len(groups) // 2, np.int64), np.zeros(len(groups) // 2, np.int64)
    gaps = _no_gaps(len(groups) // 2)
    state = np.zeros(2, np.int64)
    try:
        for block in events.reader:
            k0, k1 = _keys(block.column("u"))
            t, sc = block.column("t").to_numpy(), block.column("sc").to_numpy()
            start = 0
            while start < len(t):
                done = _walk(k0[start:], k1[start:], t[start:], sc[start:], table, _room(table), groups, n, zeros,
                             gaps, state, window, unit)
                if done < 0 or events.pairs > _MAX_PAIRS:
                    return None
                start += done
                if state[0] >= _room(table):   # four times as many slots, or twice near the limit
                    size = next((s for s in (4 * len(table), 2 * len(table)) if s <= limit), None)
                    if size is None:
                        return None
                    table, old = _customers(size), table
                    _rehash_customers(old, table)
                if 2 * state[1] >= len(groups):
                    groups, old = _groups(4 * len(groups)), groups
                    _rehash_groups(old, groups)
                    more = len(groups) // 2 - len(n)
                    n, zeros = np.pad(n, (0, more)), np.pad(zeros, (0, more))
                    gaps = np.concatenate([gaps, _no_gaps(more)])
    except Exception:   # the reader stopped at a row that needs DuckDB's reader, whatever wraps the error
        if events.unclean:
            return None
        raise
    finally:
        events.close()
    key, order = groups[groups[:, 0] >= 0].T
    return Transitions(sc=key >> _DEST_BITS, dest=(key & ((1 << _DEST_BITS) - 1)) - 1, n=n[order],
                       zeros=zeros[order], gaps=gaps[order])
