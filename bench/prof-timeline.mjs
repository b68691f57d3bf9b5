#!/usr/bin/env node
// A timeline of one V8 CPU profile (node --cpu-prof): the profile is cut into windows of
// --window ms, and for each window prof-summary.mjs names where the time went (its top frames
// in src/ by inclusive time, and the idle and garbage-collector shares). Inclusive times of a
// whole profile say little about async code (awaited work is credited to the microtask queue);
// per window, the phases of a build (hashing the context, copying, committing a layer,
// unpacking a snapshot, waiting for runc) show one after the other.
//
//   node bench/prof-timeline.mjs [--dist DIR] [--window MS] FILE.cpuprofile
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
let dist = "";
let windowMs = 250;
let file = "";
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--dist") dist = args[++i];
  else if (args[i] === "--window") windowMs = Number(args[++i]);
  else file = args[i];
}
if (!file || !(windowMs > 0)) {
  process.stderr.write("usage: prof-timeline.mjs [--dist DIR] [--window MS] FILE.cpuprofile\n");
  process.exit(2);
}

const profile = JSON.parse(readFileSync(file, "utf8"));
const windows = new Map();
let t = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i];
  const k = Math.floor(t / 1000 / windowMs);
  if (!windows.has(k)) windows.set(k, { samples: [], deltas: [] });
  windows.get(k).samples.push(profile.samples[i]);
  windows.get(k).deltas.push(profile.timeDeltas[i]);
}

const summary = join(dirname(fileURLToPath(import.meta.url)), "prof-summary.mjs");
const tmp = mkdtempSync(join(tmpdir(), "prof-timeline-"));
try {
  const lines = [`# ${file}: windows of ${windowMs} ms; per window: idle, GC, then the top src/ frames (inclusive)`];
  for (const k of [...windows.keys()].sort((a, b) => a - b)) {
    const w = windows.get(k);
    const total = w.deltas.reduce((a, b) => a + b, 0);
    const part = join(tmp, `w${k}.cpuprofile`);
    writeFileSync(
      part,
      JSON.stringify({ ...profile, samples: w.samples, timeDeltas: w.deltas, startTime: 0, endTime: total }),
    );
    const r = spawnSync(process.execPath, [summary, ...(dist ? ["--dist", dist] : []), part], { encoding: "utf8" });
    const incl = (r.stdout.split("## inclusive time by function")[1] ?? "").split("\n");
    const pick = (re) => incl.find((l) => re.test(l));
    const pct = (l) => (l ? l.trim().split(/\s+/)[2] : "0%");
    const top = incl
      .filter((l) => / src\//.test(l))
      .slice(0, 3)
      .map((l) => {
        const f = l.trim().split(/\s+/);
        return `${f.slice(4).join(" ")} ${f[2]}`;
      });
    const from = ((k * windowMs) / 1000).toFixed(2);
    const to = (((k + 1) * windowMs) / 1000).toFixed(2);
    lines.push(
      `${from}–${to} s  idle ${pct(pick(/\(idle\)/))}  GC ${pct(pick(/\(garbage collector\)/))}  ${top.join(" | ")}`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
