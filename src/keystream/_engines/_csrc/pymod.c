/* keystream._engines._native: the calls small draws and key derivation make millions of times, with
 * the CPython C API's fast calling convention (no ctypes argument conversion, no parameter
 * arrays built per call).  It links its own copy of the engine's files and uses only what runs on
 * the calling thread (its thread pool never starts); the large kernels, which release the
 * GIL, are _kscore's, loaded with ctypes.  Built apart so that a machine without Python's
 * headers still gets the C engine. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "keystream.h"
#include "ks_constants.h"

static int as_u64(PyObject *o, uint64_t *v) {
    *v = PyLong_AsUnsignedLongLong(o);
    return !(*v == (uint64_t)-1 && PyErr_Occurred());
}

/* derive(k0, k1, value, tag) -> (w0, w1): words 0 and 1 of the Philox4x32-10 block with
 * counter (value mod 2^32, value >> 32, tag, TAG_VERSION) under key (k0, k1): a fold_in or
 * spawn child key (docs/spec.md section 2). */
static PyObject *derive(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    uint64_t k0, k1, value, tag;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "derive(k0, k1, value, tag)");
        return NULL;
    }
    if (!as_u64(args[0], &k0) || !as_u64(args[1], &k1) || !as_u64(args[2], &value) || !as_u64(args[3], &tag))
        return NULL;
    uint32_t ctr[4] = {(uint32_t)value, (uint32_t)(value >> 32), (uint32_t)tag, (uint32_t)KS_TAG_VERSION};
    uint32_t key[2] = {(uint32_t)k0, (uint32_t)k1}, w[4];
    ks_philox(ctr, key, (int)KS_PHILOX_ROUNDS, w);
    return Py_BuildValue("(kk)", (unsigned long)w[0], (unsigned long)w[1]);
}

/* fill(packed, k0, k1, offset, e0, n, address): elements [e0, e0 + n) of a draw into the
 * contiguous output at address, on this thread (small draws only: the GIL is held). */
static PyObject *fill(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    uint64_t k0, k1, offset, e0, n, address;
    if (nargs != 7 || !PyBytes_Check(args[0]) || PyBytes_GET_SIZE(args[0]) != ks_packed_size()) {
        PyErr_SetString(PyExc_TypeError, "fill(packed: bytes, k0, k1, offset, e0, n, address)");
        return NULL;
    }
    if (!as_u64(args[1], &k0) || !as_u64(args[2], &k1) || !as_u64(args[3], &offset) || !as_u64(args[4], &e0) ||
        !as_u64(args[5], &n) || !as_u64(args[6], &address))
        return NULL;
    ks_fill_small(PyBytes_AS_STRING(args[0]), (uint32_t)k0, (uint32_t)k1, offset, e0, (int64_t)n,
                  (void *)(uintptr_t)address);
    Py_RETURN_NONE;
}

/* The short paths of small draws: NOTE [ small draws ] (_draws.py) and NOTE [ memoised small
 * draws ] (_memo.py), done in C for their common calls.  ctx is the tuple _draws._small_context()
 * builds: (Generator, GRAPH_SAFE, forced-engine local, torch function mode test,
 * get_default_dtype, the engines module (its _DEFAULT choices), CpuEngine, torch.empty,
 * default_generator, entries, cpu device, the transactions' thread-local, increment_version, the
 * TorchScript tracing state).
 * None means "take the Python path" (which raises, or serves what these do not).  The callers
 * have checked that Dynamo is not tracing (these calls are not traceable; the draw operator is). */
#define SMALL_MAX (1 << 14)
enum { C_GEN, C_GRAPH, C_FORCED, C_TFMODE, C_DTYPE, C_ENGINES, C_CPU_ENGINE, C_EMPTY, C_DEFAULT_GEN, C_ENTRIES,
       C_CPU, C_TRANSACTIONS, C_INCREMENT, C_TRACING, C_COUNT };

