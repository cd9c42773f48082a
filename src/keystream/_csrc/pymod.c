/* keystream._kscore as a Python module: the calls small draws and key derivation make
 * millions of times, with the CPython C API's fast calling convention (no ctypes argument
 * conversion, no parameter arrays built per call).  The same shared library is also loaded
 * with ctypes for the large kernels (which release the GIL): one library, one thread pool. */
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

static PyMethodDef methods[] = {
    {"derive", (PyCFunction)(void (*)(void))derive, METH_FASTCALL, "A derived key's two words."},
    {"fill", (PyCFunction)(void (*)(void))fill, METH_FASTCALL, "A small draw's elements, on this thread."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kscore", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__kscore(void) { return PyModule_Create(&module); }
