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
#include "_speedups.h"

/* Bumped with every change of behaviour: sparkplug/_accel.py refuses a build of another version (a stale
 * in-place build after the source changed) and uses the upb path instead. */
#define API_VERSION 1

PyObject *spk_metric_type, *spk_payload_type, *spk_datatype_type, *spk_datatypes, *spk_payload_kwnames;
PyObject *spk_str_timestamp, *spk_str_metrics, *spk_str_seq, *spk_str_uuid, *spk_str_body;

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
    Py_XSETREF(spk_metric_type, Py_NewRef(args[0]));
    Py_XSETREF(spk_payload_type, Py_NewRef(args[1]));
    Py_XSETREF(spk_datatype_type, Py_NewRef(args[2]));
    Py_XSETREF(spk_datatypes, members);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)(void (*)(void))sp_configure, METH_FASTCALL,
     "configure(Metric, Payload, DataType): the classes decode builds and encode accepts."},
    {"decode", spk_decode, METH_O, "decode(data: bytes) -> Payload | None (None: use the upb path)."},
    {"encode", (PyCFunction)(void (*)(void))spk_encode, METH_FASTCALL,
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
    if (spk_payload_kwnames == NULL) {
        spk_str_timestamp = PyUnicode_InternFromString("timestamp");
        spk_str_metrics = PyUnicode_InternFromString("metrics");
        spk_str_seq = PyUnicode_InternFromString("seq");
        spk_str_uuid = PyUnicode_InternFromString("uuid");
        spk_str_body = PyUnicode_InternFromString("body");
        if (!spk_str_timestamp || !spk_str_metrics || !spk_str_seq || !spk_str_uuid || !spk_str_body)
            return NULL;
        spk_payload_kwnames =
            PyTuple_Pack(5, spk_str_timestamp, spk_str_metrics, spk_str_seq, spk_str_uuid, spk_str_body);
        if (spk_payload_kwnames == NULL)
            return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddIntConstant(module, "API_VERSION", API_VERSION) < 0)
        Py_CLEAR(module);
    return module;
}
