// Registry server benchmark (issue 5 "Speed"): berth serve against Distribution's
// docker-registry on the same machine, interleaved round by round. Called by
// bench/registry-server.sh with the two servers already running:
//
//   node bench/registry-server.mjs OUT_DIR name=url=pid name=url=pid
//
// Measures (each side, ROUNDS rounds, medians): manifest GET by tag and small-blob GET with wrk
// (32 connections: req/s and p99), layer GET throughput (wrk, 4 connections, 100 MiB blob),
// a raw 500 MiB upload (POST + streamed PUT), 100 concurrent pushes of small images, and the
// server's RSS while 8 clients each download a 1 GiB blob.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { Agent, request } from "undici";

const [outDir, ...sides] = process.argv.slice(2);
const servers = sides.map((s) => {
  const [name, url, pid] = s.split("=");
  return { name, url, pid: Number(pid) };
});
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WRK_SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 8);
const agent = new Agent({ connections: 256 });
const sha = (b) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function http(method, url, body, headers = {}) {
  const r = await request(url, { method, body, headers, dispatcher: agent });
  const text = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body: text };
}

async function putBlob(base, repo, bytes) {
  const d = sha(bytes);
  const start = await http("POST", `${base}/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`${base} POST ${start.status} ${start.body}`);
  const loc = new URL(start.headers.location, base).toString();
  const put = await http("PUT", `${loc}${loc.includes("?") ? "&" : "?"}digest=${d}`, bytes, {
    "content-type": "application/octet-stream",
  });
  if (put.status !== 201) throw new Error(`${base} PUT ${put.status} ${put.body}`);
  return d;
}

/** Streams a file as one blob (POST, then PUT with the body): the raw upload benchmark. */
async function putFile(base, repo, path, digest, size) {
  const start = await http("POST", `${base}/v2/${repo}/blobs/uploads/`);
  const loc = new URL(start.headers.location, base).toString();
  const r = await request(`${loc}${loc.includes("?") ? "&" : "?"}digest=${digest}`, {
    method: "PUT",
    body: fs.createReadStream(path, { highWaterMark: 1 << 20 }),
    headers: { "content-length": String(size), "content-type": "application/octet-stream" },
    dispatcher: agent,
  });
  await r.body.dump();
  if (r.statusCode !== 201) throw new Error(`${base} file PUT ${r.statusCode}`);
}

function smallImage(tagSeed) {
  const layer = randomBytes(4096);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [sha(layer)] },
      seed: tagSeed,
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha(config), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha(layer), size: layer.length }],
    }),
  );
  return { layer, config, manifest };
}

async function pushImage(base, repo, tag, img) {
  for (const blob of [img.config, img.layer]) {
    const head = await http("HEAD", `${base}/v2/${repo}/blobs/${sha(blob)}`);
    if (head.status !== 200) await putBlob(base, repo, blob);
  }
  const r = await http("PUT", `${base}/v2/${repo}/manifests/${tag}`, img.manifest, {
    "content-type": "application/vnd.oci.image.manifest.v1+json",
  });
  if (r.status !== 201) throw new Error(`${base} manifest ${r.status} ${r.body}`);
}

function wrk(url, connections, seconds, headers = []) {
  const args = ["-t2", `-c${connections}`, `-d${seconds}s`, "--latency", ...headers.flatMap((h) => ["-H", h]), url];
  const out = execFileSync("wrk", args, { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = parseLatency(/^\s+99%\s+(\S+)/m.exec(out)?.[1]);
  const transfer = parseBytes(/Transfer\/sec:\s+(\S+)/.exec(out)?.[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (errors) throw new Error(`wrk ${url}: ${errors} error responses`);
  return { rps, p99, transfer };
}

function parseLatency(s) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s ?? "");
  if (!m) return Number.NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

function parseBytes(s) {
  const m = /^([\d.]+)([KMG]?B)$/.exec(s ?? "");
  if (!m) return Number.NaN;
  return Number(m[1]) * { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2]];
}

/** The server's resident memory, its child processes' included (`berth serve --workers`). */
function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const own = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
  let children = [];
  try {
    children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {}
  return own + children.reduce((sum, child) => sum + rssMiB(child), 0);
}

/** 8 clients download the 1 GiB blob at once; the server's peak RSS above its RSS before. */
async function serveBig(server, digest) {
  const before = rssMiB(server.pid);
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB(server.pid));
  }, 50);
  const started = process.hrtime.bigint();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      const r = await request(`${server.url}/v2/bench/big/blobs/${digest}`, { dispatcher: agent });
      for await (const chunk of r.body) bytes += chunk.length;
    }),
  );
  clearInterval(timer);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { before, peak, growth: peak - before, mbps: bytes / seconds / 1e6 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const work = join(outDir, "work");
  fs.mkdirSync(work, { recursive: true });
  // content: the same bytes on both sides
  const image = smallImage("bench");
  const layer100 = randomBytes(100 * 1024 * 1024);
  const bigPath = join(work, "1g.bin");
  const upPath = join(work, "500m.bin");
  for (const [path, size] of [
    [bigPath, 1024 ** 3],
    [upPath, 500 * 1024 ** 2],
  ]) {
    if (!fs.existsSync(path) || fs.statSync(path).size !== size) {
      const fd = fs.openSync(path, "w");
      for (let done = 0; done < size; done += 16 << 20) fs.writeSync(fd, randomBytes(Math.min(16 << 20, size - done)));
      fs.closeSync(fd);
    }
  }
  const fileDigest = async (path) => {
    const h = createHash("sha256");
    for await (const c of fs.createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c);
    return `sha256:${h.digest("hex")}`;
  };
  const bigDigest = await fileDigest(bigPath);
  const upDigest = await fileDigest(upPath);
  const layerDigest = sha(layer100);
  for (const s of servers) {
    await pushImage(s.url, "bench/app", "latest", image);
    await putBlob(s.url, "bench/app", layer100);
    await putFile(s.url, "bench/big", bigPath, bigDigest, 1024 ** 3);
  }

  const results = Object.fromEntries(servers.map((s) => [s.name, {}]));
  const record = (name, key, value) => {
    results[name][key] ??= [];
    results[name][key].push(value);
  };
  for (let round = 0; round < ROUNDS; round++) {
    // alternate who goes first, so drift on the shared machine hits both sides alike
    const order = round % 2 ? [...servers].reverse() : servers;
    for (const s of order) {
      // Distribution 2.8 only serves an OCI manifest to clients that accept it, as docker does
      const m = wrk(`${s.url}/v2/bench/app/manifests/latest`, 32, WRK_SECONDS, [
        "Accept: application/vnd.oci.image.manifest.v1+json",
      ]);
      record(s.name, "manifest_rps", m.rps);
      record(s.name, "manifest_p99_ms", m.p99);
      const b = wrk(`${s.url}/v2/bench/app/blobs/${sha(image.layer)}`, 32, WRK_SECONDS);
      record(s.name, "small_blob_rps", b.rps);
      record(s.name, "small_blob_p99_ms", b.p99);
      const l = wrk(`${s.url}/v2/bench/app/blobs/${layerDigest}`, 4, WRK_SECONDS);
      record(s.name, "layer_get_MBps", l.transfer / 1e6);
      const t0 = process.hrtime.bigint();
      await putFile(s.url, `bench/up${round}`, upPath, upDigest, 500 * 1024 ** 2);
      record(s.name, "upload_500MiB_MBps", (500 * 1024 ** 2) / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6);
      const images = Array.from({ length: 100 }, (_, i) => smallImage(`${s.name}-${round}-${i}`));
      const t1 = process.hrtime.bigint();
      await Promise.all(images.map((img, i) => pushImage(s.url, `bench/push${i % 10}`, `r${round}-${i}`, img)));
      record(s.name, "push_100_small_s", Number(process.hrtime.bigint() - t1) / 1e9);
      const big = await serveBig(s, bigDigest);
      record(s.name, "big_8_clients_MBps", big.mbps);
      record(s.name, "big_8_clients_rss_growth_MiB", big.growth);
      record(s.name, "big_8_clients_rss_peak_MiB", big.peak);
      process.stderr.write(`round ${round + 1} ${s.name} done\n`);
    }
  }
  fs.writeFileSync(join(outDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  const [a, b] = servers;
  const rows = Object.keys(results[a.name]).map((key) => {
    const ma = median(results[a.name][key]);
    const mb = median(results[b.name][key]);
    const fmt = (xs) => xs.map((x) => (x >= 100 ? Math.round(x) : x.toFixed(2))).join(" / ");
    return `| ${key} | ${ma.toFixed(2)} | ${mb.toFixed(2)} | ${(ma / mb).toFixed(2)} | ${fmt(results[a.name][key])} | ${fmt(results[b.name][key])} |`;
  });
  const md = [
    `| metric | ${a.name} (median) | ${b.name} (median) | ${a.name}/${b.name} | ${a.name} runs | ${b.name} runs |`,
    "|---|---:|---:|---:|---|---|",
    ...rows,
  ].join("\n");
  fs.writeFileSync(join(outDir, "registry-server.md"), `${md}\n`);
  process.stdout.write(`${md}\n`);
  await agent.close();
}

await main();