static PyObject *s_default, *s_name, *s_device, *s_key, *s_offset, *s_lock, *s_locked, *s_data_ptr, *s_version,
    *s_open, *s_follow, *s_dtype, *s_spawn;

static int truthy_call(PyObject *fn) {
    PyObject *r = PyObject_CallNoArgs(fn);
    if (r == NULL) return -1;
    int t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

/* 1 when the short path may draw from g: a keystream Generator on the CPU, no graph-safe
 * state, no forced engine, no torch function mode; 0 when not, -1 on an error.  (Inside a
 * transaction too: take() records its change, NOTE [ one call, one transaction ].) */
static int usable(PyObject *const *c, PyObject *g) {
#ifdef Py_GIL_DISABLED
    (void)c; (void)g;
    return 0; /* (no GIL to make the reservation atomic, nor the tables' borrowed items safe: the Python path) */
#endif
    if ((PyObject *)Py_TYPE(g) != c[C_GEN] || PyDict_GET_SIZE(c[C_GRAPH]) != 0) return 0;
    PyObject *dev = PyObject_GetAttr(g, s_device);
    if (dev == NULL) return -1;
    int on_cpu = dev == c[C_CPU] ? 1 : PyObject_RichCompareBool(dev, c[C_CPU], Py_EQ);
    Py_DECREF(dev);
    if (on_cpu != 1) return on_cpu;
    PyObject *forced = PyObject_GetAttr(c[C_FORCED], s_name);
    if (forced == NULL) return -1;
    Py_DECREF(forced);
    if (forced != Py_None) return 0;
    int t = truthy_call(c[C_TFMODE]);
    if (t != 0) return t < 0 ? -1 : 0;
    PyObject *tracing = PyObject_CallNoArgs(c[C_TRACING]);  /* (a TorchScript trace: the Python path refuses) */
    if (tracing == NULL) return -1;
    int idle = tracing == Py_None;
    Py_DECREF(tracing);
    return idle;
}

/* 1 when the engine torch would pick for engine_key is the C engine; 0 when not, -1 on an error. */
static int c_engine(PyObject *const *c, PyObject *engine_key) {
    PyObject *choices = PyObject_GetAttr(c[C_ENGINES], s_default);  /* (the module's, looked up each time) */
    if (choices == NULL) return -1;
    PyObject *engine = PyDict_Check(choices) ? PyDict_GetItemWithError(choices, engine_key) : NULL;
    Py_DECREF(choices);  /* (the module keeps the dict, and the dict the engine, alive) */
    if (engine == NULL) return PyErr_Occurred() ? -1 : 0;
    return (PyObject *)Py_TYPE(engine) == c[C_CPU_ENGINE];
}

/* For Generator._record: the record of the transaction open on g in this thread (a borrowed
 * list [state at entry, state after this thread's last change]) in *entry, and in *state the
 * state (key, offset, spawn count, version) that the change to `offset` will make; both NULL
 * when no transaction is open on g.  No Python code runs here or between the change and its
 * record (the thread's table exists: take() looked it up first), so no other thread changes
 * g in between (NOTE [ one call, one transaction ]).  0, or -1 on an error. */
static int prepare_record(PyObject *const *c, PyObject *g, PyObject *key, PyObject *offset, PyObject **entry,
                          PyObject **state) {
    *entry = *state = NULL;
    PyObject *open = PyObject_GetAttr(c[C_TRANSACTIONS], s_open);
    if (open == NULL) return -1;
    int rc = 0;
    if (PyDict_Check(open) && PyDict_GET_SIZE(open) != 0) {
        PyObject *id = PyLong_FromVoidPtr(g), *found = NULL;  /* (id(g)) */
        rc = id == NULL ? -1 : 0;
        if (id != NULL) {
            found = PyDict_GetItemWithError(open, id);
            Py_DECREF(id);
            if (found == NULL && PyErr_Occurred()) rc = -1;
        }
        if (found != NULL && PyList_CheckExact(found) && PyList_GET_SIZE(found) == 2) {
            PyObject *spawn = PyObject_GetAttr(g, s_spawn), *version = PyObject_GetAttr(g, s_version);
            if (spawn != NULL && version != NULL) *state = PyTuple_Pack(4, key, offset, spawn, version);
            Py_XDECREF(spawn);
            Py_XDECREF(version);
            if (*state == NULL) rc = -1; else *entry = found;
        }
    }
    Py_DECREF(open);
    return rc;
}

/* Take `blocks` blocks from g, as Generator._reserve: 1 with the key and first block, 0 when
 * the Python path must do it (another thread inside the generator's critical section, the
 * offset near 2^64, a stream version other than `version` when that is not NULL), -1 on an
 * error.  When no thread holds the generator's lock, none is inside its critical section, and
 * none can enter while this holds the GIL (nothing here releases it or runs Python code: the
 * Generator has __slots__). */
static int take(PyObject *const *c, PyObject *g, uint64_t blocks, PyObject *version, uint64_t *k0, uint64_t *k1,
                uint64_t *start) {
    /* (the thread's transaction table first: its first use in a thread runs Python code) */
    PyObject *open = PyObject_GetAttr(c[C_TRANSACTIONS], s_open);
    if (open == NULL) return -1;
    Py_DECREF(open);
    PyObject *lock = PyObject_GetAttr(g, s_lock);
    if (lock == NULL) return -1;
    PyObject *held = PyObject_CallMethodNoArgs(lock, s_locked);
    Py_DECREF(lock);
    if (held == NULL) return -1;
    int busy = PyObject_IsTrue(held);
    Py_DECREF(held);
    if (busy != 0) return busy < 0 ? -1 : 0;
    if (version != NULL) {
        PyObject *v = PyObject_GetAttr(g, s_version);
        if (v == NULL) return -1;
        int same = PyObject_RichCompareBool(v, version, Py_EQ);
        Py_DECREF(v);
        if (same != 1) return same;
    }
    PyObject *key = PyObject_GetAttr(g, s_key), *offset = PyObject_GetAttr(g, s_offset), *next = NULL;
    int ok = 0;
    if (key != NULL && offset != NULL && PyTuple_Check(key) && PyTuple_GET_SIZE(key) == 2) {
        *start = PyLong_AsUnsignedLongLong(offset);
        *k0 = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(key, 0));
        *k1 = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(key, 1));
        /* offset stays below 2^64 (the Python path raises the OverflowError) */
        if (!PyErr_Occurred() && *start + blocks > *start) {
            next = PyLong_FromUnsignedLongLong(*start + blocks);
            PyObject *entry = NULL, *state = NULL;
            ok = next != NULL && prepare_record(c, g, key, next, &entry, &state) == 0 &&
                 PyObject_SetAttr(g, s_offset, next) == 0;
            if (ok && entry != NULL) {
                (void)PyList_SetItem(entry, 1, state);  /* (steals state; cannot fail: a list of two) */
                state = NULL;
            }
            Py_XDECREF(state);
        }
    }
    Py_XDECREF(key); Py_XDECREF(offset); Py_XDECREF(next);
    return PyErr_Occurred() ? -1 : ok;
}

