import assert from "node:assert/strict";
import { test } from "node:test";
import { tokenAccessOptions } from "./serve-options.js";

test("the realm follows the listen address; the service defaults to it", () => {
  const o = tokenAccessOptions({ root: "/r", listen: "127.0.0.1:5000", env: {} });
  assert.equal(o.realm, "http://127.0.0.1:5000/token");
  assert.equal(o.service, "127.0.0.1:5000");
  assert.equal(o.bootstrapAdmin, undefined);
});

test("a wildcard address needs --auth-realm; a bad realm is refused", () => {
  assert.throws(() => tokenAccessOptions({ root: "/r", listen: "0.0.0.0:5000", env: {} }), /needs --auth-realm/);
  assert.throws(() => tokenAccessOptions({ root: "/r", listen: ":5000", env: {} }), /needs --auth-realm/);
  assert.throws(() => tokenAccessOptions({ root: "/r", listen: "[::]:5000", env: {} }), /needs --auth-realm/);
  assert.throws(
    () => tokenAccessOptions({ root: "/r", listen: "127.0.0.1:5000", realm: "registry/token", env: {} }),
    /invalid --auth-realm/,
  );
  const o = tokenAccessOptions({
    root: "/r",
    listen: "0.0.0.0:5000",
    realm: "https://reg.example.com/token",
    service: "reg.example.com",
    env: {},
  });
  assert.equal(o.realm, "https://reg.example.com/token");
  assert.equal(o.service, "reg.example.com");
});

test("plain http off loopback is warned about; BERTH_ADMIN_PASSWORD names the first admin", () => {
  const lines: string[] = [];
  const o = tokenAccessOptions({
    root: "/r",
    listen: "10.0.0.5:5000",
    env: { BERTH_ADMIN_PASSWORD: "pw-pw-pw-pw", BERTH_ADMIN_USER: "root" },
    notice: (l) => lines.push(l),
  });
  assert.match(lines.join("\n"), /plain http/);
  assert.deepEqual(o.bootstrapAdmin, { name: "root", password: "pw-pw-pw-pw" });
  const quiet: string[] = [];
  tokenAccessOptions({ root: "/r", listen: "127.0.0.1:5000", env: {}, notice: (l) => quiet.push(l) });
  assert.deepEqual(quiet, []);
});
