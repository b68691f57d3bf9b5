import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CredentialStore } from "../src/registry-client/credentials.js";
import { proxyConfigFromEnv, proxyFor } from "../src/registry-client/proxy.js";
import {
  apiHost,
  credentialKey,
  isLoopback,
  isNamedInsecure,
  registryConfigFromEnv,
} from "../src/registry-client/registry-config.js";
import { parseRetryAfter } from "../src/registry-client/transport.js";
import { loginDomain } from "../src/verbs/login.js";
import { berth, tempDir } from "./helpers.js";

/** The registry client's pure parts: names, insecure hosts, Retry-After, docker's config.json. */

test("Docker Hub's names: docker.io is served by registry-1.docker.io, logins live under the v1 URL", () => {
  assert.equal(apiHost("docker.io"), "registry-1.docker.io");
  assert.equal(apiHost("localhost:5000"), "localhost:5000");
  assert.equal(credentialKey("docker.io"), "https://index.docker.io/v1/");
  assert.equal(credentialKey("ghcr.io"), "ghcr.io");
  for (const s of [undefined, "docker.io", "index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"]) {
    assert.equal(loginDomain(s), "docker.io", String(s));
  }
  assert.equal(loginDomain("https://127.0.0.1:5000/"), "127.0.0.1:5000");
  assert.throws(() => loginDomain("bad host!"), /invalid reference/);
});

test("plain HTTP: loopback always, other hosts only when named (host, host:port or CIDR)", () => {
  assert.ok(isLoopback("localhost:5000"));
  assert.ok(isLoopback("127.1.2.3:80"));
  assert.ok(isLoopback("[::1]:5000"));
  assert.ok(!isLoopback("10.0.0.1:5000"));
  const insecure = ["myreg:5000", "other.example", "10.1.0.0/16", "http://withscheme:1234/"];
  assert.ok(isNamedInsecure("myreg:5000", insecure));
  assert.ok(!isNamedInsecure("myreg:5001", insecure));
  assert.ok(isNamedInsecure("other.example:443", insecure));
  assert.ok(isNamedInsecure("10.1.200.3:5000", insecure));
  assert.ok(!isNamedInsecure("10.2.0.1:5000", insecure));
  assert.ok(isNamedInsecure("withscheme:1234", insecure));
});