/* The data pointer of a tensor: 1, or -1 on an error. */
static int address_of(PyObject *t, void **address) {
    PyObject *ptr = PyObject_CallMethodNoArgs(t, s_data_ptr);
    if (ptr == NULL) return -1;
    *address = (void *)(uintptr_t)PyLong_AsUnsignedLongLong(ptr);
    Py_DECREF(ptr);
    return PyErr_Occurred() ? -1 : 1;
}

/* The product of sizes (a tuple of ints), or 0 when it is not in [1, SMALL_MAX] or not all ints. */
static long long small_numel(PyObject *sizes) {
    long long n = 1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(sizes); i++) {
        PyObject *d = PyTuple_GET_ITEM(sizes, i);
        if (!PyLong_CheckExact(d)) return 0;
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(d, &overflow);
        if (overflow || v < 0 || v > SMALL_MAX) return 0;
        n *= v;
        if (n > SMALL_MAX) return 0;
    }
    return n;
}

/* torch.empty(sizes) at the default dtype, else torch.empty(sizes, dtype=dtype);
 * torch.empty(2, 3) parses faster than torch.empty((2, 3)) (0.65 against 1.0 us measured). */
static PyObject *empty(PyObject *const *c, PyObject *sizes, PyObject *dtype) {
    if (dtype == NULL)
        return PyTuple_GET_SIZE(sizes) > 0 ? PyObject_Call(c[C_EMPTY], sizes, NULL)
                                           : PyObject_CallOneArg(c[C_EMPTY], sizes);
    PyObject *kw = PyDict_New();
    if (kw == NULL) return NULL;
    PyObject *args = PyTuple_Pack(1, sizes), *out = NULL;
    if (args != NULL && PyDict_SetItem(kw, s_dtype, dtype) == 0) out = PyObject_Call(c[C_EMPTY], args, kw);
    Py_XDECREF(args);
    Py_DECREF(kw);
    return out;
}

