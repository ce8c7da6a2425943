/* Log-odds of each row of a JSON array of objects, read straight from the request's bytes.

   The compiled twin of the batch scorers in features/{boolean,categorical,numeric}.py, for their common
   case only: every row an object with exactly the model's columns, once each; a boolean column holding
   true/false, a number equal to 0 or 1, or a lower-case spelling; a categorical column holding a
   known, not rare, level spelled without escapes; a numeric column holding a number inside the
   training range; a null where the model imputes it (its share, worked out once by the Python
   one-row scorer, and the nulls counted per column for the caller's report). Anything else (an
   unseen level, an escape, malformed JSON, a duplicate key, an integer too long to be exact as a
   double) makes log_odds return None, and the caller takes the Python path, which answers, counts or
   refuses it as always. So a value scored here gets the same
   arithmetic as there: the same IEEE operations in the same order (built with -ffp-contract=off, so
   no fused multiply-add), the block partials added in design order from 0.0, then the intercept.

   Python ints are exact and compared exactly; a double is exact only up to 2^53, hence the limit of
   15 digits on integer literals. Float literals go through glibc's strtod in the C locale (whatever
   locale the process set), correctly rounded like Python's float() and msgspec. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_BOOLEAN = 0, KIND_CATEGORICAL = 1, KIND_NUMERIC = 2 };
#define MAX_COLUMNS 64 /* a row's columns seen so far fit one 64-bit mask */
#define MAX_FLOAT_LITERAL 64

static locale_t c_locale; /* "." is the decimal point whatever LC_NUMERIC says */

typedef struct {
    char *text;
    Py_ssize_t len;
    double coef;
} Level;

typedef struct {
    char *name;
    Py_ssize_t name_len;
    int kind;
    double c0;                                       /* boolean: true's share; numeric: the slope */
    double low, high, clip_low, clip_high, center, scale; /* numeric */
    int imputes;                                     /* a null has a share: missing_part */
    double missing_part;
    Level *levels;                                   /* categorical: open addressing by hash */
    Py_ssize_t slots;                                /* a power of two, at least twice the levels */
} Column;

typedef struct {
    PyObject_HEAD
    Column *columns; /* in design (block) order: the order the partials are added in */
    int n_columns;
    double intercept;
} Plan;

/* Levels are short and few: their length and three of their bytes tell most apart, and a collision
   costs one more memcmp. */
static uint64_t hash_bytes(const char *s, Py_ssize_t n) {
    if (n == 0) return 0;
    const unsigned char *u = (const unsigned char *)s;
    return (uint64_t)n * 0x9E3779B1u ^ (uint64_t)u[0] * 31u ^ (uint64_t)u[n / 2] * 131u ^ (uint64_t)u[n - 1] * 8191u;
}

/* Text that a JSON string spells only with escapes (a quote, a backslash, a control character): the
   scanner takes no escapes, so a name or level holding one is left to the Python path. */
static int needs_escapes(const char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\' || (unsigned char)s[i] < 0x20) return 1;
    }
    return 0;
}

static const Level *find_level(const Column *c, const char *s, Py_ssize_t n) {
    Py_ssize_t mask = c->slots - 1;
    for (Py_ssize_t i = (Py_ssize_t)(hash_bytes(s, n) & (uint64_t)mask);; i = (i + 1) & mask) {
        const Level *level = &c->levels[i];
        if (level->text == NULL) return NULL;
        if (level->len == n && memcmp(level->text, s, (size_t)n) == 0) return level;
    }
}

/* The spellings the boolean batch scorer looks up as they are (features/boolean.py, _TRUTH). */
static int truth_of(const char *s, Py_ssize_t n, double *truth) {
    static const struct { const char *text; double truth; } spellings[] = {
        {"true", 1.0}, {"false", 0.0}, {"yes", 1.0}, {"no", 0.0}, {"y", 1.0},
        {"n", 0.0},    {"1", 1.0},     {"0", 0.0},   {"t", 1.0},  {"f", 0.0},
    };
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        if ((Py_ssize_t)strlen(spellings[i].text) == n && memcmp(spellings[i].text, s, (size_t)n) == 0) {
            *truth = spellings[i].truth;
            return 1;
        }
    }
    return 0;
}

/* -- the scanner: each returns the position after what it read, or NULL to give up --------------- */

static const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* A string up to the next quote; *start, *len get its contents. Its escapes and control characters
   are not looked at here: the contents are only ever compared with names, levels and spellings that
   hold none (needs_escapes), so contents holding a backslash or a control character match nothing
   and the scan gives up. That includes an escaped quote, where this stops too early. */
