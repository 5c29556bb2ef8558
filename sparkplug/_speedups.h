/* Shared declarations of the sparkplug._speedups extension (see _speedups.c for its contract). */
#ifndef SPARKPLUG_SPEEDUPS_H
#define SPARKPLUG_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Set once by configure() in _speedups.c: the model classes and DataType members, index = wire code.
 * Shared between the translation units of this one extension (loaded RTLD_LOCAL by CPython). */
extern PyObject *spk_metric_type;   /* sparkplug.model.Metric (a tuple subclass of 10 fields) */
extern PyObject *spk_payload_type;  /* sparkplug.model.Payload */
extern PyObject *spk_datatype_type; /* sparkplug.datatypes.DataType */
extern PyObject *spk_datatypes;     /* tuple(DataType) */
extern PyObject *spk_payload_kwnames; /* ("timestamp", "metrics", "seq", "uuid", "body") */
extern PyObject *spk_str_timestamp, *spk_str_metrics, *spk_str_seq, *spk_str_uuid, *spk_str_body;

#define METRIC_FIELDS 10 /* name alias timestamp datatype value hist transient is_null props meta */
#define NUM_DATATYPES 35 /* DataType.Unknown .. DateTimeArray */

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

/* decode(data) -> Payload | None  (_speedups_decode.c) */
PyObject *spk_decode(PyObject *module, PyObject *data);
/* encode(payload, include_datatype, uint32_in_long_value) -> bytes | None  (_speedups_encode.c) */
PyObject *spk_encode(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
