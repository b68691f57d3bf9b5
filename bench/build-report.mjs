#!/usr/bin/env node
// Turns bench/build.sh's results (bench/pairs.mjs JSON lines, ids "CELL/MODE", labels
// "WHAT | MODE") into the markdown tables of bench/out/build.md:
//   1. medians, as the issue shows them: cold / warm / edit per builder
//   2. ratios berth median / peer median, in the same shape (bold: berth slower, target missed)
//   3. every row in full (n, medians, min–max), and the errors of any builder that failed
//
//   node bench/build-report.mjs RESULTS.jsonl
import { readFileSync } from "node:fs";

const MODES = ["cold", "warm", "edit"];
const PEERS = ["buildkit", "buildah", "classic"];
const TITLE = { berth: "berth", buildkit: "BuildKit", buildah: "buildah", classic: "classic builder" };

const rows = readFileSync(process.argv[2], "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l));

const fmt = (s) => (s == null ? "fail" : s >= 10 ? s.toFixed(1) : s >= 1 ? s.toFixed(2) : s.toFixed(3));

// cell → { what, n, mode → name → cmd }
const cells = new Map();
for (const r of rows) {
  const [cell, mode] = r.id.split("/");
  const what = r.label.split(" | ")[0];
  if (!cells.has(cell)) cells.set(cell, { what, n: new Set(), modes: {} });
  const c = cells.get(cell);
  c.n.add(r.runs);
  c.modes[mode] = Object.fromEntries(r.cmds.map((x) => [x.name, x]));
}

const out = [];
const triple = (c, name, f) => MODES.map((m) => f(c.modes[m]?.[name], c.modes[m]?.berth)).join(" / ");

out.push("### Medians (s): cold / warm / one file edited", "");
out.push(`| kind of build | n | ${["berth", ...PEERS].map((p) => TITLE[p]).join(" | ")} |`);
out.push(`|---|---:|${["berth", ...PEERS].map(() => "---").join("|")}|`);
for (const [, c] of cells) {
  out.push(
    `| ${c.what} | ${[...c.n].join(",")} | ${["berth", ...PEERS].map((p) => triple(c, p, (x) => (x ? fmt(x.median) : "–"))).join(" | ")} |`,
  );
}

// a cell (kind × mode) meets the target when berth beats every peer there
let fullMet = 0;
let fullAll = 0;
for (const [, c] of cells)
  for (const m of MODES) {
    const row = c.modes[m];
    if (!row?.berth) continue;
    fullAll++;
    if (row.berth.median != null && PEERS.every((p) => row[p]?.median == null || row.berth.median < row[p].median))
      fullMet++;
  }
let cellsMet = 0;
let cellsAll = 0;
const missed = [];
out.push("", "### Ratio berth / peer (medians): cold / warm / one file edited; **bold** = berth slower", "");
out.push(`| kind of build | ${PEERS.map((p) => `vs ${TITLE[p]}`).join(" | ")} | worst |`);
out.push(`|---|${PEERS.map(() => "---").join("|")}|---:|`);
for (const [, c] of cells) {
  let worst = 0;
  const cols = PEERS.map((p) =>
    triple(c, p, (x, b) => {
      if (!x || !b) return "–";
      if (x.median == null) return "peer failed";
      if (b.median == null) return "**berth failed**";
      const r = b.median / x.median;
      cellsAll++;
      if (r <= 1) cellsMet++;
      else missed.push(r);
      worst = Math.max(worst, r);
      return r > 1 ? `**${r.toFixed(2)}**` : r.toFixed(2);
    }),
  );
  out.push(`| ${c.what} | ${cols.join(" | ")} | ${worst ? worst.toFixed(2) : "–"} |`);
}
out.push(
  "",
  `berth is faster than every peer in ${fullMet} of ${fullAll} cells (kind × cold/warm/edit), and faster in ${cellsMet} of ${cellsAll} (cell, peer) pairs${missed.length ? `; it is slower in ${missed.length}, by ${Math.min(...missed).toFixed(2)}–${Math.max(...missed).toFixed(2)}×` : ""}.`,
);

out.push("", "### Every row", "");
out.push("| kind of build | mode | n | builder | median (s) | ratio berth/it | min–max (s) | runs (s) |");
out.push("|---|---|---:|---|---:|---:|---|---|");
for (const [, c] of cells) {
  for (const m of MODES) {
    const row = c.modes[m];
    if (!row) continue;
    const b = row.berth;
    for (const name of ["berth", ...PEERS]) {
      const x = row[name];
      if (!x) continue;
      const ratio = name === "berth" || x.median == null || b?.median == null ? "" : (b.median / x.median).toFixed(2);
      const range = x.min == null ? "" : `${fmt(x.min)}–${fmt(x.max)}`;
      out.push(
        `| ${c.what} | ${m} | ${x.times.length} | ${TITLE[name]} | ${fmt(x.median)} | ${ratio} | ${range} | ${x.times.map(fmt).join(", ")} |`,
      );
    }
  }
}

const errors = rows.flatMap((r) => r.cmds.filter((x) => x.error).map((x) => ({ id: r.id, ...x })));
if (errors.length) {
  out.push("", "### Failures", "");
  for (const e of errors) out.push(`- ${e.id}, ${TITLE[e.name] ?? e.name}:`, "", "```", e.error.trim(), "```", "");
}
process.stdout.write(`${out.join("\n")}\n`);