static const char *read_string(const char *p, const char *end, const char **start, Py_ssize_t *len) {
    if (p >= end || *p != '"') return NULL;
    const char *s = ++p;
    const char *close = memchr(s, '"', (size_t)(end - s));
    if (close == NULL) return NULL;
    *start = s;
    *len = close - s;
    return close + 1;
}

/* A JSON number, by the grammar -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, as a double. */
static const char *read_number(const char *p, const char *end, double *value) {
    static const double powers_of_ten[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                           1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *start = p;
    int negative = 0, integral = 1, significant = 0, fraction_digits = 0;
    uint64_t mantissa = 0; /* the digits, while there are at most 15 significant ones */
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9') return NULL;
    if (*p == '0') {
        p++;
    } else {
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (++significant <= 15) mantissa = mantissa * 10 + (uint64_t)(*p - '0');
        }
    }
    if (p < end && *p == '.') {
        integral = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (significant == 0 && *p == '0') {
                fraction_digits++; /* a leading zero: 0.05 is 5 / 10^2 */
                continue;
            }
            if (++significant <= 15) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                fraction_digits++;
            }
        }
    }
    int exponent = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        integral = 0;
        p++;
        int exponent_negative = 0;
        if (p < end && (*p == '+' || *p == '-')) exponent_negative = *p++ == '-';
        if (p >= end || *p < '0' || *p > '9') return NULL;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (exponent < 100000) exponent = exponent * 10 + (*p - '0');
        }
        if (exponent_negative) exponent = -exponent;
    }
    if (integral) {
        if (significant > 15) return NULL; /* beyond 2^53 a double may not hold the int exactly */
        *value = (double)mantissa * (negative ? -1.0 : 1.0) + 0.0; /* -0 is the int 0, as in Python */
        return p;
    }
    int scale = exponent - fraction_digits;
    if (significant <= 15 && scale >= -22 && scale <= 22) {
        /* Both operands exact, so one IEEE division or product rounds the exact decimal value once:
           correctly rounded, as strtod is (Clinger's fast path). */
        double v = scale < 0 ? (double)mantissa / powers_of_ten[-scale] : (double)mantissa * powers_of_ten[scale];
        *value = negative ? -v : v;
        return p;
    }
    char text[MAX_FLOAT_LITERAL + 1];
    if (p - start > MAX_FLOAT_LITERAL) return NULL;
    memcpy(text, start, (size_t)(p - start));
    text[p - start] = '\0';
    double v = strtod_l(text, NULL, c_locale);
    if (isinf(v)) return NULL; /* 1e999: refused on the Python path */
    *value = v;
    return p;
}

/* One column's share of a row's log-odds, or NULL when the value is not the common case. */
static const char *read_value(const Column *c, const char *p, const char *end, double *part, Py_ssize_t *nulls) {
    if (p >= end) return NULL;
    if (*p == 'n') {
        if (!c->imputes || end - p < 4 || memcmp(p, "null", 4) != 0) return NULL;
        *part = c->missing_part;
        ++*nulls;
        return p + 4;
    }
    if (*p == '"') {
        const char *s;
        Py_ssize_t n;
        const char *after = read_string(p, end, &s, &n);
        if (after == NULL) return NULL;
        if (c->kind == KIND_CATEGORICAL) {
            const Level *level = find_level(c, s, n);
            if (level == NULL) return NULL;
            *part = level->coef;
            return after;
        }
        double truth;
        if (c->kind == KIND_BOOLEAN && truth_of(s, n, &truth)) {
            *part = truth == 1.0 ? c->c0 : 0.0;
            return after;
        }
        return NULL;
    }
    if (c->kind == KIND_BOOLEAN) {
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            *part = c->c0;
            return p + 4;
        }
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            *part = 0.0;
            return p + 5;
        }
    }
    if (c->kind == KIND_CATEGORICAL) return NULL;
    double v;
    const char *after = read_number(p, end, &v);
    if (after == NULL) return NULL;
    if (c->kind == KIND_BOOLEAN) { /* 1 == 1.0 == True and 0 == -0.0 == False share a dict key */
        if (v == 1.0) *part = c->c0;
        else if (v == 0.0) *part = 0.0;
        else return NULL;
        return after;
    }
    if (!(c->low <= v && v <= c->high)) return NULL;
    if (v < c->clip_low) v = c->clip_low;
    else if (v > c->clip_high) v = c->clip_high;
    *part = 0.0 + c->c0 * ((v - c->center) / c->scale);
    return after;
}

