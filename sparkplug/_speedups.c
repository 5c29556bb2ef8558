/* Optional compiled fast path of the Sparkplug B codec (sparkplug._speedups).
 *
 * Why: with the upb protobuf runtime, every field read or written from Python crosses the C API
 * (about 1 us per metric in benchmarks/sparkplug_codec.py). This module reads and writes the common
 * metric shapes directly, in one C call per payload.
 *
 * Contract (sparkplug/_accel.py wires it in; tests/sparkplug/test_speedups*.py check it):
 *   decode(data: bytes) -> Payload | None
 *   encode(payload, include_datatype: bool, uint32_in_long_value: bool) -> bytes | None
 * None means "not a shape handled here": the caller then runs the upb path, which is the reference
 * and produces the result or the proper SparkplugDecodeError/SparkplugEncodeError. So every doubt
 * (unknown or repeated field, wrong wire type, malformed or truncated bytes, a value that does not fit
 * its datatype, invalid UTF-8, an unusual Python type) returns None; this code never raises for bad
 * input and only raises MemoryError (or SystemError for an internal bug).
 *
 * Handled metric fields (Sparkplug 3.0 §14 numbers): name 1, alias 2, timestamp 3, datatype 4,
 * is_historical 5, is_transient 6, is_null 7 (decode reads and ignores it, as decode_metric does),
 * and the scalar values int 10, long 11, float 12, double 13, boolean 14, string 15, bytes 16.
 * Payload fields: timestamp 1, metrics 2, seq 3, uuid 4, body 5.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Set once by configure(): the model classes and DataType members, index = wire code. */
static PyObject *metric_type;   /* sparkplug.model.Metric (a tuple subclass of 10 fields) */
static PyObject *payload_type;  /* sparkplug.model.Payload */
static PyObject *datatype_type; /* sparkplug.datatypes.DataType */
static PyObject *datatypes;     /* tuple(DataType) */
static PyObject *payload_kwnames;
static PyObject *str_timestamp, *str_metrics, *str_seq, *str_uuid, *str_body;

/* Bumped with every change of behaviour: sparkplug/_accel.py refuses a build of another version (a stale
 * in-place build after the source changed) and uses the upb path instead. */
#define API_VERSION 1

#define METRIC_FIELDS 10 /* name alias timestamp datatype value hist transient is_null props meta */
#define NUM_DATATYPES 35 /* DataType.Unknown .. DateTimeArray */

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

/* ------------------------------------------------------------------------------------------------
 * Decoding
 * --------------------------------------------------------------------------------------------- */

/* A varint at *pp, at most 10 bytes, all inside [*pp, end). Returns 0 for anything upb might read
 * differently (a 10th byte above 1 sets bits beyond 64) or reject (truncated, too long). */
static inline int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) { /* one byte: most tags, datatypes, small values */
        *out = *p;
        *pp = p + 1;
        return 1;
    }
    uint64_t value = 0;
    for (int i = 0; i < 10; i++) {
        if (p >= end)
            return 0;
        uint8_t byte = *p++;
        if (i == 9 && byte > 1)
            return 0;
        value |= (uint64_t)(byte & 0x7F) << (7 * i);
        if (!(byte & 0x80)) {
            *pp = p;
            *out = value;
            return 1;
        }
    }
    return 0;
}

/* A length-delimited body: its start and length, checked against end. */
static int read_len(const uint8_t **pp, const uint8_t *end, const uint8_t **body, Py_ssize_t *len)
{
    uint64_t n;
    if (!read_varint(pp, end, &n) || n > (uint64_t)(end - *pp))
        return 0;
    *body = *pp;
    *len = (Py_ssize_t)n;
    *pp += n;
    return 1;
}

/* A field key: number 1..2^29-1 and wire type. */
static int read_tag(const uint8_t **pp, const uint8_t *end, uint32_t *number, int *wire)
{
    uint64_t key;
    if (!read_varint(pp, end, &key) || key > 0xFFFFFFFFu || (key >> 3) == 0)
        return 0;
    *number = (uint32_t)(key >> 3);
    *wire = (int)(key & 7);
    return 1;
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
}

/* Strict UTF-8 to str, as upb's Python string getter does. NULL without an exception set: not
 * UTF-8 (fall back, so the upb path raises its decode error). NULL with one set: out of memory. */
static PyObject *utf8(const uint8_t *p, Py_ssize_t len)
{
    PyObject *s = PyUnicode_DecodeUTF8((const char *)p, len, NULL);
    if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        PyErr_Clear();
    return s;
}

