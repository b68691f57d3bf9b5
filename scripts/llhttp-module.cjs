// How the CLI's undici bundle compiles llhttp, undici's HTTP parser (WebAssembly): with V8's
// baseline compiler (Liftoff) only. scripts/build.mjs puts this in place of undici's
// `new WebAssembly.Module(bytes)`.
//
// Why: V8 recompiles a hot wasm function with TurboFan on a background thread. llhttp's parser
// is one large function (~34 kB of wasm), and after a few response heads it counts as hot: its
// TurboFan compile took ~116 ms of CPU (--trace-wasm-compilation-times) and ~29 MB of memory.
// On two cores that CPU was taken from a pull's transfer (the registry, the socket and the
// hash worker already want both), and node waits for the job at exit: a pull of a one-file
// image sat idle for 80-150 ms after its last byte. berth's requests through undici are small
// (pings, manifests, tokens, upload answers; large blobs go through direct-get/direct-upload),
// and Liftoff's code parses those heads fast enough.
//
// The flag is set only while the module is compiled (V8 records per module whether it may tier
// up): V8's code caches, node's own for its built-in modules and berth's dist/*.cache, are
// refused when the flags differ from those they were made under, so a flag left set would make
// every module loaded afterwards compile from source. If V8 refuses the flag, the module is
// compiled as undici would.
"use strict";
const v8 = require("node:v8");

module.exports = function compileLlhttp(bytes) {
  let set = false;
  try {
    v8.setFlagsFromString("--liftoff-only");
    set = true;
  } catch {}
  try {
    return new WebAssembly.Module(bytes);
  } finally {
    if (set) v8.setFlagsFromString("--no-liftoff-only");
  }
};