static int column_of(const Plan *plan, const char *s, Py_ssize_t n, int hint) {
    int i = hint < plan->n_columns ? hint : 0; /* rows usually list the keys in one order: try the next first */
    for (int k = 0; k < plan->n_columns; k++, i = i + 1 < plan->n_columns ? i + 1 : 0) {
        const Column *c = &plan->columns[i];
        if (c->name_len == n && memcmp(c->name, s, (size_t)n) == 0) return i;
    }
    return -1;
}

/* Scores every row into *out (grown as needed) and counts each column's nulls into nulls; the number
   of rows, or -1 to give up. */
static Py_ssize_t score_rows(const Plan *plan, const char *p, const char *end, double **out, Py_ssize_t *nulls) {
    Py_ssize_t n = 0, capacity = 0;
    double parts[MAX_COLUMNS];
    uint64_t all = plan->n_columns == 64 ? ~0ULL : ((1ULL << plan->n_columns) - 1);
    p = skip_space(p, end);
    if (p >= end || *p != '[') return -1;
    p = skip_space(p + 1, end);
    for (;;) {
        if (p >= end || *p != '{') return -1;
        uint64_t seen = 0;
        int hint = 0;
        p = skip_space(p + 1, end);
        for (;;) {
            const char *key;
            Py_ssize_t key_len;
            if ((p = read_string(p, end, &key, &key_len)) == NULL) return -1;
            int i = column_of(plan, key, key_len, hint);
            if (i < 0 || (seen >> i) & 1) return -1; /* an extra column, or one given twice */
            seen |= 1ULL << i;
            hint = i + 1;
            p = skip_space(p, end);
            if (p >= end || *p != ':') return -1;
            p = skip_space(p + 1, end);
            if ((p = read_value(&plan->columns[i], p, end, &parts[i], &nulls[i])) == NULL) return -1;
            p = skip_space(p, end);
            if (p < end && *p == ',') {
                p = skip_space(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') break;
            return -1;
        }
        if (seen != all) return -1; /* a column missing */
        double total = 0.0;
        for (int i = 0; i < plan->n_columns; i++) total += parts[i];
        if (n == capacity) {
            capacity = capacity ? 2 * capacity : 1024;
            double *grown = realloc(*out, (size_t)capacity * sizeof(double));
            if (grown == NULL) return -1;
            *out = grown;
        }
        (*out)[n++] = total + plan->intercept;
        p = skip_space(p + 1, end);
        if (p < end && *p == ',') {
            p = skip_space(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') break;
        return -1;
    }
    return skip_space(p + 1, end) == end ? n : -1;
}

/* -- the Python type ------------------------------------------------------------------------------ */

static void plan_free_columns(Plan *self) {
    if (self->columns == NULL) return;
    for (int i = 0; i < self->n_columns; i++) {
        Column *c = &self->columns[i];
        PyMem_Free(c->name);
        if (c->levels != NULL) {
            for (Py_ssize_t j = 0; j < c->slots; j++) PyMem_Free(c->levels[j].text);
            PyMem_Free(c->levels);
        }
    }
    PyMem_Free(self->columns);
    self->columns = NULL;
}

static void plan_dealloc(Plan *self) {
    plan_free_columns(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static char *copy_bytes(PyObject *bytes, Py_ssize_t *len) {
    char *data;
    if (PyBytes_AsStringAndSize(bytes, &data, len) < 0) return NULL;
    char *copy = PyMem_Malloc((size_t)*len + 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, data, (size_t)*len);
    return copy;
}

static int set_levels(Column *c, PyObject *levels) {
    /* levels: a list of (bytes, float), the column's known levels that are not rare */
    Py_ssize_t n = PyList_Size(levels);
    if (n < 0) return -1;
    c->slots = 4;
    while (c->slots < 2 * n) c->slots *= 2;
    c->levels = PyMem_Calloc((size_t)c->slots, sizeof(Level));
    if (c->levels == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *text;
        double coef;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(levels, j), "Sd", &text, &coef)) return -1;
        Py_ssize_t len;
        char *copy = copy_bytes(text, &len);
        if (copy == NULL) return -1;
        if (needs_escapes(copy, len)) { /* never matched: the Python path scores it */
            PyMem_Free(copy);
            continue;
        }
        Py_ssize_t mask = c->slots - 1, i = (Py_ssize_t)(hash_bytes(copy, len) & (uint64_t)mask);
        while (c->levels[i].text != NULL) i = (i + 1) & mask;
        c->levels[i] = (Level){copy, len, coef};
    }
    return 0;
}

static int plan_init(Plan *self, PyObject *args, PyObject *kwds) {
    /* Plan(columns, intercept): each column a tuple (name: bytes, kind: int, c0, low, high, clip_low,
       clip_high, center, scale, imputes: int, missing_part, levels: list[(bytes, float)]), in design
       order. */
    PyObject *columns;
    double intercept;
    static char *keywords[] = {"columns", "intercept", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!d", keywords, &PyList_Type, &columns, &intercept)) return -1;
    if (self->columns != NULL) { /* another thread may be scoring with it, the GIL released */
        PyErr_SetString(PyExc_TypeError, "a Plan is initialised once");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(columns);
    if (n < 1 || n > MAX_COLUMNS) {
        PyErr_Format(PyExc_ValueError, "a plan holds 1 to %d columns, got %zd", MAX_COLUMNS, n);
        return -1;
    }
    self->columns = PyMem_Calloc((size_t)n, sizeof(Column));
    if (self->columns == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->n_columns = (int)n;
    self->intercept = intercept;
    for (Py_ssize_t i = 0; i < n; i++) {
        Column *c = &self->columns[i];
        PyObject *name, *levels;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(columns, i), "SidddddddidO!", &name, &c->kind, &c->c0, &c->low,
                              &c->high, &c->clip_low, &c->clip_high, &c->center, &c->scale, &c->imputes,
                              &c->missing_part, &PyList_Type, &levels))
            return -1;
        if (c->kind < KIND_BOOLEAN || c->kind > KIND_NUMERIC) {
            PyErr_Format(PyExc_ValueError, "column %zd: unknown kind %d", i, c->kind);
            return -1;
        }
        if ((c->name = copy_bytes(name, &c->name_len)) == NULL) return -1;
        if (needs_escapes(c->name, c->name_len)) {
            PyErr_Format(PyExc_ValueError, "column %zd: a name that JSON spells with escapes is not planned", i);
            return -1;
        }
        if (c->kind == KIND_CATEGORICAL && set_levels(c, levels) < 0) return -1;
    }
    return 0;
}

static PyObject *plan_log_odds(Plan *self, PyObject *arg) {
    Py_buffer body;
    if (PyObject_GetBuffer(arg, &body, PyBUF_SIMPLE) < 0) return NULL;
    double *out = NULL;
    Py_ssize_t n, nulls[MAX_COLUMNS] = {0};
    Py_BEGIN_ALLOW_THREADS /* the body and the plan are read only */
    n = score_rows(self, (const char *)body.buf, (const char *)body.buf + body.len, &out, nulls);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&body);
    if (n < 0) {
        free(out);
        Py_RETURN_NONE;
    }
    PyObject *log_odds = PyByteArray_FromStringAndSize((const char *)out, n * (Py_ssize_t)sizeof(double));
    free(out);
    PyObject *counts = PyTuple_New(self->n_columns);
    if (log_odds == NULL || counts == NULL) {
        Py_XDECREF(log_odds);
        Py_XDECREF(counts);
        return NULL;
    }
    for (int i = 0; i < self->n_columns; i++) {
        PyObject *count = PyLong_FromSsize_t(nulls[i]);
        if (count == NULL) {
            Py_DECREF(log_odds);
            Py_DECREF(counts);
            return NULL;
        }
        PyTuple_SET_ITEM(counts, i, count);
    }
    return Py_BuildValue("(NN)", log_odds, counts);
}

static PyMethodDef plan_methods[] = {
    {"log_odds", (PyCFunction)plan_log_odds, METH_O,
     "log_odds(body) -> (bytearray of float64 log-odds, one per row; each column's count of nulls), or None\n"
     "where the Python path must answer"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "oddsline._jsonrows.Plan",
    .tp_basicsize = sizeof(Plan),
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The common case of a model's batch scorers, compiled for JSON rows.",
    .tp_methods = plan_methods,
    .tp_init = (initproc)plan_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, .m_name = "_jsonrows", .m_size = -1};

PyMODINIT_FUNC PyInit__jsonrows(void) {
    if (c_locale == (locale_t)0 && (c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0)) == (locale_t)0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (PyType_Ready(&PlanType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Plan", (PyObject *)&PlanType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
