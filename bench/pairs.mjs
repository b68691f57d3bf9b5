#!/usr/bin/env node
// Interleaved benchmark runner for berth against its peers (docker, node).
//
//   node bench/pairs.mjs run --id ID --label TEXT [--runs N] [--warmup N] [--target R] [--out FILE] [--keep-going]
//        --cmd NAME --exec "COMMAND" [--prepare "SHELL"]  --cmd NAME --exec ... [--prepare ...] ...
//   node bench/pairs.mjs report FILE.jsonl        prints a markdown table of every benchmark in FILE
//
// The first --cmd is berth; every other --cmd is a peer it is compared with. Each iteration
// runs every command once, in an order that rotates from one iteration to the next (AB, BA,
// AB, ...), so drift in the machine's load hits every side alike. --prepare runs, untimed,
// through bash right before its command in every iteration (and warm-up). --exec is split
// into words (single and double quotes group; no other shell syntax) and started directly,
// with stdout to /dev/null, so no shell start-up is timed; an --exec beginning with "sh:" runs
// the rest through bash -c instead. Any failure stops the run; with --keep-going, a command that
// fails (or whose --prepare fails) is recorded with its error instead (its `error` field) and
// left out of the rest of the run, while the other commands carry on.
//
// `run` prints the medians and appends one JSON line per benchmark to --out (raw times too).
import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";

function fail(msg) {
  process.stderr.write(`pairs: ${msg}\n`);
  process.exit(2);
}

/** Splits a command line into words: whitespace separates, '...' and "..." group. */
function words(line) {
  const out = [];
  let cur = "";
  let have = false;
  let quote = "";
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = "";
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      have = true;
    } else if (/\s/.test(ch)) {
      if (have) out.push(cur);
      cur = "";
      have = false;
    } else {
      cur += ch;
      have = true;
    }
  }
  if (quote) fail(`unterminated quote in: ${line}`);
  if (have) out.push(cur);
  return out;
}

function argvOf(exec) {
  if (exec.startsWith("sh:")) return ["bash", "-c", exec.slice(3)];
  const w = words(exec);
  if (w.length === 0) fail("empty --exec");
  return w;
}

/** A command's failure; stops the run unless --keep-going. */
class Failed extends Error {}
let keepGoing = false;
function failed(msg) {
  if (!keepGoing) fail(msg);
  throw new Failed(msg);
}

function shell(script, what) {
  const r = spawnSync("bash", ["-c", script], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) failed(`${what} failed (exit ${r.status ?? r.signal}): ${script}\n${r.stderr}`);
}