/* One metric's fields as read from the wire, before conversion. */
typedef struct {
    uint32_t seen;             /* bit n: field n occurred (a repeat means fall back) */
    const uint8_t *name;
    Py_ssize_t name_len;
    uint64_t alias, timestamp, datatype;
    int historical, transient;
    uint32_t value_field;      /* 10..16, 0 when no value field */
    uint64_t bits;             /* varint, or the raw bits of float/double */
    const uint8_t *data;       /* string/bytes value */
    Py_ssize_t data_len;
} wire_metric;

/* Parse one Metric body. Returns 0 to fall back. */
static int parse_metric(const uint8_t *p, const uint8_t *end, wire_metric *m)
{
    memset(m, 0, sizeof(*m));
    while (p < end) {
        uint32_t number;
        int wire;
        uint64_t v;
        if (!read_tag(&p, end, &number, &wire) || number > 16 || (m->seen & (1u << number)))
            return 0;
        m->seen |= 1u << number;
        if (number >= 10) {
            if (m->value_field != 0)
                return 0; /* two members of the value oneof: upb keeps the last; rare, fall back */
            m->value_field = number;
        }
        switch (number) {
        case 1:
        case 15:
        case 16:
            if (wire != WIRE_LEN)
                return 0;
            if (number == 1) {
                if (!read_len(&p, end, &m->name, &m->name_len))
                    return 0;
            } else if (!read_len(&p, end, &m->data, &m->data_len)) {
                return 0;
            }
            break;
        case 2:
        case 3:
        case 4:
        case 5:
        case 6:
        case 7:
        case 10:
        case 11:
        case 14:
            if (wire != WIRE_VARINT || !read_varint(&p, end, &v))
                return 0;
            if (number == 2)
                m->alias = v;
            else if (number == 3)
                m->timestamp = v;
            else if (number == 11)
                m->bits = v;
            else if (v > 0xFFFFFFFFu)
                return 0; /* a 32-bit field or a bool: upb would truncate; leave it to upb */
            else if (number == 4)
                m->datatype = v;
            else if (number == 10)
                m->bits = v;
            else if (v > 1)
                return 0; /* bools: only 0 and 1 here */
            else if (number == 5)
                m->historical = (int)v;
            else if (number == 6)
                m->transient = (int)v;
            else if (number == 14)
                m->bits = v;
            /* 7 (is_null): decode_metric derives is_null from the value, so it is only checked */
            break;
        case 12:
            if (wire != WIRE_I32 || end - p < 4)
                return 0;
            m->bits = load_le32(p);
            p += 4;
            break;
        case 13:
            if (wire != WIRE_I64 || end - p < 8)
                return 0;
            m->bits = load_le64(p);
            p += 8;
            break;
        default:
            return 0; /* 8 metadata, 9 properties, unknown numbers: the full decoder */
        }
    }
    return 1;
}

/* The raw wire value as Python reads it from upb (datatype Unknown, or the typed cases below). */
static PyObject *raw_value(const wire_metric *m)
{
    switch (m->value_field) {
    case 10:
    case 11:
        return PyLong_FromUnsignedLongLong(m->bits);
    case 12: {
        uint32_t u = (uint32_t)m->bits;
        float f;
        memcpy(&f, &u, sizeof f);
        return PyFloat_FromDouble((double)f);
    }
    case 13: {
        double d;
        memcpy(&d, &m->bits, sizeof d);
        return PyFloat_FromDouble(d);
    }
    case 14:
        return PyBool_FromLong((long)m->bits);
    case 15:
        return utf8(m->data, m->data_len);
    case 16:
        return PyBytes_FromStringAndSize((const char *)m->data, m->data_len);
    default:
        PyErr_SetString(PyExc_SystemError, "sparkplug._speedups: no value field");
        return NULL;
    }
}

/* Masked to `bits` then sign-extended, as sparkplug._decode._signed does (accepts Java-style 32-bit
 * sign extension and Python-style masking alike). */
static PyObject *signed_value(uint64_t raw, int bits)
{
    uint64_t mask = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    uint64_t sign = (uint64_t)1 << (bits - 1);
    uint64_t x = raw & mask;
    int64_t value = (x & sign) ? (int64_t)(x - sign) - (int64_t)(sign - 1) - 1 : (int64_t)x;
    return PyLong_FromLongLong(value);
}

/* The Python value of a metric with datatype `code` (1..34), per sparkplug._decode._DECODERS.
 * NULL without an exception: the full decoder must decide (a mismatch, a range error, an array). */
