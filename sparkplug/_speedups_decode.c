/* sparkplug._speedups.decode: protobuf bytes -> Payload of Metrics, for the common shapes only
 * (contract in _speedups.c; reference: sparkplug._decode.decode_payload_upb and decode_metric). */
#include "_speedups.h"

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
 * of its fields (sparkplug.model), built like sparkplug._metric_factory.new_metric does.
 * SPARKPLUG_GENERIC_TUPLE forces the 3.14+ branch on older versions, to test it there. */
#if PY_VERSION_HEX < 0x030E0000 && !defined(SPARKPLUG_GENERIC_TUPLE)
#define DIRECT_TUPLE_SUBCLASS 1
#endif

static PyObject *start_metric(void)
{
#ifdef DIRECT_TUPLE_SUBCLASS
    /* What tuple.__new__(Metric, items) does on 3.11-3.13 (tuple_subtype_new) minus its temporary
     * tuples: the subclass instance with NULL items (safe for tupletraverse and tupledealloc). */
    return ((PyTypeObject *)spk_metric_type)->tp_alloc((PyTypeObject *)spk_metric_type, METRIC_FIELDS);
#else
    return PyTuple_New(METRIC_FIELDS); /* 3.14 gave tuples a hash cache only tuple_new sets up */
#endif
}

static PyObject *finish_metric(PyObject *metric)
{
#ifdef DIRECT_TUPLE_SUBCLASS
    return metric;
#else
    PyObject *args = PyTuple_Pack(1, metric);
    Py_DECREF(metric);
    if (args == NULL)
        return NULL;
    PyObject *result = PyTuple_Type.tp_new((PyTypeObject *)spk_metric_type, args, NULL);
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
    PyTuple_SET_ITEM(items, 3, Py_NewRef(PyTuple_GET_ITEM(spk_datatypes, (Py_ssize_t)code)));
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
PyObject *spk_decode(PyObject *module, PyObject *data)
{
    (void)module;
    if (spk_metric_type == NULL) {
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
    result = PyObject_Vectorcall(spk_payload_type, header, 0, spk_payload_kwnames);
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
