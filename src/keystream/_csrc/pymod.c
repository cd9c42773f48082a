/* keystream._native: the calls small draws and key derivation make millions of times, with
 * the CPython C API's fast calling convention (no ctypes argument conversion, no parameter
 * arrays built per call).  It links its own copy of keystream.c and uses only what runs on
 * the calling thread (its thread pool never starts); the large kernels, which release the
 * GIL, are _kscore's, loaded with ctypes.  Built apart so that a machine without Python's
 * headers still gets the C engine. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "ks_constants.h"

void ks_philox(const uint32_t ctr[4], const uint32_t key[2], int rounds, uint32_t out[4]);
void ks_fill_small(const void *packed, uint32_t k0, uint32_t k1, uint64_t offset, uint64_t e0, int64_t n,
                   void *out);
int ks_packed_size(void);

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

/* small(ctx, generator, sizes) -> tensor or None: NOTE [ small draws ] (_draws.py) done in C for
 * the common call, g.rand(n) / g.randn(n) at torch's default dtype: the checks of _draws._small,
 * torch.empty(sizes), the blocks taken from the generator (atomically under the GIL), the fill.  None means
 * "take the Python path" (which raises, or serves what this does not).  ctx is the tuple
 * _draws._small_context() builds: (Generator, GRAPH_SAFE, forced-engine local, torch function
 * mode test, get_default_dtype, the engines module (its _DEFAULT choices), CpuEngine, torch.empty,
 * default_generator, entries {dtype: (packed, per block, engine key)}, cpu device).  The caller
 * has checked that Dynamo is not tracing (this call is not traceable; the draw operator is). */
#define SMALL_MAX (1 << 14)
enum { C_GEN, C_GRAPH, C_FORCED, C_TFMODE, C_DTYPE, C_ENGINES, C_CPU_ENGINE, C_EMPTY, C_DEFAULT_GEN, C_ENTRIES,
       C_CPU, C_COUNT };

static PyObject *s_default, *s_name, *s_device, *s_key, *s_offset, *s_lock, *s_locked, *s_data_ptr;

static int truthy_call(PyObject *fn) {
    PyObject *r = PyObject_CallNoArgs(fn);
    if (r == NULL) return -1;
    int t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

static PyObject *small(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != C_COUNT || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "small(ctx, generator, sizes)");
        return NULL;
    }
    PyObject *const *c = &PyTuple_GET_ITEM(args[0], 0);
    PyObject *g = args[1], *sizes = args[2];
    if ((PyObject *)Py_TYPE(g) != c[C_GEN] || g == c[C_DEFAULT_GEN] || PyDict_GET_SIZE(c[C_GRAPH]) != 0)
        Py_RETURN_NONE;
    /* the sizes: ints, or one tuple / list of ints */
    if (PyTuple_GET_SIZE(sizes) == 1 && !PyLong_CheckExact(PyTuple_GET_ITEM(sizes, 0))) {
        PyObject *only = PyTuple_GET_ITEM(sizes, 0);
        if (!PyTuple_CheckExact(only)) Py_RETURN_NONE;
        sizes = only;
    }
    Py_ssize_t dims = PyTuple_GET_SIZE(sizes);
    long long n = 1;
    for (Py_ssize_t i = 0; i < dims; i++) {
        PyObject *d = PyTuple_GET_ITEM(sizes, i);
        if (!PyLong_CheckExact(d)) Py_RETURN_NONE;
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(d, &overflow);
        if (overflow || v < 0 || v > SMALL_MAX) Py_RETURN_NONE;
        n *= v;
        if (n > SMALL_MAX) Py_RETURN_NONE;
    }
    if (n == 0) Py_RETURN_NONE;
    /* the generator's device, the forced engine, torch function modes */
    PyObject *dev = PyObject_GetAttr(g, s_device);
    if (dev == NULL) return NULL;
    int on_cpu = dev == c[C_CPU] ? 1 : PyObject_RichCompareBool(dev, c[C_CPU], Py_EQ);
    Py_DECREF(dev);
    if (on_cpu != 1) { if (on_cpu < 0) return NULL; Py_RETURN_NONE; }
    PyObject *forced = PyObject_GetAttr(c[C_FORCED], s_name);
    if (forced == NULL) return NULL;
    Py_DECREF(forced);
    if (forced != Py_None) Py_RETURN_NONE;
    int t = truthy_call(c[C_TFMODE]);
    if (t != 0) { if (t < 0) return NULL; Py_RETURN_NONE; }
    /* the draw's packed parameters at the default dtype, and the engine torch would pick */
    PyObject *dtype = PyObject_CallNoArgs(c[C_DTYPE]);
    if (dtype == NULL) return NULL;
    PyObject *entry = PyDict_GetItemWithError(c[C_ENTRIES], dtype);
    Py_DECREF(dtype);
    if (entry == NULL) { if (PyErr_Occurred()) return NULL; Py_RETURN_NONE; }
    PyObject *packed = PyTuple_GET_ITEM(entry, 0), *engine_key = PyTuple_GET_ITEM(entry, 2);
    long long per_block = PyLong_AsLongLong(PyTuple_GET_ITEM(entry, 1));
    PyObject *choices = PyObject_GetAttr(c[C_ENGINES], s_default);  /* (the module's, looked up each time) */
    if (choices == NULL) return NULL;
    PyObject *engine = PyDict_Check(choices) ? PyDict_GetItemWithError(choices, engine_key) : NULL;
    Py_DECREF(choices);  /* (the module keeps the dict, and the dict the engine, alive) */
    if (engine == NULL || (PyObject *)Py_TYPE(engine) != c[C_CPU_ENGINE]) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
