import assert from "node:assert/strict";
import { test } from "node:test";
import type { BerthError } from "../oci/errors.js";
import { hostLimits } from "./oci-runtime.js";
import { buildOciSpec, containerCommand, containerEnv, DEFAULT_CAPABILITIES, type SpecOptions } from "./oci-spec.js";
import { resolveUser } from "./users.js";

const PASSWD =
  "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1234:2345:App:/home/app:/bin/sh\nbad:x:notanumber:1::/:\n";
const GROUP = "root:x:0:\napp:x:2345:\nwheel:x:10:app,other\nstaff:x:50:app\n";

const base: SpecOptions = {
  hostname: "abc123",
  passwd: PASSWD,
  group: GROUP,
  hostLimits: { nofile: { soft: 1024, hard: 20000 } },
};

test("ENTRYPOINT and CMD: docker's rules", () => {
  const image = { Entrypoint: ["/ep", "a"], Cmd: ["c1", "c2"] };
  assert.deepEqual(containerCommand(image, {}), ["/ep", "a", "c1", "c2"]);
  assert.deepEqual(containerCommand(image, { cmd: ["x"] }), ["/ep", "a", "x"]);
  assert.deepEqual(
    containerCommand(image, { entrypoint: ["/other"] }),
    ["/other"],
    "--entrypoint drops the image's Cmd",
  );
  assert.deepEqual(containerCommand(image, { entrypoint: ["/other"], cmd: ["y"] }), ["/other", "y"]);
  assert.deepEqual(containerCommand(image, { entrypoint: [] }), ["c1", "c2"], '--entrypoint "" keeps Cmd');
  assert.deepEqual(containerCommand({ Cmd: ["sh"] }, {}), ["sh"]);
  assert.deepEqual(containerCommand({ Entrypoint: null, Cmd: null }, { cmd: ["ls"] }), ["ls"]);
  assert.throws(() => containerCommand({}, {}), /no command specified/);
  assert.throws(() => containerCommand({ Entrypoint: ["/ep"] }, { entrypoint: [] }), /no command specified/);
});

test("environment: PATH default, HOSTNAME, TERM with a tty, overrides keep their place", () => {
  assert.deepEqual(containerEnv({}, { hostname: "h" }, "/root"), [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOSTNAME=h",
    "HOME=/root",
  ]);
  assert.deepEqual(
    containerEnv({ Env: ["PATH=/bin", "A=1", "B=2"] }, { hostname: "h", tty: true, env: ["B=3", "HOME=/x", "C"] }, "/"),
    ["PATH=/bin", "HOSTNAME=h", "TERM=xterm", "A=1", "B=3", "HOME=/x"],
    "a bare -e NAME the caller did not expand is dropped",
  );
});

test("users: names, numbers, groups, supplementary groups, errors", () => {
  assert.deepEqual(resolveUser("", PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [0], home: "/root" });
  assert.deepEqual(resolveUser("app", PASSWD, GROUP), {
    uid: 1234,
    gid: 2345,
    additionalGids: [2345, 10, 50],
    home: "/home/app",
  });
  assert.deepEqual(resolveUser("1234", PASSWD, GROUP).uid, 1234);
  assert.deepEqual(resolveUser("app:wheel", PASSWD, GROUP), {
    uid: 1234,
    gid: 10,
    additionalGids: [10],
    home: "/home/app",
  });
  assert.deepEqual(resolveUser("1000:1000", PASSWD, GROUP), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000],
    home: "/",
  });
  assert.deepEqual(resolveUser("500", null, null), { uid: 500, gid: 0, additionalGids: [0], home: "/" });
  assert.throws(
    () => resolveUser("ghost", PASSWD, GROUP),
    /unable to find user ghost: no matching entries in passwd file/,
  );
  assert.throws(() => resolveUser("app:ghosts", PASSWD, GROUP), /unable to find group ghosts/);
  assert.throws(() => resolveUser("99999999999", PASSWD, GROUP), /out of range/);
});