test("the environment and daemon.json give the configuration", () => {
  const dir = tempDir("rc-units");
  fs.writeFileSync(join(dir, "daemon.json"), JSON.stringify({ "insecure-registries": ["fromdaemon:5000"] }));
  const config = registryConfigFromEnv({
    HOME: dir,
    BERTH_INSECURE_REGISTRIES: "a:1, b:2",
    BERTH_DOCKER_DAEMON_JSON: join(dir, "daemon.json"),
    BERTH_REGISTRY_ATTEMPTS: "7",
  });
  assert.deepEqual(config.insecure, ["a:1", "b:2", "fromdaemon:5000"]);
  assert.equal(config.dockerConfigDir, join(dir, ".docker"));
  assert.equal(config.certsDir, "/etc/docker/certs.d");
  assert.equal(config.attempts, 7);
  assert.equal(config.maxConcurrentDownloads, 3);
  assert.equal(config.maxConcurrentUploads, 5);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("Retry-After: seconds or an HTTP date", () => {
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter("soon"), undefined);
  const inTwo = new Date(Date.now() + 2000).toUTCString();
  const ms = parseRetryAfter(inTwo) ?? -1;
  assert.ok(ms > 500 && ms <= 2000, String(ms));
});

test("config.json: docker's entries are read (auth, identitytoken, URL keys), written back with unknown fields kept", () => {
  const dir = tempDir("rc-creds");
  fs.writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      auths: {
        "https://myreg.example/v1/": { auth: Buffer.from("ann:pw:with:colons").toString("base64") },
        "tok.example": { auth: Buffer.from("bob:").toString("base64"), identitytoken: "refresh-me" },
      },
      psFormat: "table {{.ID}}",
    }),
  );
  const store = new CredentialStore(dir);
  assert.deepEqual(store.get("myreg.example"), { username: "ann", password: "pw:with:colons" });
  assert.deepEqual(store.get("tok.example"), { username: "bob", identityToken: "refresh-me" });
  assert.equal(store.get("nobody.example"), undefined);
  store.store("new.example:5000", { username: "cy", password: "x" });
  const written = JSON.parse(fs.readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  assert.equal(written.psFormat, "table {{.ID}}");
  assert.equal((fs.statSync(join(dir, "config.json")).mode & 0o777).toString(8), "600");
  assert.ok(store.erase("myreg.example"));
  assert.ok(!store.erase("myreg.example"));
  assert.equal(store.get("myreg.example"), undefined);
  assert.deepEqual(store.get("new.example:5000"), { username: "cy", password: "x" });
  fs.writeFileSync(join(dir, "config.json"), '{"auths": []}');
  assert.throws(() => store.get("x"), /not a valid docker config file/);
  fs.writeFileSync(join(dir, "config.json"), "{ not json");
  assert.throws(() => store.get("x"), /not a valid docker config file/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("Docker Hub names go to registry-1.docker.io (no network here: the error names it)", () => {
  const root = tempDir("rc-hub");
  const r = berth(root, ["pull", "nginx"], { env: { BERTH_REGISTRY_ATTEMPTS: "1" } });
  fs.rmSync(root, { recursive: true, force: true });
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /^Using default tag: latest$/m);
  assert.match(
    r.stderr,
    /^Error: pulling docker\.io\/library\/nginx:latest: cannot reach registry registry-1\.docker\.io/,
  );
  assert.equal(r.stderr.trimEnd().split("\n").length, 1);
});

test("proxies from the environment, by Go's rules: scheme, NO_PROXY's names, suffixes, ports and CIDRs, never loopback", () => {
  assert.equal(proxyConfigFromEnv({}), undefined);
  const config = proxyConfigFromEnv({
    HTTPS_PROXY: "proxy.corp:3128",
    https_proxy: "http://ignored:1",
    http_proxy: "http://plain.corp:8080",
    NO_PROXY:
      "internal.corp, .svc.local,*.mirror.io,registry.example:5000,10.0.0.0/8,fd00::/8,192.0.2.9,[2001:db8::1]:443",
  });
  const via = (url: string) => proxyFor(new URL(url), config);
  // the upper-case name first; no scheme means http://
  assert.equal(via("https://r.example.com/v2/"), "http://proxy.corp:3128");
  assert.equal(via("http://r.example.com/v2/"), "http://plain.corp:8080");
  // never loopback or localhost
  for (const u of ["https://127.0.0.1:5000/", "https://127.9.9.9/", "https://localhost:5000/", "https://[::1]:5000/"])
    assert.equal(via(u), undefined, u);
  // a name covers itself and its subdomains; `.name` and `*.name` only the subdomains
  assert.equal(via("https://internal.corp/"), undefined);
  assert.equal(via("https://reg.internal.corp/"), undefined);
  assert.equal(via("https://notinternal.corp/"), "http://proxy.corp:3128");
  assert.equal(via("https://svc.local/"), "http://proxy.corp:3128");
  assert.equal(via("https://a.svc.local/"), undefined);
  assert.equal(via("https://mirror.io/"), "http://proxy.corp:3128");
  assert.equal(via("https://eu.mirror.io/"), undefined);
  // with a port, only that port
  assert.equal(via("http://registry.example:5000/"), undefined);
  assert.equal(via("https://registry.example/"), "http://proxy.corp:3128");
  // addresses and ranges
  assert.equal(via("https://10.1.2.3:5000/"), undefined);
  assert.equal(via("https://11.1.2.3/"), "http://proxy.corp:3128");
  assert.equal(via("https://[fd12::5]/"), undefined);
  assert.equal(via("https://192.0.2.9/"), undefined);
  assert.equal(via("https://192.0.2.10/"), "http://proxy.corp:3128");
  assert.equal(via("https://[2001:db8::1]/"), undefined);
  assert.equal(via("https://[2001:db8::1]:8443/"), "http://proxy.corp:3128");
  // `*` turns it off; only the scheme's own variable counts
  assert.equal(
    proxyFor(new URL("https://r.example.com/"), proxyConfigFromEnv({ HTTPS_PROXY: "p:1", NO_PROXY: "*" })),
    undefined,
  );
  assert.equal(proxyFor(new URL("https://r.example.com/"), proxyConfigFromEnv({ HTTP_PROXY: "p:1" })), undefined);
  // and the configuration carries it
  assert.equal(registryConfigFromEnv({ https_proxy: "socks5://s:1080" }).proxy?.https, "socks5://s:1080");
});