static PyObject *typed_value(const wire_metric *m, uint64_t code)
{
    uint32_t f = m->value_field;
    switch (code) {
    case 1: return f == 10 ? signed_value(m->bits, 8) : NULL;   /* Int8 */
    case 2: return f == 10 ? signed_value(m->bits, 16) : NULL;  /* Int16 */
    case 3: return f == 10 ? signed_value(m->bits, 32) : NULL;  /* Int32 */
    case 4: return f == 11 ? signed_value(m->bits, 64) : NULL;  /* Int64 */
    case 5: return f == 10 && m->bits < 0x100 ? raw_value(m) : NULL;        /* UInt8 */
    case 6: return f == 10 && m->bits < 0x10000 ? raw_value(m) : NULL;      /* UInt16 */
    case 7:                                                      /* UInt32: both fields, §19.8 */
        return (f == 10 || f == 11) && m->bits <= 0xFFFFFFFFu ? raw_value(m) : NULL;
    case 8:                                                      /* UInt64 */
    case 13: return f == 11 ? raw_value(m) : NULL;               /* DateTime */
    case 9: return f == 12 ? raw_value(m) : NULL;                /* Float */
    case 10: return f == 13 ? raw_value(m) : NULL;               /* Double */
    case 11: return f == 14 ? raw_value(m) : NULL;               /* Boolean */
    case 12:                                                     /* String */
    case 14:                                                     /* Text */
    case 15: return f == 15 ? raw_value(m) : NULL;               /* UUID */
    case 17:                                                     /* Bytes */
    case 18: return f == 16 ? raw_value(m) : NULL;               /* File */
    default: return NULL; /* DataSet, Template, property-set types, arrays: the full decoder */
    }
}

static PyObject *optional_u64(int present, uint64_t value)
{
    if (!present)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(value);
}

/* An empty Metric to fill with PyTuple_SET_ITEM, then finish_metric(). Metric's storage is the tuple
 * of its fields (sparkplug.model), built like sparkplug._metric_factory.new_metric does. */
static PyObject *start_metric(void)
{
#if PY_VERSION_HEX < 0x030E0000
    /* What tuple.__new__(Metric, items) does on 3.11-3.13 (tuple_subtype_new) minus its temporary
     * tuples: the subclass instance with NULL items (safe for tupletraverse and tupledealloc). */
    return ((PyTypeObject *)metric_type)->tp_alloc((PyTypeObject *)metric_type, METRIC_FIELDS);
#else
    return PyTuple_New(METRIC_FIELDS); /* 3.14 gave tuples a hash cache only tuple_new sets up */
#endif
}

static PyObject *finish_metric(PyObject *metric)
{
#if PY_VERSION_HEX < 0x030E0000
    return metric;
#else
    PyObject *args = PyTuple_Pack(1, metric);
    Py_DECREF(metric);
    if (args == NULL)
        return NULL;
    PyObject *result = PyTuple_Type.tp_new((PyTypeObject *)metric_type, args, NULL);
    Py_DECREF(args);
    return result;
#endif
}

