/* sparkplug._speedups.encode: Payload -> protobuf bytes, byte-identical to the upb path, for the common
 * shapes only (contract in _speedups.c; reference: sparkplug._encode.encode_payload_upb). */
#include "_speedups.h"

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
    if (Py_TYPE(metric) != (PyTypeObject *)spk_metric_type || PyTuple_GET_SIZE(metric) != METRIC_FIELDS)
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
    if (Py_TYPE(datatype) != (PyTypeObject *)spk_datatype_type)
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
PyObject *spk_encode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (spk_metric_type == NULL) {
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
    if (Py_TYPE(payload) != (PyTypeObject *)spk_payload_type)
        Py_RETURN_NONE;

    /* New references held to the end: they keep every pointer in the plans alive. */
    PyObject *timestamp = PyObject_GetAttr(payload, spk_str_timestamp);
    PyObject *metrics = timestamp ? PyObject_GetAttr(payload, spk_str_metrics) : NULL;
    PyObject *seq = metrics ? PyObject_GetAttr(payload, spk_str_seq) : NULL;
    PyObject *uuid = seq ? PyObject_GetAttr(payload, spk_str_uuid) : NULL;
    PyObject *body = uuid ? PyObject_GetAttr(payload, spk_str_body) : NULL;
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