/* small(ctx, generator, sizes) -> tensor or None: g.rand(n) / g.randn(n) at torch's default
 * dtype (NOTE [ small draws ]): the checks of _draws._small, torch.empty(sizes), the blocks
 * taken from the generator, the fill.  ctx's entries: {dtype: (packed, per block, engine key)}. */
static PyObject *small(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != C_COUNT || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "small(ctx, generator, sizes)");
        return NULL;
    }
    PyObject *const *c = &PyTuple_GET_ITEM(args[0], 0);
    PyObject *g = args[1], *sizes = args[2];
    if (g == c[C_DEFAULT_GEN]) Py_RETURN_NONE;  /* (it may follow a DataLoader worker's seed first) */
    /* the sizes: ints, or one tuple of ints */
    if (PyTuple_GET_SIZE(sizes) == 1 && !PyLong_CheckExact(PyTuple_GET_ITEM(sizes, 0))) {
        PyObject *only = PyTuple_GET_ITEM(sizes, 0);
        if (!PyTuple_CheckExact(only)) Py_RETURN_NONE;
        sizes = only;
    }
    long long n = small_numel(sizes);
    if (n == 0) Py_RETURN_NONE;
    int ok = usable(c, g);
    if (ok != 1) { if (ok < 0) return NULL; Py_RETURN_NONE; }
    /* the draw's packed parameters at the default dtype, and the engine torch would pick */
    PyObject *dtype = PyObject_CallNoArgs(c[C_DTYPE]);
    if (dtype == NULL) return NULL;
    PyObject *entry = PyDict_GetItemWithError(c[C_ENTRIES], dtype);
    Py_DECREF(dtype);
    if (entry == NULL) { if (PyErr_Occurred()) return NULL; Py_RETURN_NONE; }
    PyObject *packed = PyTuple_GET_ITEM(entry, 0);
    long long per_block = PyLong_AsLongLong(PyTuple_GET_ITEM(entry, 1));
    ok = c_engine(c, PyTuple_GET_ITEM(entry, 2));
    if (ok != 1) { if (ok < 0) return NULL; Py_RETURN_NONE; }
    /* allocate, then take the blocks */
    PyObject *out = empty(c, sizes, NULL);
    if (out == NULL) return NULL;
    uint64_t k0, k1, start;
    void *address = NULL;
    ok = address_of(out, &address);
    if (ok == 1) ok = take(c, g, (uint64_t)((n + per_block - 1) / per_block), NULL, &k0, &k1, &start);
    if (ok != 1) { Py_DECREF(out); if (ok < 0) return NULL; Py_RETURN_NONE; }
    ks_fill_small(PyBytes_AS_STRING(packed), (uint32_t)k0, (uint32_t)k1, start, 0, (int64_t)n, address);
    return out;
}