/* One Metric, or NULL: with an exception set, out of memory; without, fall back. */
static PyObject *decode_metric(const uint8_t *p, const uint8_t *end)
{
    wire_metric m;
    if (!parse_metric(p, end, &m))
        return NULL;
    uint64_t code = (m.seen & (1u << 4)) ? m.datatype : 0;
    if (code >= NUM_DATATYPES)
        return NULL;
    PyObject *value;
    if (m.value_field == 0) {
        value = Py_NewRef(Py_None);
    } else if (code == 0) {
        value = raw_value(&m); /* no datatype (normal in DATA, §7): keep the wire value */
    } else {
        value = typed_value(&m, code);
    }
    if (value == NULL)
        return NULL;
    PyObject *name;
    if (m.name_len > 0) {
        name = utf8(m.name, m.name_len);
        if (name == NULL) {
            Py_DECREF(value);
            return NULL;
        }
    } else {
        name = Py_NewRef(Py_None); /* decode_metric: pm.name or None */
    }
    PyObject *alias = optional_u64(m.seen & (1u << 2), m.alias);
    PyObject *timestamp = optional_u64(m.seen & (1u << 3), m.timestamp);
    int is_null = value == Py_None;
    PyObject *items = start_metric();
    if (items == NULL) {
        Py_DECREF(name);
        Py_XDECREF(alias);
        Py_XDECREF(timestamp);
        Py_DECREF(value);
        return NULL;
    }
    /* PyTuple_SET_ITEM steals; items tolerates NULL entries on the error path below. */
    PyTuple_SET_ITEM(items, 0, name);
    PyTuple_SET_ITEM(items, 1, alias);
    PyTuple_SET_ITEM(items, 2, timestamp);
    PyTuple_SET_ITEM(items, 3, Py_NewRef(PyTuple_GET_ITEM(datatypes, (Py_ssize_t)code)));
    PyTuple_SET_ITEM(items, 4, value);
    PyTuple_SET_ITEM(items, 5, PyBool_FromLong(m.historical));
    PyTuple_SET_ITEM(items, 6, PyBool_FromLong(m.transient));
    PyTuple_SET_ITEM(items, 7, PyBool_FromLong(is_null));
    PyTuple_SET_ITEM(items, 8, Py_NewRef(Py_None));
    PyTuple_SET_ITEM(items, 9, Py_NewRef(Py_None));
    if (alias == NULL || timestamp == NULL) {
        Py_DECREF(items);
        return NULL;
    }
    items = finish_metric(items);
    /* Every item is atomic (None, bool, int, float, str, bytes) or a DataType member, which refers to
     * no Metric: this Metric can never be part of a reference cycle, so the cyclic GC need not track
     * it. CPython untracks such plain tuples itself; it does not do it for tuple subclasses, and the
     * GC passes over freshly decoded Metrics cost about a fifth of decoding time. */
    if (items != NULL)
        PyObject_GC_UnTrack(items);
    return items;
}

/* decode(data) -> Payload | None */
static PyObject *sp_decode(PyObject *module, PyObject *data)
{
    (void)module;
    if (metric_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "sparkplug._speedups.configure() was not called");
        return NULL;
    }
    if (!PyBytes_CheckExact(data))
        Py_RETURN_NONE; /* immutable bytes only: nothing can change them while we read */
    const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(data);
    const uint8_t *end = p + PyBytes_GET_SIZE(data);
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    PyObject *header[5] = {NULL, NULL, NULL, NULL, NULL}; /* timestamp metrics seq uuid body */
    uint64_t timestamp = 0, seq = 0;
    const uint8_t *uuid = NULL, *body = NULL;
    Py_ssize_t uuid_len = 0, body_len = 0;
    uint32_t seen = 0;
    PyObject *result = NULL;

    while (p < end) {
        uint32_t number;
        int wire;
        if (!read_tag(&p, end, &number, &wire) || number > 5)
            goto fallback;
        if (number == 2) {
            const uint8_t *sub;
            Py_ssize_t len;
            if (wire != WIRE_LEN || !read_len(&p, end, &sub, &len))
                goto fallback;
            PyObject *metric = decode_metric(sub, sub + len);
            if (metric == NULL)
                goto fail_or_fallback;
            int rc = PyList_Append(list, metric);
            Py_DECREF(metric);
            if (rc < 0)
                goto done;
            continue;
        }
        if (seen & (1u << number))
            goto fallback; /* a repeated header field: upb keeps the last; leave it to upb */
        seen |= 1u << number;
        if (number == 1 || number == 3) {
            if (wire != WIRE_VARINT || !read_varint(&p, end, number == 1 ? &timestamp : &seq))
                goto fallback;
        } else if (wire != WIRE_LEN || !read_len(&p, end, number == 4 ? &uuid : &body,
                                                 number == 4 ? &uuid_len : &body_len)) {
            goto fallback;
        }
    }

    header[0] = optional_u64(seen & (1u << 1), timestamp);
    if (header[0] == NULL)
        goto done;
    header[1] = PyList_AsTuple(list);
    if (header[1] == NULL)
        goto done;
    header[2] = optional_u64(seen & (1u << 3), seq);
    if (header[2] == NULL)
        goto done;
    header[3] = (seen & (1u << 4)) ? utf8(uuid, uuid_len) : Py_NewRef(Py_None);
    if (header[3] == NULL)
        goto fail_or_fallback;
    header[4] = (seen & (1u << 5)) ? PyBytes_FromStringAndSize((const char *)body, body_len)
                                   : Py_NewRef(Py_None);
    if (header[4] == NULL)
        goto done;
    result = PyObject_Vectorcall(payload_type, header, 0, payload_kwnames);
    goto done;

fail_or_fallback:
    if (PyErr_Occurred())
        goto done;
fallback:
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < 5; i++)
        Py_XDECREF(header[i]);
    Py_DECREF(list);
    return result;
}

