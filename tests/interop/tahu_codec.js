// Drives Eclipse Tahu's JavaScript Sparkplug codec (npm sparkplug-payload, pinned in package.json) for our
// interoperability tests and benchmark. One process serves many requests: JSON lines in on stdin, one
// JSON line out on stdout per request, in order.
//
// Requests:
//   {"op": "decode", "b64": "<payload bytes>"}            -> {"ok": true, "payload": <plain JSON>}
//   {"op": "encode", "payload": <plain JSON>}             -> {"ok": true, "b64": "<payload bytes>"}
//   {"op": "bench", "payload": <plain JSON>, "seconds": s} -> {"ok": true, "encode_per_s": n, "decode_per_s": n,
//                                                            "metrics": m, "bytes": k}   (CPU time inside Node)
//   any failure                                           -> {"ok": false, "error": "<message>"}
//
// Plain JSON conventions (both directions): 64-bit integers as decimal strings ({"$long": "123"} on the
// way in, with "unsigned": true|false), bytes as {"$bytes": "<base64>"}, non-finite numbers as
// {"$num": "NaN" | "Infinity" | "-Infinity"}.
"use strict";
const readline = require("readline");
const Long = require("long");
const sparkplug = require("sparkplug-payload").get("spBv1.0");

function toPlain(value) {
  if (value === null || value === undefined) return value === undefined ? undefined : null;
  if (Long.isLong(value)) return { $long: value.toString(), unsigned: value.unsigned };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (typeof value === "number" && !Number.isFinite(value)) return { $num: String(value) };
  if (Array.isArray(value)) return value.map(toPlain);
  if (typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) {
      const converted = toPlain(value[key]);
      if (converted !== undefined) out[key] = converted;
    }
    return out;
  }
  return value;
}

function fromPlain(value) {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map(fromPlain);
  if (typeof value === "object") {
    if ("$long" in value) return Long.fromString(value.$long, Boolean(value.unsigned));
    if ("$bytes" in value) return Buffer.from(value.$bytes, "base64");
    if ("$num" in value) return Number(value.$num);
    const out = {};
    for (const key of Object.keys(value)) out[key] = fromPlain(value[key]);
    return out;
  }
  return value;
}

function countMetrics(payload) {
  return (payload.metrics || []).length;
}

// CPU seconds (user + system) used by this process so far: the machine may be shared, and time spent
// descheduled must not count. The Python side measures the same way (time.process_time).
function cpuSeconds() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

function bench(plain, seconds) {
  const payload = fromPlain(plain);
  let bytes = sparkplug.encodePayload(payload);
  // warm up the JIT before timing
  for (let i = 0; i < 200; i++) sparkplug.decodePayload(sparkplug.encodePayload(payload));
  let iterations = 0;
  let start = cpuSeconds();
  let elapsed = 0;
  while (elapsed < seconds) {
    for (let i = 0; i < 20; i++) bytes = sparkplug.encodePayload(payload);
    iterations += 20;
    elapsed = cpuSeconds() - start;
  }
  const encodePerS = (iterations * countMetrics(payload)) / elapsed;
  iterations = 0;
  start = cpuSeconds();
  elapsed = 0;
  let sink = 0;
  while (elapsed < seconds) {
    for (let i = 0; i < 20; i++) sink += sparkplug.decodePayload(bytes).metrics.length;
    iterations += 20;
    elapsed = cpuSeconds() - start;
  }
  const decodePerS = (iterations * countMetrics(payload)) / elapsed;
  return { encode_per_s: encodePerS, decode_per_s: decodePerS, metrics: countMetrics(payload), bytes: bytes.length, sink };
}

function handle(request) {
  switch (request.op) {
    case "decode":
      return { ok: true, payload: toPlain(sparkplug.decodePayload(Buffer.from(request.b64, "base64"))) };
    case "encode":
      return { ok: true, b64: Buffer.from(sparkplug.encodePayload(fromPlain(request.payload))).toString("base64") };
    case "bench":
      return Object.assign({ ok: true }, bench(request.payload, request.seconds || 1));
    default:
      throw new Error(`unknown op ${JSON.stringify(request.op)}`);
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  let reply;
  try {
    reply = handle(JSON.parse(line));
  } catch (error) {
    reply = { ok: false, error: String(error && error.stack ? error.stack : error) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