test("the spec: namespaces, mounts, capabilities, masked paths, devices", () => {
  const spec = buildOciSpec({ Cmd: ["sh"], WorkingDir: "/app", Env: ["X=1"] }, base);
  assert.equal(spec.ociVersion, "1.0.2");
  assert.deepEqual(spec.process.args, ["sh"]);
  assert.equal(spec.process.cwd, "/app");
  assert.equal(spec.hostname, "abc123");
  assert.equal(spec.root.path, "rootfs");
  assert.deepEqual(
    spec.linux.namespaces.map((n) => n.type),
    ["pid", "ipc", "uts", "mount", "network"],
  );
  assert.deepEqual(
    spec.mounts.map((m) => m.destination),
    ["/proc", "/dev", "/dev/pts", "/sys", "/dev/mqueue", "/dev/shm"],
  );
  assert.ok(spec.mounts.find((m) => m.destination === "/sys")?.options.includes("ro"));
  assert.deepEqual(spec.process.capabilities.bounding, DEFAULT_CAPABILITIES);
  assert.deepEqual(spec.process.capabilities.effective, DEFAULT_CAPABILITIES);
  assert.deepEqual(spec.process.capabilities.inheritable, []);
  assert.ok(spec.linux.maskedPaths.includes("/proc/kcore"));
  assert.ok(spec.linux.readonlyPaths.includes("/proc/sys"));
  assert.deepEqual(spec.linux.resources.devices[0], { allow: false, access: "rwm" });
  assert.equal(spec.process.terminal, false);
});

test("the spec: options", () => {
  const spec = buildOciSpec(
    { Cmd: ["sh"], User: "app", WorkingDir: "/ignored" },
    {
      ...base,
      network: "host",
      tty: true,
      workdir: "/w",
      readonlyRootfs: true,
      rootfsPath: "/abs/rootfs",
      mounts: [{ source: "/host/data", destination: "/data", readonly: true }],
    },
  );
  assert.ok(!spec.linux.namespaces.some((n) => n.type === "network"), "--network host shares the host's");
  assert.equal(spec.process.terminal, true);
  assert.equal(spec.process.cwd, "/w");
  assert.deepEqual(spec.root, { path: "/abs/rootfs", readonly: true });
  assert.deepEqual(spec.process.user, { uid: 1234, gid: 2345, additionalGids: [2345, 10, 50] });
  assert.deepEqual(spec.process.capabilities.effective, [], "a non-root user runs with no capabilities");
  assert.deepEqual(spec.process.capabilities.bounding, DEFAULT_CAPABILITIES);
  assert.deepEqual(spec.mounts.at(-1), {
    destination: "/data",
    type: "bind",
    source: "/host/data",
    options: ["rbind", "rprivate", "ro"],
  });
  assert.throws(() => buildOciSpec({ Cmd: ["sh"] }, { ...base, workdir: "rel" }), /absolute path/);
});

test("rlimits never go above the host's hard limits", () => {
  const spec = buildOciSpec({ Cmd: ["sh"] }, base);
  assert.deepEqual(spec.process.rlimits, [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 20000 }]);
  const raised = buildOciSpec({ Cmd: ["sh"] }, { ...base, ulimits: { nofile: { soft: 4096, hard: 8192 } } });
  assert.deepEqual(raised.process.rlimits, [{ type: "RLIMIT_NOFILE", soft: 4096, hard: 8192 }]);
  assert.throws(
    () => buildOciSpec({ Cmd: ["sh"] }, { ...base, ulimits: { nofile: { soft: 1024, hard: 1_048_576 } } }),
    (e: unknown) => (e as BerthError).code === "USAGE" && /hard limit of 20000/.test((e as Error).message),
  );
  assert.throws(
    () => buildOciSpec({ Cmd: ["sh"] }, { ...base, ulimits: { core: { soft: 10, hard: 5 } } }),
    /soft limit/,
  );
});

test("host limits are read from /proc/self/limits", () => {
  const text = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max processes             unlimited            unlimited            processes ",
    "Max open files            1024                 20000                files     ",
  ].join("\n");
  const limits = hostLimits(text);
  assert.deepEqual(limits.nofile, { soft: 1024, hard: 20000 });
  assert.equal(limits.nproc?.hard, Number.MAX_SAFE_INTEGER);
});