/* ------------------------------------------------------------------------------------------------
 * Encoding
 * --------------------------------------------------------------------------------------------- */

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* One metric, checked and converted in the first pass and written in the second. The pointers are
 * into str/bytes objects kept alive by the metrics tuple, which is held for the whole call. */
typedef struct {
    const char *name;
    Py_ssize_t name_len; /* -1: no name */
    uint64_t alias, timestamp, datatype, bits;
    int has_alias, has_timestamp, historical, transient, is_null;
    uint32_t value_field; /* 10..16, 0 for null */
    const char *data;
    Py_ssize_t data_len;
    size_t size; /* body length */
} plan_metric;

/* 1 with *out set for None or an exact int in 0..2^64-1; 0 to fall back; -1 on error. */
static int optional_uint64(PyObject *obj, int *present, uint64_t *out)
{
    *present = 0;
    if (obj == Py_None)
        return 1;
    if (!PyLong_CheckExact(obj))
        return 0;
    unsigned long long v = PyLong_AsUnsignedLongLong(obj);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear(); /* negative or too big: the upb path reports it */
        return 0;
    }
    *present = 1;
    *out = v;
    return 1;
}

/* An exact int in [low, high] -> its two's complement bits in *out. 0 to fall back, -1 on error. */
static int int_in_range(PyObject *obj, long long low, long long high, uint64_t *out)
{
    if (!PyLong_CheckExact(obj))
        return 0; /* bool, IntEnum and other int subclasses: the Python converter decides */
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && !overflow && PyErr_Occurred())
        return -1;
    if (overflow || v < low || v > high)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

/* The value of a non-null metric, per sparkplug._encode.CONVERTERS. 0 to fall back, -1 on error. */
static int plan_value(plan_metric *m, PyObject *value, int u32_long)
{
    uint64_t bits = 0;
    int rc;
    switch (m->datatype) {
    case 1: /* Int8/16/32: sign-extended to 32 bits on the wire, as Tahu Java and Ignition send them */
    case 2:
    case 3: {
        long long half = m->datatype == 1 ? 0x80 : m->datatype == 2 ? 0x8000 : 0x80000000LL;
        rc = int_in_range(value, -half, half - 1, &bits);
        m->value_field = 10;
        m->bits = bits & 0xFFFFFFFFu;
        return rc;
    }
    case 4: /* Int64: masked to 64 bits */
        rc = int_in_range(value, INT64_MIN, INT64_MAX, &bits);
        m->value_field = 11;
        m->bits = bits;
        return rc;
    case 5:
    case 6:
    case 7: {
        long long high = m->datatype == 5 ? 0xFF : m->datatype == 6 ? 0xFFFF : 0xFFFFFFFFLL;
        rc = int_in_range(value, 0, high, &bits);
        m->value_field = m->datatype == 7 && u32_long ? 11 : 10; /* §19.8 */
        m->bits = bits;
        return rc;
    }
    case 8: /* UInt64 */
    case 13: { /* DateTime */
        int present;
        m->value_field = 11;
        return value == Py_None ? 0 : optional_uint64(value, &present, &m->bits);
    }
    case 9: { /* Float: rounded to float32; beyond its range (but finite) is an error */
        if (!PyFloat_CheckExact(value))
            return 0;
        double d = PyFloat_AS_DOUBLE(value);
        const double overflow = 3.4028235677973366e38; /* _encode._F32_OVERFLOW */
        if (!(-overflow < d && d < overflow) && isfinite(d))
            return 0;
        float f = (float)d;
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        m->value_field = 12;
        m->bits = u;
        return 1;
    }
    case 10: { /* Double */
        if (!PyFloat_CheckExact(value))
            return 0;
        double d = PyFloat_AS_DOUBLE(value);
        memcpy(&m->bits, &d, sizeof d);
        m->value_field = 13;
        return 1;
    }
    case 11: /* Boolean: exactly a bool */
        if (value != Py_True && value != Py_False)
            return 0;
        m->value_field = 14;
        m->bits = value == Py_True;
        return 1;
    case 12: /* String, Text, UUID */
    case 14:
    case 15:
        if (!PyUnicode_CheckExact(value))
            return 0;
        m->data = PyUnicode_AsUTF8AndSize(value, &m->data_len);
        if (m->data == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
                return -1;
            PyErr_Clear(); /* a lone surrogate: the upb path reports it */
            return 0;
        }
        m->value_field = 15;
        return 1;
    case 17: /* Bytes, File */
    case 18:
        if (!PyBytes_CheckExact(value))
            return 0;
        m->data = PyBytes_AS_STRING(value);
        m->data_len = PyBytes_GET_SIZE(value);
        m->value_field = 16;
        return 1;
    default:
        return 0; /* DataSet, Template, arrays, Unknown, property-set types */
    }
}