/* serve(ctx, generator, key, sizes, out) -> tensor or None: a remembered small draw (NOTE [
 * memoised small draws ]): ctx's entries {key: (packed, per block, result dtype, engine key)};
 * key's last item is the stream version it was remembered for; sizes a tuple of ints; out None
 * or a tensor the caller checked (_memo._writable).  The default generator first follows a
 * DataLoader worker's seed (Generator._follow_worker), as _reserve does. */
static PyObject *serve(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 5 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != C_COUNT || !PyTuple_Check(args[2]) ||
        PyTuple_GET_SIZE(args[2]) < 1 || !PyTuple_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "serve(ctx, generator, key, sizes, out)");
        return NULL;
    }
    PyObject *const *c = &PyTuple_GET_ITEM(args[0], 0);
    PyObject *g = args[1], *key = args[2], *sizes = args[3], *out = args[4];
    long long n = small_numel(sizes);
    if (n == 0) Py_RETURN_NONE;
    int ok = usable(c, g);
    if (ok != 1) { if (ok < 0) return NULL; Py_RETURN_NONE; }
    PyObject *entry = PyDict_GetItemWithError(c[C_ENTRIES], key);
    if (entry == NULL) { if (PyErr_Occurred()) return NULL; Py_RETURN_NONE; }
    Py_INCREF(entry);  /* (the dict may change when Python code runs below) */
    PyObject *packed = PyTuple_GET_ITEM(entry, 0), *dtype = PyTuple_GET_ITEM(entry, 2);
    long long per_block = PyLong_AsLongLong(PyTuple_GET_ITEM(entry, 1));
    ok = c_engine(c, PyTuple_GET_ITEM(entry, 3));
    if (ok == 1 && g == c[C_DEFAULT_GEN]) {
        PyObject *r = PyObject_CallMethodNoArgs(g, s_follow);
        ok = r == NULL ? -1 : 1;
        Py_XDECREF(r);
    }
    PyObject *target = NULL;
    if (ok == 1) {
        if (out != Py_None) {
            target = out;
            Py_INCREF(target);
        } else {
            PyObject *dflt = PyObject_CallNoArgs(c[C_DTYPE]);
            target = dflt == NULL ? NULL : empty(c, sizes, dflt == dtype ? NULL : dtype);
            Py_XDECREF(dflt);
        }
        ok = target == NULL ? -1 : 1;
    }
    uint64_t k0, k1, start;
    void *address = NULL;
    if (ok == 1) ok = address_of(target, &address);
    if (ok == 1) ok = take(c, g, (uint64_t)((n + per_block - 1) / per_block),
                           PyTuple_GET_ITEM(key, PyTuple_GET_SIZE(key) - 1), &k0, &k1, &start);
    if (ok == 1)
        ks_fill_small(PyBytes_AS_STRING(packed), (uint32_t)k0, (uint32_t)k1, start, 0, (int64_t)n, address);
    Py_DECREF(entry);
    if (ok == 1 && out != Py_None) {  /* its version bumped, as the full path's _written */
        PyObject *r = PyObject_CallOneArg(c[C_INCREMENT], out);
        ok = r == NULL ? -1 : 1;
        Py_XDECREF(r);
    }
    if (ok != 1) { Py_XDECREF(target); if (ok < 0) return NULL; Py_RETURN_NONE; }
    return target;
}

/* ------------------------------------------------------------------ numpy BitGenerator
 * numpy.random.Generator takes any object with a `capsule` named "BitGenerator" holding a
 * bitgen_t (numpy/random/bitgen.h: a state pointer and four functions, called with the
 * bit generator's lock held and possibly without the GIL) and a `lock`.  The words are the
 * stream of keystream.bits(..., dtype=uint32) from (key, block, word): 64 at a time, filled
 * by the same kernel as every bits draw (the packed parameters come from Python).  A 64-bit
 * word is two 32-bit words, low first, so whole uint64 reads equal bits(..., dtype=uint64)
 * from an even word position. */
