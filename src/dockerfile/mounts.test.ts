import assert from "node:assert/strict";
import { test } from "node:test";
import { parseGoDuration } from "./duration.js";
import { csvFields, parseMount } from "./mounts.js";
import { parseExposedPort } from "./ports.js";

test("mount specs are one CSV record, with Go's quoting rules", () => {
  assert.deepEqual(csvFields("type=bind,target=/a"), ["type=bind", "target=/a"]);
  assert.deepEqual(csvFields('"target=/a,b",ro'), ["target=/a,b", "ro"]);
  assert.deepEqual(csvFields('"say ""hi""",x'), ['say "hi"', "x"]);
  assert.deepEqual(csvFields("a,,b,"), ["a", "", "b", ""]);
  assert.throws(() => csvFields('a"b'), /column 2: bare " in non-quoted-field/);
  assert.throws(() => csvFields('"ab'), /extraneous or missing " in quoted-field/);
});

test("mount defaults: read-only for bind, secret and ssh; writable for cache and tmpfs", () => {
  assert.equal(parseMount("target=/a").readOnly, true);
  assert.equal(parseMount("target=/a").type, "bind");
  assert.equal(parseMount("type=cache,target=/a").readOnly, false);
  assert.equal(parseMount("type=tmpfs,target=/a,size=1.5g").size, 1610612736);
  assert.equal(parseMount("type=bind,target=/a,readwrite=true").readOnly, false);
  assert.equal(parseMount("TYPE=Cache,dst=/a,Sharing=Private").sharing, "private");
  assert.equal(parseMount("type=secret,id=s,mode=0400,uid=1,gid=2").mode, 0o400);
});

test("Go durations", () => {
  assert.equal(parseGoDuration("1h2m3.5s"), 3723.5e9);
  assert.equal(parseGoDuration("300ms"), 300e6);
  assert.equal(parseGoDuration("2us"), 2000);
  assert.equal(parseGoDuration("2µs"), 2000);
  assert.equal(parseGoDuration("-1.5m"), -90e9);
  assert.equal(parseGoDuration("0"), 0);
  assert.throws(() => parseGoDuration("1"), /missing unit/);
  assert.throws(() => parseGoDuration("."), /invalid duration/);
  assert.throws(() => parseGoDuration("1d"), /unknown unit "d"/);
});

test("EXPOSE port specs", () => {
  assert.deepEqual(parseExposedPort("80"), ["80/tcp"]);
  assert.deepEqual(parseExposedPort("53/UDP"), ["53/udp"]);
  assert.deepEqual(parseExposedPort("7000-7002/sctp"), ["7000/sctp", "7001/sctp", "7002/sctp"]);
  assert.deepEqual(parseExposedPort("8080:80"), ["80/tcp"]);
  assert.deepEqual(parseExposedPort("127.0.0.1:8080:80/tcp"), ["80/tcp"]);
  assert.deepEqual(parseExposedPort("[::1]:8080:80"), ["80/tcp"]);
  assert.throws(() => parseExposedPort("http"), /invalid containerPort: http/);
  assert.throws(() => parseExposedPort("70000"), /invalid containerPort/);
  assert.throws(() => parseExposedPort("90-80"), /invalid containerPort/);
  assert.throws(() => parseExposedPort("/tcp"), /no port specified/);
  assert.throws(() => parseExposedPort("1.2.3:80:80"), /invalid IP address/);
});
