"""Layer 3: the Generator, which holds ``(key, offset, spawn count)`` and nothing else.

A draw reserves its blocks under a lock and computes outside it, so concurrent
draws from one generator never share a block.  There are no buffers, cached
normals or leftover words: the state below is the whole state.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import get_worker_info  # (imported by torch itself)

from .._core._keys import Key, canonical_seed, fold_in_key, key_from_seed, spawn_key
from .._core._philox import philox4x32_scalar
from ._devices import parse_device
from ._opaque import OpaqueMeta

__all__ = ["Generator", "default_generator", "fork_rng", "manual_seed", "seed", "initial_seed", "get_state",
           "set_state"]

ALGORITHM = "philox4x32-10"
#: The stream version of new generators (docs/spec.md section 9): the latest.
STREAM_VERSION = 2
#: Every stream version this keystream computes, bit for bit, forever.
STREAM_VERSIONS = (1, 2)
#: torch's own default seed, so that an unseeded keystream behaves like an unseeded torch.
DEFAULT_SEED = 67280421310721
_U64 = 1 << 64
_MAGIC = b"KSPX"
_ALGORITHM_ID = 1
STATE_BYTES = 32
#: The device of generators made without one (one object: the small draws' C path compares it first).
CPU = torch.device("cpu")
#: id(generator) -> its open keystream.graph_safe state (NOTE [ graph-safe state ] in _graphsafe.py):
#: while open, the offset lives on a device and a draw that reads it on the host raises.
GRAPH_SAFE: dict[int, Any] = {}


def _check_version(value: object, name: str = "stream_version") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value not in STREAM_VERSIONS:
        raise ValueError(f"{name} must be one of {STREAM_VERSIONS}, got {value}")
    return value


def _check_count(value: object, name: str, limit: int = _U64) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < limit:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return value


class Generator(metaclass=OpaqueMeta):
    """A counter-based Philox4x32-10 generator: the same bits on every device.

    Args:
        seed: an int in [-2^63, 2^64) (negative seeds wrap modulo 2^64, as in torch).
            ``None`` uses torch's default seed 67280421310721.
        device: the default device of the tensors this generator's draws return.  It
            never changes the bits; ``device=`` on a draw overrides it.
        stream_version: which definitions the draws follow (docs/spec.md section 9):
            2 (the default) or 1, which reproduces the first release's numbers bit for
            bit.  Generators derived from this one (:meth:`fold_in`, :meth:`spawn`,
            :meth:`clone`) keep it.

    The state is ``(key, offset, spawn_count, stream_version)``: ``key`` is two 32-bit
    words, ``offset`` counts 128-bit Philox blocks already consumed, ``spawn_count``
    the children made by :meth:`spawn`.

    Reproducibility:
        Every draw of ``numel`` elements with ``k`` elements per block consumes
        blocks ``offset .. offset + ceil(numel / k) - 1`` and advances ``offset``
        past them (randperm consumes 2).  Equal states give equal draws on any
        device, engine, thread count or region.

    Threads:
        One generator may be shared by threads.  Each draw takes its blocks atomically,
        so concurrent draws never share a block (which blocks each gets follows the order
        in which the threads reach the generator).  A draw racing :meth:`set_state`,
        :meth:`load_state_dict` or :meth:`manual_seed` uses the whole state from before
        or the whole state from after, never the key of one with the offset of the other;
        :meth:`spawn`, :meth:`clone` and :meth:`get_state` likewise read one state.

    Failures:
        A draw that raises (bad arguments, an output that cannot be allocated, a failing
        engine or copy into ``out``) leaves the state as it was: its checks and its
        allocation come before it takes its blocks, and blocks taken by a draw that fails
        later are given back, unless another thread drew from this generator in between
        (then they stay consumed: they are never handed out twice).

    Example:
        >>> g = Generator().manual_seed(1234)
        >>> state = g.get_state()
        >>> a = g.rand(3)
        >>> _ = g.set_state(state)
        >>> bool((g.rand(3) == a).all())
        True
    """

    # (weak references: torch.compile holds a generator a graph reads as a constant, under
    # keystream.torch_random, through one)
    __slots__ = ("_key", "_offset", "_spawn_count", "_device", "_lock", "_version", "__weakref__")

    def __init__(self, seed: int | str | torch.device | None = None,
                 device: torch.device | str | int | None = None, *, stream_version: int = STREAM_VERSION) -> None:
        if isinstance(seed, (str, torch.device)):  # Generator("cuda"), as torch.Generator("cuda")
            if device is not None:
                raise TypeError("Generator() got a device twice (positionally and as device=)")
            seed, device = None, seed
        version = _check_version(stream_version)
        self._lock = threading.Lock()
        self._device = CPU if device is None else parse_device(device)
        self._key: Key = key_from_seed(DEFAULT_SEED if seed is None else canonical_seed(seed))
        self._offset = 0
        self._spawn_count = 0
        self._version = version

    # ------------------------------------------------------------------ state
    @property
    def device(self) -> torch.device:
        """Default device of the tensors drawn from this generator."""
        return self._device

    @property
    def stream_version(self) -> int:
        """The stream version whose definitions this generator's draws follow (1 or 2).

        Part of the state: :meth:`set_state` and :meth:`load_state_dict` take it from the
        state they restore, so a checkpoint of a version-1 run resumes version 1."""
        return self._version

    @property
    def key(self) -> Key:
        """The two 32-bit key words."""
        self._follow_worker()
        return self._key

    @property
    def offset(self) -> int:
        """Blocks (of 128 bits) consumed so far; settable to jump anywhere in the stream."""
        self._follow_worker()
        return self._offset

    @offset.setter
    def offset(self, value: int) -> None:
        value = _check_count(value, "offset")
        self._follow_worker()
        with self._lock:
            self._offset = value

    @property
    def spawn_count(self) -> int:
        """Number of children made by :meth:`spawn` so far."""
        self._follow_worker()
        return self._spawn_count

    def _follow_worker(self) -> None:
        """In a DataLoader worker, reseed :data:`default_generator` from torch's per-worker
        seed the first time the worker touches it (NOTE [ DataLoader workers ])."""
        if self is default_generator:
            info = get_worker_info()
            if info is not None:
                _reseed_for_worker(info)

    def manual_seed(self, seed: int) -> Generator:
        """Reset to ``seed`` (offset and spawn count 0) and return ``self``."""
        key = key_from_seed(canonical_seed(seed))
        self._follow_worker()  # (so that an explicit seed in a worker is not replaced later)
        with self._lock:
            self._key, self._offset, self._spawn_count = key, 0, 0
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; return the new seed."""
        value = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(value)
        return value

    def initial_seed(self) -> int:
        """The seed whose key this generator has (``k0 + 2^32 k1``; for a derived
        generator, the 64-bit integer of its derived key)."""
        return self._key[0] | (self._key[1] << 32)

    def get_offset(self) -> int:
        """torch.Generator's name for :attr:`offset` (here in 128-bit blocks)."""
        return self.offset

    def set_offset(self, offset: int) -> Generator:
        """torch.Generator's name for setting :attr:`offset` (in 128-bit blocks); returns ``self``."""
        self.offset = offset
        return self

    def advance(self, blocks: int) -> Generator:
        """Skip ``blocks`` blocks, as if a draw had consumed them; return ``self``."""
        blocks = _check_count(blocks, "blocks")
        self._follow_worker()
        with self._lock:
            if self._offset + blocks >= _U64:
                raise OverflowError("advance would move offset past 2**64 blocks")
            self._offset += blocks
        return self

    def _reserve(self, blocks: int, version: int | None = None) -> tuple[Key, int]:
        """Atomically take ``blocks`` blocks; return the key and the first block.

        Key and offset are read under the same lock, so a draw racing :meth:`set_state`
        pairs the key of one state with the offset of that same state.  A draw whose
        definition (and so its block count) depends on the stream version passes the
        ``version`` it was planned for: should a racing :meth:`set_state` have changed it,
        the draw raises and takes nothing.
        """
        self._follow_worker()
        if GRAPH_SAFE and id(self) in GRAPH_SAFE:
            raise RuntimeError("keystream.graph_safe holds this generator's offset on the device: this draw "
                               "reads it on the host; make it outside the block")
        if torch._C._get_tracing_state() is not None:
            # a TorchScript trace records torch operators: it would keep this draw's result as
            # a constant (or an uninitialised tensor the engine wrote behind its back)
            raise RuntimeError("keystream draws cannot be recorded by torch.jit.trace: the traced graph would "
                               "replay no draw. Compile with torch.compile instead (its graphs draw at every "
                               "call), or draw outside the traced function and pass the numbers in")
        with self._lock:
            if version is not None and version != self._version:
                raise RuntimeError("the generator's stream version changed (set_state in another thread) while "
                                   "this draw was being prepared; nothing was drawn")
            start = self._offset
            # offset itself must stay below 2^64, so the very last block is never handed out
            if start + blocks >= _U64:
                raise OverflowError(
                    f"this draw needs {blocks} blocks but offset {start} is too close to 2**64"
                )
            self._offset = start + blocks
            self._record()
            return self._key, start

    def _release(self, key: Key, start: int, blocks: int) -> None:
        """Give back blocks taken by :meth:`_reserve` for a draw that failed.

        Only when nothing has happened to the generator since (no other draw, no
        ``set_state``): then the state is exactly what it was before the draw.  If
        another thread has drawn after it, the blocks stay consumed (giving them back
        would hand them out twice).
        """
        with self._lock:
            if self._key == key and self._offset == start + blocks:
                self._offset = start
                self._record()

    def _record(self) -> None:
        """Note this thread's change of the state for an open :func:`transaction` (under the
        lock, right after the change)."""
        open_ = _TRANSACTIONS.open
        if open_ and id(self) in open_:
            open_[id(self)][1] = (self._key, self._offset, self._spawn_count, self._version)

    def _snapshot(self) -> tuple[Key, int, int, int]:
        self._follow_worker()
        with self._lock:
            return self._key, self._offset, self._spawn_count, self._version

    def get_state(self) -> torch.Tensor:
        """The whole state as a 32-byte uint8 tensor (tagged with algorithm and stream version).

        Layout: ``b"KSPX"``, algorithm id 1, the stream version (1 or 2), two zero bytes,
        then little-endian ``k0``, ``k1`` (uint32), ``offset``, ``spawn_count`` (uint64).
        """
        key, offset, spawn, version = self._snapshot()
        raw = (
            _MAGIC
            + bytes([_ALGORITHM_ID, version, 0, 0])
            + key[0].to_bytes(4, "little")
            + key[1].to_bytes(4, "little")
            + offset.to_bytes(8, "little")
            + spawn.to_bytes(8, "little")
        )
        return torch.frombuffer(bytearray(raw), dtype=torch.uint8).clone()

    def set_state(self, new_state: torch.Tensor) -> Generator:
        """Restore a state from :meth:`get_state`, its stream version included; return ``self``.

        Raises:
            TypeError: ``new_state`` is not a uint8 tensor.
            ValueError: wrong length, magic, algorithm or an unknown stream version.
        """
        if not isinstance(new_state, torch.Tensor) or new_state.dtype != torch.uint8:
            raise TypeError("new_state must be a torch.uint8 tensor from Generator.get_state()")
        if new_state.device.type == "meta":
            raise ValueError("new_state is on the meta device: it holds no state")
        raw = bytes(new_state.detach().cpu().contiguous().view(-1).tolist())
        if len(raw) != STATE_BYTES:
            raise ValueError(f"new_state must have {STATE_BYTES} bytes, got {len(raw)}")
        if raw[:4] != _MAGIC or raw[6:8] != b"\0\0":
            raise ValueError("new_state is not a keystream generator state")
        if raw[4] != _ALGORITHM_ID:
            raise ValueError(f"new_state has algorithm id {raw[4]}, expected {_ALGORITHM_ID} ({ALGORITHM})")
        if raw[5] not in STREAM_VERSIONS:
            raise ValueError(f"new_state has stream version {raw[5]}, this keystream computes versions "
                             f"{STREAM_VERSIONS} (a newer keystream made it?)")
        key = (int.from_bytes(raw[8:12], "little"), int.from_bytes(raw[12:16], "little"))
        offset = int.from_bytes(raw[16:24], "little")
        spawn = int.from_bytes(raw[24:32], "little")
        self._follow_worker()
        with self._lock:
            self._key, self._offset, self._spawn_count, self._version = key, offset, spawn, raw[5]
        return self

    def state_dict(self) -> dict[str, Any]:
        """The state as a JSON-serialisable dict."""
        key, offset, spawn, version = self._snapshot()
        return {
            "algorithm": ALGORITHM,
            "stream_version": version,
            "key": [key[0], key[1]],
            "offset": offset,
            "spawn_count": spawn,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> Generator:
        """Restore a state from :meth:`state_dict`; return ``self``.

        Raises:
            TypeError: ``state_dict`` is not a dict.
            ValueError: a missing or bad field, another algorithm or an unknown stream version.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        missing = {"algorithm", "stream_version", "key", "offset", "spawn_count"} - set(state_dict)
        if missing:
            raise ValueError(f"state_dict lacks {sorted(missing)}")
        if state_dict["algorithm"] != ALGORITHM:
            raise ValueError(f"state_dict has algorithm {state_dict['algorithm']!r}, expected {ALGORITHM!r}")
        version = state_dict["stream_version"]
        if isinstance(version, bool) or not isinstance(version, int) or version not in STREAM_VERSIONS:
            raise ValueError(
                f"state_dict has stream_version {state_dict['stream_version']!r}, expected one of {STREAM_VERSIONS}"
            )
        key = state_dict["key"]
        if (
            not isinstance(key, (list, tuple))
            or len(key) != 2
            or not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < 1 << 32 for k in key)
        ):
            raise ValueError("state_dict['key'] must be two ints in [0, 2**32)")
        try:
            offset = _check_count(state_dict["offset"], "state_dict['offset']")
            spawn = _check_count(state_dict["spawn_count"], "state_dict['spawn_count']")
        except TypeError as err:
            raise ValueError(str(err)) from None
        self._follow_worker()
        with self._lock:
            self._key, self._offset, self._spawn_count = (int(key[0]), int(key[1])), offset, spawn
            self._version = version
        return self

    # ------------------------------------------------------------- derivation
    def _child(self, key: Key) -> Generator:
        return _with_key(key, self._device, self._version)

    def clone(self) -> Generator:
        """An independent generator with the same state (stream version included) and device."""
        key, offset, spawn, version = self._snapshot()
        twin = _with_key(key, self._device, version)
        twin._offset, twin._spawn_count = offset, spawn
        return twin

    def clone_state(self) -> Generator:
        """torch's name for :meth:`clone`."""
        return self.clone()

    def torch_generator(self, device: Any = None) -> torch.Generator:
        """A ``torch.Generator`` for an API that insists on one, seeded from a sub-stream.

        The seed is the first 63 bits of the next spawned child's first 64-bit word
        (:meth:`spawn` advances :attr:`spawn_count` by one; the draw offset stays), so the
        same state gives the same torch generator, and a second call a different one.

        Args:
            device: the torch generator's device (default: this generator's).

        Reproducibility:
            The seed is keystream's; the numbers the torch generator then gives are torch's
            (its algorithm depends on the device).
        """
        with transaction(self):  # (a bad device gives the spawned child back)
            child = self.spawn(1)[0]
            # the child's first 64-bit word: words 0 and 1 of its block 0 (``bits(1,
            # dtype=torch.uint64, generator=child)``'s value, without a draw)
            w = philox4x32_scalar((0, 0, 0, 0), child._key)
            seed = (w[0] | (w[1] << 32)) & (2**63 - 1)
            return torch.Generator(device=self._device if device is None else device).manual_seed(seed)

    def fold_in(self, data: int | str | bytes) -> Generator:
        """A new generator keyed by ``fold_in(key, data)`` at offset 0; ``self`` is unchanged.

        Use it for named sub-streams (an epoch, a sample index, a parameter name):
        ``g.fold_in(epoch)`` never collides with ``g.fold_in(epoch + 1)`` or with
        ``Generator(seed + 1)``.
        """
        self._follow_worker()
        return self._child(fold_in_key(self._key, data))

    def spawn(self, n: int) -> list[Generator]:
        """``n`` independent children; advances :attr:`spawn_count` by ``n``.

        Child ``i`` is keyed by the parent's key and spawn index ``spawn_count + i``.
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self._follow_worker()
        with self._lock:
            start, key = self._spawn_count, self._key
            # get_state() stores the count in 64 bits: it must stay below 2^64
            if start + n >= _U64:
                raise OverflowError(f"n = {n} would take spawn_count ({start}) past 2**64 - 1")
            self._spawn_count = start + n
            self._record()
        return [self._child(spawn_key(key, start + i)) for i in range(n)]

    # ----------------------------------------------------------- python protocol
    def __getstate__(self) -> dict[str, Any]:
        return {"state": self.state_dict(), "device": str(self._device)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self._device = torch.device(state["device"])
        self._key, self._offset, self._spawn_count, self._version = (0, 0), 0, 0, STREAM_VERSION
        self.load_state_dict(state["state"])

    def __deepcopy__(self, memo: dict[int, Any]) -> Generator:
        return self.clone()

    def __copy__(self) -> Generator:
        return self.clone()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Generator):
            return NotImplemented
        return self._snapshot() == other._snapshot()

    def __hash__(self) -> int:
        # Equality is the state, which draws change: every generator hashes alike, so equal
        # generators hash equally whatever happens to them (what Python asks of a hash), and
        # torch.compile's caches, which hash the operators' arguments, can hold one.
        return hash(Generator)

    def __repr__(self) -> str:
        key, offset, spawn, version = self._snapshot()
        return (
            f"keystream.Generator(key=(0x{key[0]:08x}, 0x{key[1]:08x}), offset={offset}, "
            f"spawn_count={spawn}, device='{self._device}', stream_version={version})"
        )

    if TYPE_CHECKING:
        # The draw methods (g.rand(...) is keystream.rand(..., generator=g)) are made from
        # the public draws by keystream._torch._draws, which imports this module, not the reverse.
        def __getattr__(self, name: str) -> Callable[..., torch.Tensor]: ...


#: The module-level generator used when a draw gets ``generator=None`` (like torch's).
default_generator = Generator()

# torch.load's default (weights_only) unpickler may rebuild a Generator saved in a checkpoint:
# its pickled state is a dict of ints and strings, restored through load_state_dict's checks.
if hasattr(torch.serialization, "add_safe_globals"):
    torch.serialization.add_safe_globals([Generator])

# NOTE [ DataLoader workers ]
# Every DataLoader worker starts with a copy of the parent's default generator (fork) or a
# fresh one at the default seed (spawn): without care, every worker would draw the same
# numbers.  torch reseeds its own generator in each worker (base_seed + worker id, with
# base_seed drawn in the main process for each iteration of the loader); the default
# generator follows it: the first time a worker touches default_generator, it is seeded
# with that worker's torch seed (so keystream.initial_seed() == torch.initial_seed() there,
# and a run is as reproducible as torch.manual_seed makes the loader).  An explicit seed set
# in the worker (in worker_init_fn, say) counts as that first touch and is kept.
_worker_seen: tuple[int, int, int] | None = None


def _reseed_for_worker(info: Any) -> None:
    global _worker_seen
    tag = (os.getpid(), int(info.id), int(info.seed))
    if tag != _worker_seen:
        _worker_seen = tag
        key = key_from_seed(canonical_seed(int(info.seed) % _U64))
        with default_generator._lock:
            default_generator._key, default_generator._offset, default_generator._spawn_count = key, 0, 0


def _with_key(key: Key, device: torch.device, version: int = STREAM_VERSION) -> Generator:
    """A generator with ``key`` at offset 0 on ``device`` (a derived generator: fold_in, spawn;
    without ``__init__``'s checks, which a derived key and a known device do not need)."""
    g = Generator.__new__(Generator)
    g._lock = threading.Lock()
    g._device, g._key, g._offset, g._spawn_count, g._version = device, key, 0, 0, version
    return g


def resolve_generator(generator: Any, name: str = "generator") -> Generator:
    """``generator``, or :data:`default_generator` for None.

    Raises:
        TypeError: ``generator`` is neither None nor a :class:`Generator`.
    """
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        if isinstance(generator, torch.Generator):
            raise TypeError(f"{name} must be a keystream.Generator, got a torch.Generator: pass "
                            "keystream.Generator(seed), or draw with torch inside keystream.torch_random() (which "
                            "takes torch.Generators)")
        raise TypeError(f"{name} must be a keystream.Generator, got {type(generator).__name__}")
    return generator


@contextlib.contextmanager
def fork_rng(generators: Iterable[Generator] | None = None, enabled: bool = True) -> Iterator[None]:
    """Restore the generators' states when the block exits, as :func:`torch.random.fork_rng`
    does for torch's (default: :data:`default_generator`).

    Example:
        >>> g = Generator(3)
        >>> with fork_rng([g]):
        ...     _ = g.rand(10)
        >>> g.offset
        0
    """
    if not enabled:
        yield
        return
    gens = [default_generator] if generators is None else list(generators)
    for gen in gens:
        if not isinstance(gen, Generator):
            raise TypeError(f"generators must hold keystream.Generator objects, got {type(gen).__name__}")
    states = [gen._snapshot() for gen in gens]
    try:
        yield
    finally:
        for gen, (key, offset, spawn, version) in zip(gens, states):
            with gen._lock:
                gen._key, gen._offset, gen._spawn_count, gen._version = key, offset, spawn, version


# NOTE [ one call, one transaction ]
# A public call may take blocks more than once (a composite draw, a distribution's sample,
# an initialiser, a draw followed by a copy into ``out=``) and fail after the first: its
# checks, torch's allocator, a copy, autograd.  Every public call runs as a transaction of
# the generator it draws from: the state at entry is kept, each change the call makes is
# recorded (Generator._record, from _reserve, _release and spawn), and on an exception the
# state goes back to the entry's if it is still the one the call left (no other thread, no
# set_state, changed it since; then the blocks stay taken, as _release does).  Transactions
# nest: the outermost decides.
class _Transactions(threading.local):
    """Each thread's open transactions (the C short paths read ``open``: keep the name)."""

    def __init__(self) -> None:
        self.open: dict[int, list[Any]] = {}  # id(generator) -> [state at entry, after this thread's last change]


_TRANSACTIONS = _Transactions()


class transaction:  # noqa: N801 - used as a function: ``with transaction(g):``
    """NOTE [ one call, one transaction ]: inside the block, ``g``'s draws are one; an
    exception gives back every block they took (when nothing else drew meanwhile).  A class
    rather than a generator-based context manager: it runs around every public call."""

    __slots__ = ("g", "entry", "outer")

    def __init__(self, g: Generator) -> None:
        self.g = g

    def __enter__(self) -> Generator:
        open_ = _TRANSACTIONS.open
        self.outer = id(self.g) in open_  # nested: the outer transaction decides
        if not self.outer:
            self.entry = self.g._snapshot()
            open_[id(self.g)] = [self.entry, self.entry]
        return self.g

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.outer:
            return
        g, open_ = self.g, _TRANSACTIONS.open
        try:
            if exc_type is not None:
                with g._lock:
                    if (g._key, g._offset, g._spawn_count, g._version) == open_[id(g)][1]:
                        g._key, g._offset, g._spawn_count, g._version = self.entry
        finally:
            del open_[id(g)]


def one_call(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a public function with a ``generator`` argument) as one transaction of that
    generator, or of the default one (NOTE [ one call, one transaction ])."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "torch._dynamo" in sys.modules and torch.compiler.is_compiling():
            return fn(*args, **kwargs)  # (traced: the state moves when the graph runs)
        g = kwargs.get("generator")
        if g is None and len(args) > 1:
            g = signature.bind_partial(*args, **kwargs).arguments.get("generator")
        with transaction(g if isinstance(g, Generator) else default_generator):
            return fn(*args, **kwargs)
    return wrapper


def manual_seed(seed: int) -> Generator:
    """Seed :data:`default_generator` and return it (like ``torch.manual_seed``)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Reseed :data:`default_generator` nondeterministically; return the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """:meth:`Generator.initial_seed` of :data:`default_generator`."""
    return default_generator.initial_seed()


def get_state() -> torch.Tensor:
    """:meth:`Generator.get_state` of :data:`default_generator`."""
    return default_generator.get_state()


def set_state(new_state: torch.Tensor) -> None:
    """:meth:`Generator.set_state` of :data:`default_generator`."""
    default_generator.set_state(new_state)