/** Runs one command and returns its wall time in seconds. */
function timed(cmd) {
  const [file, ...args] = cmd.argv;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { stdio: ["ignore", "ignore", "pipe"], maxBuffer: 64 << 20 });
  const t1 = process.hrtime.bigint();
  if (r.error) failed(`${cmd.name}: ${r.error.message}`);
  if (r.status !== 0) failed(`${cmd.name} failed (exit ${r.status ?? r.signal}): ${cmd.exec}\n${r.stderr}`);
  return Number(t1 - t0) / 1e9;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function parseRun(argv) {
  const spec = { id: "", label: "", runs: 5, warmup: 0, target: null, out: "", cmds: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value`);
      return argv[++i];
    };
    const last = () => spec.cmds.at(-1) ?? fail(`${flag} before any --cmd`);
    switch (flag) {
      case "--id":
        spec.id = val();
        break;
      case "--label":
        spec.label = val();
        break;
      case "--runs":
        spec.runs = Number(val());
        break;
      case "--warmup":
        spec.warmup = Number(val());
        break;
      case "--target":
        spec.target = Number(val());
        break;
      case "--out":
        spec.out = val();
        break;
      case "--keep-going":
        keepGoing = true;
        break;
      case "--cmd":
        spec.cmds.push({ name: val(), exec: "", prepare: "" });
        break;
      case "--exec":
        last().exec = val();
        break;
      case "--prepare":
        last().prepare = val();
        break;
      default:
        fail(`unknown flag ${flag}`);
    }
  }
  if (!spec.id) fail("--id is required");
  if (spec.cmds.length < 2) fail("give at least two --cmd (berth first)");
  if (!(spec.runs >= 1)) fail("--runs must be ≥ 1");
  for (const c of spec.cmds) {
    if (!c.exec) fail(`--cmd ${c.name} has no --exec`);
    c.argv = argvOf(c.exec);
  }
  return spec;
}

const fmt = (s) => (s >= 10 ? s.toFixed(1) : s >= 1 ? s.toFixed(2) : s.toFixed(3));

function run(argv) {
  const spec = parseRun(argv);
  const n = spec.cmds.length;
  const errors = spec.cmds.map(() => null);
  const once = (j) => {
    const c = spec.cmds[j];
    if (errors[j]) return null;
    try {
      if (c.prepare) shell(c.prepare, `${c.name} --prepare`);
      return timed(c);
    } catch (err) {
      if (!(err instanceof Failed)) throw err;
      errors[j] = err.message;
      process.stderr.write(`pairs: ${err.message}\n(--keep-going: ${c.name} is left out of the rest of ${spec.id})\n`);
      return null;
    }
  };
  for (let w = 0; w < spec.warmup; w++) for (let j = 0; j < n; j++) once(j);
  const times = spec.cmds.map(() => []);
  for (let it = 0; it < spec.runs; it++) {
    for (let k = 0; k < n; k++) {
      const j = (k + it) % n;
      const t = once(j);
      if (t !== null) times[j].push(t);
    }
  }
  const result = {
    id: spec.id,
    label: spec.label || spec.id,
    runs: spec.runs,
    target: spec.target,
    date: new Date().toISOString(),
    loadavg: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number),
    cmds: spec.cmds.map((c, j) => ({
      name: c.name,
      exec: c.exec,
      ...(errors[j] ? { error: errors[j] } : {}),
      median: times[j].length ? median(times[j]) : null,
      min: times[j].length ? Math.min(...times[j]) : null,
      max: times[j].length ? Math.max(...times[j]) : null,
      times: times[j],
    })),
  };
  const [b, ...peers] = result.cmds;
  const show = (c) => (c.median === null ? "failed" : `${fmt(c.median)} s`);
  const ratio = (p) => (b.median === null || p.median === null ? "" : ` (×${(b.median / p.median).toFixed(2)})`);
  const parts = peers.map((p) => `${p.name} ${show(p)}${ratio(p)}`);
  process.stdout.write(`${result.label}: ${b.name} ${show(b)} | ${parts.join(" | ")}  [n=${spec.runs}]\n`);
  if (spec.out) appendFileSync(spec.out, `${JSON.stringify(result)}\n`);
}

function report(file) {
  const rows = readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const lines = [
    "| benchmark | n | berth median (s) | peer | peer median (s) | ratio berth/peer | target | met | min–max berth; peer (s) |",
    "|---|---:|---:|---|---:|---:|---:|:---:|---|",
  ];
  for (const r of rows) {
    const [b, ...peers] = r.cmds;
    peers.forEach((p, k) => {
      const target = k === 0 && r.target != null ? r.target : null;
      if (b.median === null || p.median === null) {
        // a command that failed (--keep-going): its error is in the JSON line
        const side = (c) => (c.median === null ? "failed" : fmt(c.median));
        lines.push(
          `| ${r.label} | ${r.runs} | ${side(b)} | ${p.name} | ${side(p)} | | ${target == null ? "" : `≤ ${target}`} | ${target == null ? "" : "**no**"} | |`,
        );
        return;
      }
      const ratio = b.median / p.median;
      const met = target == null ? "" : ratio <= target ? "yes" : "**no**";
      lines.push(
        `| ${r.label} | ${r.runs} | ${fmt(b.median)} | ${p.name} | ${fmt(p.median)} | ${ratio.toFixed(2)} | ${target == null ? "" : `≤ ${target}`} | ${met} | ${fmt(b.min)}–${fmt(b.max)}; ${fmt(p.min)}–${fmt(p.max)} |`,
      );
    });
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

const [sub, ...rest] = process.argv.slice(2);
if (sub === "run") run(rest);
else if (sub === "report") report(rest[0] ?? fail("report needs a FILE.jsonl"));
else fail("usage: pairs.mjs run ... | pairs.mjs report FILE.jsonl");
