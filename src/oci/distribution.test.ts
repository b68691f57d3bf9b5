import assert from "node:assert/strict";
import { test } from "node:test";
import { formatChallenge, formatScope, parseChallenges, parseScope } from "./distribution.js";

test("a scope whose name carries a port keeps it", () => {
  assert.deepEqual(parseScope("repository:localhost:5000/a/b:pull,push"), {
    type: "repository",
    name: "localhost:5000/a/b",
    actions: ["pull", "push"],
  });
  assert.equal(formatScope({ type: "registry", name: "catalog", actions: ["*"] }), "registry:catalog:*");
  assert.equal(parseScope("repository:nginx"), undefined);
  assert.equal(parseScope(":x:pull"), undefined);
});

test("challenges: Docker Hub's Bearer header, several challenges, escapes", () => {
  const hub =
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"';
  assert.deepEqual(parseChallenges(hub), [
    {
      scheme: "Bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/nginx:pull",
      },
    },
  ]);
  const two = parseChallenges('Basic realm="a \\"b\\"", Bearer realm=x,error=invalid_token');
  assert.equal(two.length, 2);
  assert.equal(two[0]?.params.realm, 'a "b"');
  assert.deepEqual(two[1], { scheme: "Bearer", params: { realm: "x", error: "invalid_token" } });
  const round = { scheme: "Bearer", params: { realm: 'r"q', service: "s" } };
  assert.deepEqual(parseChallenges(formatChallenge(round)), [round]);
});