typedef struct {
    void *state;
    uint64_t (*next_uint64)(void *st);
    uint32_t (*next_uint32)(void *st);
    double (*next_double)(void *st);
    uint64_t (*next_raw)(void *st);
} np_bitgen_t;

#define BG_WORDS 64
typedef struct {
    np_bitgen_t bitgen;       /* first: the capsule's pointer is also the bitgen_t's */
    ks_packed_t packed;       /* the bits draw's packed parameters */
    uint32_t k0, k1;
    uint64_t base;            /* the block of buf[0] */
    int idx;                  /* the next word of buf; BG_WORDS: buf is spent */
    uint32_t buf[BG_WORDS];
} ks_bitgen;

static void bg_refill(ks_bitgen *b) {
    ks_fill_small(&b->packed, b->k0, b->k1, b->base, 0, BG_WORDS, b->buf);
}

static uint32_t bg_next32(void *st) {
    ks_bitgen *b = (ks_bitgen *)st;
    if (b->idx == BG_WORDS) {
        b->base += BG_WORDS / 4;  /* (wraps at 2^64 blocks, like the counter) */
        bg_refill(b);
        b->idx = 0;
    }
    return b->buf[b->idx++];
}

static uint64_t bg_next64(void *st) {
    uint64_t lo = bg_next32(st);
    return lo | ((uint64_t)bg_next32(st) << 32);
}

static double bg_next_double(void *st) {  /* numpy's convention: the top 53 bits of a uint64 */
    return (double)(bg_next64(st) >> 11) * (1.0 / 9007199254740992.0);
}

static void bg_destroy(PyObject *capsule) {
    PyMem_RawFree(PyCapsule_GetPointer(capsule, "BitGenerator"));
}

static ks_bitgen *bg_of(PyObject *capsule) {
    return (ks_bitgen *)PyCapsule_GetPointer(capsule, "BitGenerator");
}

static int bg_position(ks_bitgen *b, PyObject *const *args) {
    uint64_t k0, k1, block, word;
    if (!as_u64(args[0], &k0) || !as_u64(args[1], &k1) || !as_u64(args[2], &block) || !as_u64(args[3], &word))
        return 0;
    if (k0 > 0xFFFFFFFFu || k1 > 0xFFFFFFFFu || word > 3) {
        PyErr_SetString(PyExc_ValueError, "key words are 32-bit and word is 0..3");
        return 0;
    }
    b->k0 = (uint32_t)k0; b->k1 = (uint32_t)k1;
    b->base = block; b->idx = (int)word;
    bg_refill(b);
    return 1;
}

/* bitgen_new(packed, k0, k1, block, word) -> capsule "BitGenerator" */
static PyObject *bitgen_new(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 5 || !PyBytes_Check(args[0]) || PyBytes_GET_SIZE(args[0]) != (Py_ssize_t)sizeof(ks_packed_t)) {
        PyErr_SetString(PyExc_TypeError, "bitgen_new(packed: bytes, k0, k1, block, word)");
        return NULL;
    }
    ks_bitgen *b = (ks_bitgen *)PyMem_RawCalloc(1, sizeof *b);
    if (b == NULL) return PyErr_NoMemory();
    memcpy(&b->packed, PyBytes_AS_STRING(args[0]), sizeof(ks_packed_t));
    if (!bg_position(b, args + 1)) { PyMem_RawFree(b); return NULL; }
    b->bitgen.state = b;
    b->bitgen.next_uint64 = bg_next64;
    b->bitgen.next_uint32 = bg_next32;
    b->bitgen.next_double = bg_next_double;
    b->bitgen.next_raw = bg_next64;
    PyObject *capsule = PyCapsule_New(b, "BitGenerator", bg_destroy);
    if (capsule == NULL) PyMem_RawFree(b);
    return capsule;
}

