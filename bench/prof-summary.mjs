#!/usr/bin/env node
// Summarises V8 CPU profiles (node --cpu-prof) of berth: where the wall time of the sampled
// thread went, by source file and by function, self and inclusive.
//
//   node bench/prof-summary.mjs [--dist DIR] FILE.cpuprofile...
//
// Frames in berth's bundle (dist/cli.cjs) are mapped back to src/ through dist/cli.cjs.map.
// V8 may name the bundle by the path it had when its code cache was made; --dist DIR says
// which copy actually ran (its maps and its bin/ are then used).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decodes a source map's mappings into, per generated line, [column, source, line] sorted by column. */
function decodeMap(map) {
  const lines = [];
  let src = 0;
  let srcLine = 0;
  for (const line of map.mappings.split(";")) {
    const segs = [];
    let col = 0;
    for (const seg of line.split(",")) {
      if (!seg) continue;
      const vals = [];
      let v = 0;
      let shift = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        v += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          vals.push(v & 1 ? -(v >>> 1) : v >>> 1);
          v = 0;
          shift = 0;
        }
      }
      col += vals[0];
      if (vals.length >= 4) {
        src += vals[1];
        srcLine += vals[2]; // (source column and name deltas: not needed here)
        segs.push([col, src, srcLine]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

// berth's loader (in bin/) may run dist/cli.cjs inside a function wrapper prepended to the
// bundle's first line, so V8's columns on line 0 are off by the wrapper's length. The wrapper
// is read from the bin/ next to the bundle's dist/.
function wrapperShift(bundle) {
  const bin = join(dirname(bundle), "..", "bin");
  try {
    for (const f of readdirSync(bin)) {
      const m = /const wrapper = `([^`]*?)\$\{source\}/.exec(readFileSync(join(bin, f), "utf8"));
      if (m) return m[1].length;
    }
  } catch {}
  return 0;
}

const maps = new Map();
function mapperFor(url) {
  if (!url.endsWith(".cjs") && !url.endsWith(".js")) return null;
  if (maps.has(url)) return maps.get(url);
  let mapper = null;
  let file = url.startsWith("file://") ? fileURLToPath(url) : url;
  if (distDir && existsSync(join(distDir, basename(file)))) file = join(distDir, basename(file));
  if (existsSync(`${file}.map`)) {
    const map = JSON.parse(readFileSync(`${file}.map`, "utf8"));
    const lines = decodeMap(map);
    const shift = file.endsWith("dist/cli.cjs") ? wrapperShift(file) : 0;
    mapper = (line, col) => {
      if (line === 0) col -= shift;
      const segs = lines[line] ?? [];
      let best = null;
      for (const s of segs) {
        if (s[0] <= col) best = s;
        else break;
      }
      // No mapping there: the wrapper (the bundle's top level), its banner or esbuild's helpers.
      if (!best) return { file: `${basename(file)} (top level, esbuild helpers)`, line: 1 };
      return { file: map.sources[best[1]].replace(/^(\.\.\/)+/, ""), line: best[2] + 1 };
    };
  }
  maps.set(url, mapper);
  return mapper;
}

function frameOf(cf) {
  const name = cf.functionName || "(anonymous)";
  if (!cf.url) return { key: name, file: name.startsWith("(") ? name : "(native)", name };
  const m = mapperFor(cf.url);
  const pos = m?.(cf.lineNumber, cf.columnNumber);
  if (pos) return { key: `${name} ${pos.file}:${pos.line}`, file: pos.file, name };
  const file = cf.url.replace(/^file:\/\//, "");
  return { key: `${name} ${file}:${cf.lineNumber + 1}`, file, name };
}

const ms = (us) => (us / 1000).toFixed(1).padStart(8);

const args = process.argv.slice(2);
let distDir = "";
if (args[0] === "--dist") {
  distDir = args[1];
  args.splice(0, 2);
}
for (const path of args) {
  const prof = JSON.parse(readFileSync(path, "utf8"));
  const byId = new Map(prof.nodes.map((n) => [n.id, { ...n, self: 0 }]));
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i]);
    if (n) n.self += prof.timeDeltas[i] ?? 0;
  }
  const total = prof.endTime - prof.startTime;
  const selfBy = new Map();
  const fileBy = new Map();
  const inclBy = new Map();
  // Inclusive time per function, counting a function once per stack (recursion is not doubled).
  const walk = (id, onStack) => {
    const n = byId.get(id);
    const f = frameOf(n.callFrame);
    selfBy.set(f.key, (selfBy.get(f.key) ?? 0) + n.self);
    fileBy.set(f.file, (fileBy.get(f.file) ?? 0) + n.self);
    let sum = n.self;
    const fresh = !onStack.has(f.key);
    if (fresh) onStack.add(f.key);
    for (const c of n.children ?? []) sum += walk(c, onStack);
    if (fresh) {
      onStack.delete(f.key);
      inclBy.set(f.key, (inclBy.get(f.key) ?? 0) + sum);
    }
    return sum;
  };
  walk(prof.nodes[0].id, new Set());
  const top = (m, k) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([key, us]) => `${ms(us)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`);
  const out = [
    `# ${basename(path)}: ${(total / 1000).toFixed(1)} ms profiled, ${prof.samples.length} samples`,
    "",
    "## self time by file",
    ...top(fileBy, 20),
    "",
    "## self time by function",
    ...top(selfBy, 30),
    "",
    "## inclusive time by function",
    ...top(inclBy, 30),
    "",
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}
