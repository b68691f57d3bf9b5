import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { berth, must, sh, tempDir } from "./helpers.js";
import {
  berthAsync,
  Distribution,
  freePort,
  ok,
  randomImageArchive,
  tlsDistribution,
} from "./registry-client-harness.js";

/**
 * Registries behind an HTTP proxy (tinyproxy, a real one), the way dockerd takes it from its
 * environment: HTTP_PROXY for plain registries (absolute-form requests), HTTPS_PROXY for TLS
 * ones (a CONNECT tunnel, the registry's own TLS inside it), NO_PROXY for those reached
 * directly. Loopback is never proxied (Go's rule), so the registries listen on an address of
 * their own, added to lo for the test (198.18.0.0/15 is for benchmarks, routed nowhere).
 */
const ADDRESS = "198.18.0.7";
const MiB = 1 << 20;
let work: string;
let addedAddress = false;
let proxy: ChildProcess;
let proxyPort: number;
let proxyLog: string;
let archive: string;

before(async () => {
  work = tempDir("rc-proxy");
  if (!sh("ip", ["-4", "addr", "show", "dev", "lo"]).stdout.includes(`${ADDRESS}/32`)) {
    must("ip", ["addr", "add", `${ADDRESS}/32`, "dev", "lo"]);
    addedAddress = true;
  }
  proxyPort = await freePort();
  proxyLog = join(work, "tinyproxy.log");
  const conf = join(work, "tinyproxy.conf");
  fs.writeFileSync(
    conf,
    [
      `Port ${proxyPort}`,
      "Listen 127.0.0.1",
      "Timeout 600",
      `LogFile "${proxyLog}"`,
      "LogLevel Connect",
      "MaxClients 100",
      "Allow 127.0.0.1",
      "DisableViaHeader Yes",
      "",
    ].join("\n"),
  );
  proxy = spawn("tinyproxy", ["-d", "-c", conf], { stdio: "ignore" });
  for (let i = 0; i < 200 && !(await listening(proxyPort)); i++) await sleep(25);
  archive = await randomImageArchive(work, { name: "proxied/img:1", layers: 1, layerBytes: 40 * MiB });
});
after(() => {
  proxy.kill();
  if (addedAddress) sh("ip", ["addr", "del", `${ADDRESS}/32`, "dev", "lo"]);
});

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** What tinyproxy was asked since the log was emptied: "GET http://…", "CONNECT host:port". */
function proxied(): string[] {
  const text = fs.existsSync(proxyLog) ? fs.readFileSync(proxyLog, "latin1") : "";
  return [...text.matchAll(/Request \(file descriptor \d+\): (\S+ \S+)/g)].map((m) => m[1] as string);
}

/** Pushes the image to `reg` from a new store, then pulls it into another: the same image ID. */
async function pushAndPull(t: TestContext, name: string, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = join(work, t.name.replace(/\W+/g, "-").slice(0, 40));
  const root = join(dir, "root");
  ok(berth(root, ["load", "-i", archive]), "load");
  ok(berth(root, ["tag", "proxied/img:1", name]), "tag");
  const id = (JSON.parse(ok(berth(root, ["inspect", name]), "inspect")) as { Id: string }[])[0]?.Id;
  fs.writeFileSync(proxyLog, "");
  ok(await berthAsync(root, ["push", name], { env }), "push");
  const back = join(dir, "back");
  ok(await berthAsync(back, ["pull", name], { env }), "pull");
  assert.equal((JSON.parse(ok(berth(back, ["inspect", name]), "inspect")) as { Id: string }[])[0]?.Id, id);
}

test("a plain registry behind HTTP_PROXY: every request of a push and a pull goes through the proxy", async (t) => {
  const reg = await Distribution.start(join(work, "plain"), { address: ADDRESS });
  t.after(() => reg.stop());
  const env = { HTTP_PROXY: `http://127.0.0.1:${proxyPort}`, BERTH_INSECURE_REGISTRIES: reg.host };
  await pushAndPull(t, `${reg.host}/proxied/img:1`, env);
  const asked = proxied();
  const seen = reg.requests();
  // the large layer's PATCH and GET, which go the direct ways without a proxy, went through it
  assert.ok(
    asked.some((r) => r.startsWith(`PATCH http://${reg.host}/v2/proxied/img/blobs/uploads/`)),
    asked.join("\n"),
  );
  assert.ok(asked.filter((r) => r.startsWith(`GET http://${reg.host}/v2/proxied/img/blobs/`)).length >= 2);
  // and nothing reached the registry any other way
  assert.equal(asked.length, seen.length, `proxy:\n${asked.join("\n")}\nregistry:\n${seen.join("\n")}`);
});

test("a TLS registry behind HTTPS_PROXY: a CONNECT tunnel, its CA from certs.d", async (t) => {
  const { reg, certsD, trust } = await tlsDistribution(t, join(work, "tls"), { address: ADDRESS });
  trust();
  const env = { HTTPS_PROXY: `127.0.0.1:${proxyPort}`, BERTH_CERTS_D: certsD }; // no scheme: http://, as Go reads it
  await pushAndPull(t, `${reg.host}/proxied/img:1`, env);
  const asked = proxied();
  assert.ok(asked.length >= 1, "the proxy was asked");
  assert.ok(
    asked.every((r) => r === `CONNECT ${reg.host}`),
    asked.join("\n"),
  );
  assert.ok(reg.requests().length > asked.length, "several requests went through each tunnel");
});

test("NO_PROXY: a registry it names (here by CIDR) is reached directly", async (t) => {
  const reg = await Distribution.start(join(work, "direct"), { address: ADDRESS });
  t.after(() => reg.stop());
  const env = {
    http_proxy: `http://127.0.0.1:${proxyPort}`,
    no_proxy: "example.com,198.18.0.0/15",
    BERTH_INSECURE_REGISTRIES: reg.host,
  };
  await pushAndPull(t, `${reg.host}/proxied/img:1`, env);
  assert.deepEqual(proxied(), []);
  assert.ok(reg.requests().length > 5);
});