#ifdef Py_GIL_DISABLED
    Py_RETURN_NONE; /* (no GIL to make the reservation below atomic: the Python path) */
#endif
    /* allocate, then take the blocks: when no thread holds the generator's lock, none is
     * inside its critical section, and none can enter while this holds the GIL (nothing
     * below releases it or runs Python code: the Generator has __slots__) */
    /* torch.empty(2, 3) parses faster than torch.empty((2, 3)) (0.65 against 1.0 us measured) */
    PyObject *out = dims > 0 ? PyObject_Call(c[C_EMPTY], sizes, NULL) : PyObject_CallOneArg(c[C_EMPTY], sizes);
    if (out == NULL) return NULL;
    uint64_t blocks = (uint64_t)((n + per_block - 1) / per_block);
    PyObject *lock = PyObject_GetAttr(g, s_lock);
    if (lock == NULL) { Py_DECREF(out); return NULL; }
    PyObject *held = PyObject_CallMethodNoArgs(lock, s_locked);
    Py_DECREF(lock);
    if (held == NULL) { Py_DECREF(out); return NULL; }
    int busy = PyObject_IsTrue(held);
    Py_DECREF(held);
    if (busy != 0) { Py_DECREF(out); if (busy < 0) return NULL; Py_RETURN_NONE; }
    PyObject *key = NULL, *offset = NULL, *next = NULL;
    uint64_t start = 0, k0 = 0, k1 = 0;
    int ok = 0;
    key = PyObject_GetAttr(g, s_key);
    offset = PyObject_GetAttr(g, s_offset);
    if (key != NULL && offset != NULL && PyTuple_Check(key) && PyTuple_GET_SIZE(key) == 2) {
        start = PyLong_AsUnsignedLongLong(offset);
        k0 = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(key, 0));
        k1 = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(key, 1));
        /* offset stays below 2^64 (the Python path raises the OverflowError) */
        if (!PyErr_Occurred() && start + blocks > start) {
            next = PyLong_FromUnsignedLongLong(start + blocks);
            ok = next != NULL && PyObject_SetAttr(g, s_offset, next) == 0;
        }
    }
    Py_XDECREF(key); Py_XDECREF(offset); Py_XDECREF(next);
    if (PyErr_Occurred()) { Py_DECREF(out); return NULL; }
    if (!ok) { Py_DECREF(out); Py_RETURN_NONE; }
    PyObject *ptr = PyObject_CallMethodNoArgs(out, s_data_ptr);
    if (ptr == NULL) { Py_DECREF(out); return NULL; }
    uint64_t address = PyLong_AsUnsignedLongLong(ptr);
    Py_DECREF(ptr);
    if (PyErr_Occurred()) { Py_DECREF(out); return NULL; }
    ks_fill_small(PyBytes_AS_STRING(packed), (uint32_t)k0, (uint32_t)k1, start, 0, (int64_t)n,
                  (void *)(uintptr_t)address);
    return out;
}

static PyMethodDef methods[] = {
    {"derive", (PyCFunction)(void (*)(void))derive, METH_FASTCALL, "A derived key's two words."},
    {"fill", (PyCFunction)(void (*)(void))fill, METH_FASTCALL, "A small draw's elements, on this thread."},
    {"small", (PyCFunction)(void (*)(void))small, METH_FASTCALL, "A small rand / randn, or None."},
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
    if (!s_default || !s_name || !s_device || !s_key || !s_offset || !s_lock || !s_locked || !s_data_ptr)
        return NULL;
    return PyModule_Create(&module);
}