/* bitgen_get(capsule) -> (k0, k1, block, word): the position of the next 32-bit word */
static PyObject *bitgen_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    ks_bitgen *b = nargs == 1 ? bg_of(args[0]) : NULL;
    if (b == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "bitgen_get(capsule)");
        return NULL;
    }
    uint64_t block = b->base + (uint64_t)(b->idx / 4);
    return Py_BuildValue("(kkKi)", (unsigned long)b->k0, (unsigned long)b->k1, (unsigned long long)block,
                         b->idx % 4);
}

/* bitgen_set(capsule, k0, k1, block, word) */
static PyObject *bitgen_set(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    ks_bitgen *b = nargs == 5 ? bg_of(args[0]) : NULL;
    if (b == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "bitgen_set(capsule, k0, k1, block, word)");
        return NULL;
    }
    if (!bg_position(b, args + 1)) return NULL;
    Py_RETURN_NONE;
}

/* bitgen_raw(capsule, n, address): n uint64 words (next_raw) into the buffer at address */
static PyObject *bitgen_raw(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    uint64_t n, address;
    ks_bitgen *b = nargs == 3 ? bg_of(args[0]) : NULL;
    if (b == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "bitgen_raw(capsule, n, address)");
        return NULL;
    }
    if (!as_u64(args[1], &n) || !as_u64(args[2], &address)) return NULL;
    uint64_t *out = (uint64_t *)(uintptr_t)address;
    Py_BEGIN_ALLOW_THREADS
    for (uint64_t i = 0; i < n; i++) out[i] = bg_next64(b);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"derive", (PyCFunction)(void (*)(void))derive, METH_FASTCALL, "A derived key's two words."},
    {"fill", (PyCFunction)(void (*)(void))fill, METH_FASTCALL, "A small draw's elements, on this thread."},
    {"small", (PyCFunction)(void (*)(void))small, METH_FASTCALL, "A small rand / randn, or None."},
    {"serve", (PyCFunction)(void (*)(void))serve, METH_FASTCALL, "A remembered small draw, or None."},
    {"bitgen_new", (PyCFunction)(void (*)(void))bitgen_new, METH_FASTCALL, "A numpy bitgen_t capsule."},
    {"bitgen_get", (PyCFunction)(void (*)(void))bitgen_get, METH_FASTCALL, "A bitgen's position."},
    {"bitgen_set", (PyCFunction)(void (*)(void))bitgen_set, METH_FASTCALL, "Move a bitgen."},
    {"bitgen_raw", (PyCFunction)(void (*)(void))bitgen_raw, METH_FASTCALL, "A bitgen's next uint64 words."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void) {
    s_default = PyUnicode_InternFromString("_DEFAULT");
    s_name = PyUnicode_InternFromString("name");
    s_device = PyUnicode_InternFromString("_device");
    s_key = PyUnicode_InternFromString("_key");
    s_offset = PyUnicode_InternFromString("_offset");
    s_lock = PyUnicode_InternFromString("_lock");
    s_locked = PyUnicode_InternFromString("locked");
    s_data_ptr = PyUnicode_InternFromString("data_ptr");
    s_version = PyUnicode_InternFromString("_version");
    s_open = PyUnicode_InternFromString("open");
    s_follow = PyUnicode_InternFromString("_follow_worker");
    s_dtype = PyUnicode_InternFromString("dtype");
    s_spawn = PyUnicode_InternFromString("_spawn_count");
    if (!s_default || !s_name || !s_device || !s_key || !s_offset || !s_lock || !s_locked || !s_data_ptr ||
        !s_version || !s_open || !s_follow || !s_dtype || !s_spawn)
        return NULL;
    return PyModule_Create(&module);
}