static size_t len_field_size(size_t tag_size, Py_ssize_t len)
{
    return tag_size + varint_size((uint64_t)len) + (size_t)len;
}

/* Check and size one metric, mirroring sparkplug._encode._metric_dicts and _Encoder.metric.
 * 1 ok, 0 fall back, -1 error. */
static int plan_one(PyObject *metric, plan_metric *m, int with_datatype, int u32_long)
{
    if (Py_TYPE(metric) != (PyTypeObject *)metric_type || PyTuple_GET_SIZE(metric) != METRIC_FIELDS)
        return 0;
    PyObject *name = PyTuple_GET_ITEM(metric, 0);
    PyObject *datatype = PyTuple_GET_ITEM(metric, 3);
    PyObject *value = PyTuple_GET_ITEM(metric, 4);
    PyObject *historical = PyTuple_GET_ITEM(metric, 5);
    PyObject *transient = PyTuple_GET_ITEM(metric, 6);
    if (PyTuple_GET_ITEM(metric, 8) != Py_None || PyTuple_GET_ITEM(metric, 9) != Py_None)
        return 0; /* properties, metadata */
    if ((historical != Py_True && historical != Py_False) || (transient != Py_True && transient != Py_False))
        return 0;
    if (Py_TYPE(datatype) != (PyTypeObject *)datatype_type)
        return 0;
    memset(m, 0, sizeof(*m));
    m->historical = historical == Py_True;
    m->transient = transient == Py_True;
    long code = PyLong_AsLong(datatype);
    if (code == -1 && PyErr_Occurred())
        return -1;
    if (code < 0 || code >= NUM_DATATYPES)
        return 0;
    m->datatype = (uint64_t)code;
    m->name_len = -1;
    if (name != Py_None) {
        if (!PyUnicode_CheckExact(name) || PyUnicode_GET_LENGTH(name) == 0)
            return 0; /* an empty name is refused by the Python encoder */
        m->name = PyUnicode_AsUTF8AndSize(name, &m->name_len);
        if (m->name == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
                return -1;
            PyErr_Clear();
            return 0;
        }
    }
    int rc = optional_uint64(PyTuple_GET_ITEM(metric, 1), &m->has_alias, &m->alias);
    if (rc != 1)
        return rc;
    rc = optional_uint64(PyTuple_GET_ITEM(metric, 2), &m->has_timestamp, &m->timestamp);
    if (rc != 1)
        return rc;
    if (value == Py_None) {
        m->is_null = 1; /* null: is_null=true and no value field, whatever the datatype (§7) */
    } else {
        /* Metric.is_null is not read for a value, as in _metric_dicts */
        rc = plan_value(m, value, u32_long);
        if (rc != 1)
            return rc;
    }
    size_t size = 0;
    if (m->name_len >= 0)
        size += len_field_size(1, m->name_len);
    if (m->has_alias)
        size += 1 + varint_size(m->alias);
    if (m->has_timestamp)
        size += 1 + varint_size(m->timestamp);
    if (with_datatype)
        size += 1 + varint_size(m->datatype);
    size += m->historical ? 2 : 0;
    size += m->transient ? 2 : 0;
    size += m->is_null ? 2 : 0;
    switch (m->value_field) {
    case 10:
    case 11:
    case 14: size += 1 + varint_size(m->bits); break;
    case 12: size += 1 + 4; break;
    case 13: size += 1 + 8; break;
    case 15: size += len_field_size(1, m->data_len); break;
    case 16: size += len_field_size(2, m->data_len); break; /* tag 130 takes two bytes */
    default: break;
    }
    m->size = size;
    return 1;
}

