/* The first key that appears twice in one JSON object of a request body, found in one pass over the bytes.

   msgspec (like most parsers) keeps the last value of a duplicated key; a gateway or a log reader in
   front of the model may keep the first, and then two parsers disagree about what was scored. The
   service refuses such bodies, and this scan is what makes that affordable on every request: about a
   millisecond per megabyte, where the standard library's object_pairs_hook costs tens.

   It does not validate: malformed JSON is the parser's to report, so anything unexpected ends the scan
   with "no duplicate". Keys are compared as their raw bytes; a key written with an escape ("\u0061" is
   "a") cannot be compared that way, and the scan then answers "cannot tell" for the caller to check
   with a full parse. Objects with more than SMALL keys are checked by sorting their keys when they
   close, so a hostile object of 100,000 keys costs n log n, not n^2. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#define SMALL 32
#define MAX_DEPTH 4096 /* deeper bodies are refused by the parser as too deep */

typedef struct {
    const char *text;
    Py_ssize_t len;
} Key;

typedef struct {
    Py_ssize_t first_key; /* index into keys of this object's first key; -1 for an array */
} Frame;

typedef struct {
    Key *keys;
    Py_ssize_t n, cap;
} Keys;

static int push_key(Keys *keys, const char *text, Py_ssize_t len) {
    if (keys->n == keys->cap) {
        Py_ssize_t cap = keys->cap ? 2 * keys->cap : 256;
        Key *grown = realloc(keys->keys, (size_t)cap * sizeof(Key));
        if (grown == NULL) return -1;
        keys->keys = grown;
        keys->cap = cap;
    }
    keys->keys[keys->n].text = text;
    keys->keys[keys->n].len = len;
    keys->n++;
    return 0;
}

static int compare_keys(const void *a, const void *b) {
    const Key *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->text, y->text, (size_t)x->len);
}

static int same(const Key *x, const Key *y) {
    return x->len == y->len && memcmp(x->text, y->text, (size_t)x->len) == 0;
}

/* A duplicate among keys[first..n) found on closing a large object, or NULL. Sorting reorders only
   this object's keys, which are dropped right after. */
static const Key *duplicate_on_close(Keys *keys, Py_ssize_t first) {
    Py_ssize_t count = keys->n - first;
    if (count <= SMALL) return NULL; /* checked one by one as they came */
    Key *own = keys->keys + first;
    qsort(own, (size_t)count, sizeof(Key), compare_keys);
    for (Py_ssize_t i = 1; i < count; i++)
        if (same(&own[i - 1], &own[i])) return &own[i];
    return NULL;
}

/* duplicate_key(body: bytes) -> str | None | bool: the key, None for no duplicate, True for "cannot
   tell" (a key written with an escape). */
static PyObject *duplicate_key(PyObject *module, PyObject *arg) {
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *p = view.buf, *end = p + view.len;
    Frame *stack = malloc(MAX_DEPTH * sizeof(Frame));
    Keys keys = {NULL, 0, 0};
    int depth = 0, expect_key = 0, escaped_key = 0;
    const Key *found = NULL;
    if (stack == NULL) goto no_memory;

    while (p < end && found == NULL && !escaped_key) {
        char c = *p++;
        switch (c) {
        case '{':
        case '[':
            if (depth == MAX_DEPTH) goto done;
            stack[depth++].first_key = c == '{' ? keys.n : -1;
            expect_key = c == '{';
            break;
        case '}':
        case ']':
            if (depth == 0) goto done;
            depth--;
            if (stack[depth].first_key >= 0) {
                found = duplicate_on_close(&keys, stack[depth].first_key);
                if (found == NULL) keys.n = stack[depth].first_key;
            }
            expect_key = 0;
            break;
        case ',':
            expect_key = depth > 0 && stack[depth - 1].first_key >= 0;
            break;
        case '"': {
            const char *start = p;
            int has_escape = 0;
            while (p < end && *p != '"') {
                if (*p == '\\') {
                    has_escape = 1;
                    p++;
                }
                p++;
            }
            if (p >= end) goto done;
            Py_ssize_t len = p - start;
            p++; /* the closing quote */
            if (!expect_key) break;
            expect_key = 0;
            if (has_escape) {
                escaped_key = 1;
                break;
            }
            Py_ssize_t first = stack[depth - 1].first_key;
            Key key = {start, len};
            if (keys.n - first < SMALL) {
                for (Py_ssize_t i = first; i < keys.n; i++) {
                    if (same(&keys.keys[i], &key)) {
                        found = &keys.keys[i];
                        break;
                    }
                }
            }
            if (found == NULL && push_key(&keys, start, len) < 0) goto no_memory;
            break;
        }
        default:
            break;
        }
    }

done:;
    PyObject *result;
    if (found != NULL)
        result = PyUnicode_DecodeUTF8(found->text, found->len, "replace");
    else if (escaped_key)
        result = Py_NewRef(Py_True);
    else
        result = Py_NewRef(Py_None);
    free(stack);
    free(keys.keys);
    PyBuffer_Release(&view);
    return result;

no_memory:
    free(stack);
    free(keys.keys);
    PyBuffer_Release(&view);
    return PyErr_NoMemory();
}

static PyMethodDef methods[] = {
    {"duplicate_key", duplicate_key, METH_O,
     "The first key that appears twice in one object of a JSON body; None if none does; True if a key "
     "written with an escape means only a full parse can tell."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jsonkeys", NULL, -1, methods};

PyMODINIT_FUNC PyInit__jsonkeys(void) { return PyModule_Create(&module); }
