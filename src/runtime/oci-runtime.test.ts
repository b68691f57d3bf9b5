import assert from "node:assert/strict";
import { test } from "node:test";
import { crunCgroupProblem, findRuntimes, type HostFacts } from "./oci-runtime.js";

const HYBRID = [
  "30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755",
  "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw",
  "32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory",
].join("\n");
const UNIFIED = "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw";

function facts(mountinfo: string, controllers: string, bins: string): HostFacts {
  return { mountinfo, readFile: (p) => (p.endsWith("cgroup.controllers") ? controllers : ""), path: bins };
}

test("crun's hybrid-cgroup failure is predicted from the mounts", () => {
  assert.match(
    crunCgroupProblem(facts(HYBRID, "hugetlb\n", "")) ?? "",
    /hybrid mode.*\/sys\/fs\/cgroup\/unified.*hugetlb/,
  );
  assert.equal(crunCgroupProblem(facts(HYBRID, "", "")), null, "no controllers in cgroup2: crun copes");
  assert.equal(crunCgroupProblem(facts(UNIFIED, "cpu memory", "")), null, "pure cgroup v2");
});

test("runtime choice: crun first where it works, runc where it does not, either alone", () => {
  const bins = "/usr/bin:/usr/sbin"; // this host has both (Debian packages)
  const ok = findRuntimes(facts(UNIFIED, "cpu", bins));
  const hybrid = findRuntimes(facts(HYBRID, "hugetlb", bins));
  const names = (s: { candidates: { name: string }[] }) => s.candidates.map((c) => c.name);
  if (ok.candidates.length === 2) {
    assert.deepEqual(names(ok), ["crun", "runc"]);
    assert.deepEqual(names(hybrid), ["runc"]);
    assert.match(hybrid.skipped[0] ?? "", /crun cannot run containers here/);
  }
  assert.deepEqual(names(findRuntimes(facts(HYBRID, "hugetlb", "/nowhere"))), []);
  assert.throws(() => findRuntimes(facts(UNIFIED, "", "/nowhere"), "crun"), /crun is not installed/);
});