static uint8_t *write_metric(uint8_t *p, const plan_metric *m, int with_datatype)
{
    /* Field-number order, as upb serialises. */
    if (m->name_len >= 0) {
        *p++ = 1 << 3 | WIRE_LEN;
        p = put_varint(p, (uint64_t)m->name_len);
        memcpy(p, m->name, (size_t)m->name_len);
        p += m->name_len;
    }
    if (m->has_alias) {
        *p++ = 2 << 3 | WIRE_VARINT;
        p = put_varint(p, m->alias);
    }
    if (m->has_timestamp) {
        *p++ = 3 << 3 | WIRE_VARINT;
        p = put_varint(p, m->timestamp);
    }
    if (with_datatype) {
        *p++ = 4 << 3 | WIRE_VARINT;
        p = put_varint(p, m->datatype);
    }
    if (m->historical) {
        *p++ = 5 << 3 | WIRE_VARINT;
        *p++ = 1;
    }
    if (m->transient) {
        *p++ = 6 << 3 | WIRE_VARINT;
        *p++ = 1;
    }
    if (m->is_null) {
        *p++ = 7 << 3 | WIRE_VARINT;
        *p++ = 1;
    }
    switch (m->value_field) {
    case 10:
    case 11:
    case 14:
        *p++ = (uint8_t)(m->value_field << 3 | WIRE_VARINT);
        p = put_varint(p, m->bits);
        break;
    case 12:
        *p++ = 12 << 3 | WIRE_I32;
        for (int i = 0; i < 4; i++)
            *p++ = (uint8_t)(m->bits >> (8 * i));
        break;
    case 13:
        *p++ = 13 << 3 | WIRE_I64;
        for (int i = 0; i < 8; i++)
            *p++ = (uint8_t)(m->bits >> (8 * i));
        break;
    case 15:
    case 16:
        if (m->value_field == 15) {
            *p++ = 15 << 3 | WIRE_LEN;
        } else {
            *p++ = (16 << 3 | WIRE_LEN) | 0x80; /* varint 130 = 0x82 0x01 */
            *p++ = 1;
        }
        p = put_varint(p, (uint64_t)m->data_len);
        memcpy(p, m->data, (size_t)m->data_len);
        p += m->data_len;
        break;
    default:
        break;
    }
    return p;
}

/* encode(payload, include_datatype, uint32_in_long_value) -> bytes | None */
static PyObject *sp_encode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (metric_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "sparkplug._speedups.configure() was not called");
        return NULL;
    }
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "encode(payload, include_datatype, uint32_in_long_value)");
        return NULL;
    }
    PyObject *payload = args[0];
    int with_datatype = PyObject_IsTrue(args[1]);
    int u32_long = PyObject_IsTrue(args[2]);
    if (with_datatype < 0 || u32_long < 0)
        return NULL;
    if (Py_TYPE(payload) != (PyTypeObject *)payload_type)
        Py_RETURN_NONE;

    /* New references held to the end: they keep every pointer in the plans alive. */
    PyObject *timestamp = PyObject_GetAttr(payload, str_timestamp);
    PyObject *metrics = timestamp ? PyObject_GetAttr(payload, str_metrics) : NULL;
    PyObject *seq = metrics ? PyObject_GetAttr(payload, str_seq) : NULL;
    PyObject *uuid = seq ? PyObject_GetAttr(payload, str_uuid) : NULL;
    PyObject *body = uuid ? PyObject_GetAttr(payload, str_body) : NULL;
    plan_metric *plans = NULL;
    PyObject *result = NULL;
    if (body == NULL)
        goto done;
    if (!PyTuple_CheckExact(metrics))
        goto fallback; /* immutable: no Python code can change it between the two passes */

    int has_ts, has_seq, rc;
    uint64_t ts_value = 0, seq_value = 0;
    const char *uuid_p = NULL;
    Py_ssize_t uuid_len = -1;
    if ((rc = optional_uint64(timestamp, &has_ts, &ts_value)) != 1 ||
        (rc = optional_uint64(seq, &has_seq, &seq_value)) != 1)
        goto rc_fail;
    if (uuid != Py_None) {
        if (!PyUnicode_CheckExact(uuid))
            goto fallback;
        uuid_p = PyUnicode_AsUTF8AndSize(uuid, &uuid_len);
        if (uuid_p == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
                goto done;
            PyErr_Clear();
            goto fallback;
        }
    }
    if (body != Py_None && !PyBytes_CheckExact(body))
        goto fallback;

    Py_ssize_t count = PyTuple_GET_SIZE(metrics);
    plans = PyMem_New(plan_metric, count > 0 ? (size_t)count : 1);
    if (plans == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t total = 0;
    if (has_ts)
        total += 1 + varint_size(ts_value);
    for (Py_ssize_t i = 0; i < count; i++) {
        rc = plan_one(PyTuple_GET_ITEM(metrics, i), &plans[i], with_datatype, u32_long);
        if (rc != 1)
            goto rc_fail;
        total += len_field_size(1, (Py_ssize_t)plans[i].size);
    }
    if (has_seq)
        total += 1 + varint_size(seq_value);
    if (uuid_p != NULL)
        total += len_field_size(1, uuid_len);
    if (body != Py_None)
        total += len_field_size(1, PyBytes_GET_SIZE(body));
    if (total > (size_t)PY_SSIZE_T_MAX / 2)
        goto fallback;

    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (result == NULL)
        goto done;
    uint8_t *start = (uint8_t *)PyBytes_AS_STRING(result);
    uint8_t *p = start;
    if (has_ts) {
        *p++ = 1 << 3 | WIRE_VARINT;
        p = put_varint(p, ts_value);
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        *p++ = 2 << 3 | WIRE_LEN;
        p = put_varint(p, plans[i].size);
        p = write_metric(p, &plans[i], with_datatype);
    }
    if (has_seq) {
        *p++ = 3 << 3 | WIRE_VARINT;
        p = put_varint(p, seq_value);
    }
    if (uuid_p != NULL) {
        *p++ = 4 << 3 | WIRE_LEN;
        p = put_varint(p, (uint64_t)uuid_len);
        memcpy(p, uuid_p, (size_t)uuid_len);
        p += uuid_len;
    }
    if (body != Py_None) {
        Py_ssize_t n = PyBytes_GET_SIZE(body);
        *p++ = 5 << 3 | WIRE_LEN;
        p = put_varint(p, (uint64_t)n);
        memcpy(p, PyBytes_AS_STRING(body), (size_t)n);
        p += n;
    }
    if (p != start + total) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_SystemError, "sparkplug._speedups: encoded size mismatch");
    }
    goto done;

