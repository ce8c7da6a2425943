/* The one-hot rows of a streamed pass's Gram matrix, from level codes: the one-hot columns are never
   materialised.

   A row of a batch has, in each categorical block, at most one level: its design column among the L
   one-hot columns (or -1, a level in none of them). Its share of [X, 1]^T diag(h) [X, 1] in the one-hot
   rows is therefore h times its dense values added to the row of each of its levels (the one-hot x dense
   block) and h added at each pair of its levels (the one-hot x one-hot block). The dense product as a
   GEMM on 0/1 columns spends 7/8 of its work on zeros (8 levels a block); here a row costs one pass
   over its dense values per block. Called from distributed/kernel.py, which checks the shapes; the
   loop runs without the GIL so the local engine's threads run it side by side. The numpy fallback
   there (one-hot GEMM) gives the same sums up to rounding and is tested against this. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 32 /* rows transposed at a time: CHUNK x k doubles stay in cache */

/* accumulate(codes, dense_t, h, out, n, k, blocks, L)
   codes:   int32, n x blocks, C order: each row's one-hot column per block, or -1
   dense_t: float64, k x n, C order (the batch's dense columns, F order, transposed)
   h:       float64, n
   out:     float64, L x (k + L), C order, added to: [:, :k] the one-hot x dense block, [:, k:] the upper
            triangle (diagonal included) of the one-hot x one-hot block, blocks in layout order */
static PyObject *accumulate(PyObject *self, PyObject *args) {
    Py_buffer codes, dense, h, out;
    Py_ssize_t n, k, blocks, L;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*w*nnnn", &codes, &dense, &h, &out, &n, &k, &blocks, &L)) return NULL;
    PyObject *result = NULL;
    double *chunk = NULL;
    if (n < 0 || k < 0 || blocks < 0 || L < 0 || codes.len != n * blocks * (Py_ssize_t)sizeof(int32_t) ||
        dense.len != n * k * (Py_ssize_t)sizeof(double) || h.len != n * (Py_ssize_t)sizeof(double) ||
        out.len != L * (k + L) * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "accumulate: buffer sizes do not match n, k, blocks and L");
        goto done;
    }
    chunk = malloc(sizeof(double) * (size_t)(CHUNK * (k > 0 ? k : 1)));
    if (chunk == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const int32_t *code = codes.buf;
    const double *x = dense.buf, *hv = h.buf;
    double *o = out.buf;
    const Py_ssize_t width = k + L;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t r0 = 0; r0 < n && !bad; r0 += CHUNK) {
        const Py_ssize_t rows = n - r0 < CHUNK ? n - r0 : CHUNK;
        /* h * x for the chunk's rows, row-major: each column is read contiguously. */
        for (Py_ssize_t j = 0; j < k; j++) {
            const double *column = x + j * n + r0;
            for (Py_ssize_t i = 0; i < rows; i++) chunk[i * k + j] = column[i] * hv[r0 + i];
        }
        /* Block by block, so the rows of out being added to (one block's levels) stay in L1 cache. */
        for (Py_ssize_t b = 0; b < blocks && !bad; b++) {
            for (Py_ssize_t i = 0; i < rows; i++) {
                const int32_t *c = code + (r0 + i) * blocks;
                const int32_t a = c[b];
                if (a < 0) continue;
                if (a >= L) {
                    bad = 1;
                    break;
                }
                const double *hx = chunk + i * k, hr = hv[r0 + i];
                double *row = o + (Py_ssize_t)a * width;
                for (Py_ssize_t j = 0; j < k; j++) row[j] += hx[j];
                for (Py_ssize_t b2 = b; b2 < blocks; b2++) {
                    const int32_t e = c[b2];
                    if (e >= 0 && e < L) row[k + e] += hr;
                }
            }
        }
    }
    Py_END_ALLOW_THREADS;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "accumulate: a code is past the last one-hot column");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    free(chunk);
    PyBuffer_Release(&codes);
    PyBuffer_Release(&dense);
    PyBuffer_Release(&h);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"accumulate", accumulate, METH_VARARGS, "Add a batch's one-hot rows of [X, 1]^T diag(h) [X, 1] to out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_onehot", NULL, -1, methods};

PyMODINIT_FUNC PyInit__onehot(void) { return PyModule_Create(&module); }