rc_fail:
    if (rc < 0)
        goto done;
fallback:
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(plans);
    Py_XDECREF(timestamp);
    Py_XDECREF(metrics);
    Py_XDECREF(seq);
    Py_XDECREF(uuid);
    Py_XDECREF(body);
    return result;
}

/* ------------------------------------------------------------------------------------------------
 * Module
 * --------------------------------------------------------------------------------------------- */

/* configure(Metric, Payload, DataType): done once by sparkplug._accel, not at import, so that this
 * file needs no knowledge of the Python package layout. */
static PyObject *sp_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyType_Check(args[0]) || !PyType_Check(args[1]) || !PyType_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "configure(Metric, Payload, DataType) takes three classes");
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)args[0], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "Metric must be a tuple subclass");
        return NULL;
    }
    PyObject *members = PySequence_Tuple(args[2]);
    if (members == NULL)
        return NULL;
    if (PyTuple_GET_SIZE(members) != NUM_DATATYPES) {
        Py_DECREF(members);
        PyErr_SetString(PyExc_ValueError, "DataType must have 35 members, codes 0..34");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < NUM_DATATYPES; i++) {
        long code = PyLong_AsLong(PyTuple_GET_ITEM(members, i));
        if (code != i) {
            Py_DECREF(members);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "DataType members must be codes 0..34 in order");
            return NULL;
        }
    }
    Py_XSETREF(metric_type, Py_NewRef(args[0]));
    Py_XSETREF(payload_type, Py_NewRef(args[1]));
    Py_XSETREF(datatype_type, Py_NewRef(args[2]));
    Py_XSETREF(datatypes, members);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)(void (*)(void))sp_configure, METH_FASTCALL,
     "configure(Metric, Payload, DataType): the classes decode builds and encode accepts."},
    {"decode", sp_decode, METH_O, "decode(data: bytes) -> Payload | None (None: use the upb path)."},
    {"encode", (PyCFunction)(void (*)(void))sp_encode, METH_FASTCALL,
     "encode(payload, include_datatype, uint32_in_long_value) -> bytes | None (None: use the upb path)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "sparkplug._speedups",
    "Optional C fast path of the Sparkplug B codec for common metric shapes (see sparkplug._accel).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    if (payload_kwnames == NULL) {
        str_timestamp = PyUnicode_InternFromString("timestamp");
        str_metrics = PyUnicode_InternFromString("metrics");
        str_seq = PyUnicode_InternFromString("seq");
        str_uuid = PyUnicode_InternFromString("uuid");
        str_body = PyUnicode_InternFromString("body");
        if (!str_timestamp || !str_metrics || !str_seq || !str_uuid || !str_body)
            return NULL;
        payload_kwnames = PyTuple_Pack(5, str_timestamp, str_metrics, str_seq, str_uuid, str_body);
        if (payload_kwnames == NULL)
            return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddIntConstant(module, "API_VERSION", API_VERSION) < 0)
        Py_CLEAR(module);
    return module;
}
