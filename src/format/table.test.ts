import assert from "node:assert/strict";
import { test } from "node:test";
import { BerthError } from "../oci/errors.js";
import { displayWidth, formatTable, prepareFormat, tableFromTemplate, tabwrite } from "./table.js";

test("formatTable pads every cell but the last to max(widest + 3, 10)", () => {
  const out = formatTable([
    ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
    ["alpine", "3.19", "0123456789ab", "2 weeks ago", "7.38MB"],
    ["busybox", "latest", "ba5eba11cafe", "3 months ago", "4.26MB"],
  ]);
  assert.equal(
    out,
    "REPOSITORY   TAG       IMAGE ID       CREATED        SIZE\n" +
      "alpine       3.19      0123456789ab   2 weeks ago    7.38MB\n" +
      "busybox      latest    ba5eba11cafe   3 months ago   4.26MB\n",
  );
});

test("formatTable: an empty last cell keeps the padding of the one before", () => {
  const out = formatTable([
    ["IMAGE", "CREATED BY", "SIZE", "COMMENT"],
    ["0123456789ab", '/bin/sh -c #(nop) CMD ["sh"]', "0B", ""],
    ["<missing>", "/bin/sh -c #(nop) ADD file:abc in /", "7.38MB", "buildkit"],
  ]);
  assert.equal(
    out,
    "IMAGE          CREATED BY                            SIZE      COMMENT\n" +
      '0123456789ab   /bin/sh -c #(nop) CMD ["sh"]          0B        \n' +
      "<missing>      /bin/sh -c #(nop) ADD file:abc in /   7.38MB    buildkit\n",
  );
});

test("formatTable: single column and header only", () => {
  assert.equal(formatTable([["ID"], ["abc"]]), "ID\nabc\n");
  assert.equal(formatTable([["A", "B"]]), "A         B\n");
  assert.equal(formatTable([]), "");
});

test("widths count characters, not UTF-16 units or bytes", () => {
  const out = formatTable([
    ["NAME", "X"],
    ["sha256:abcdef…", "1"],
    ["héllo", "2"],
  ]);
  assert.equal(out, "NAME             X\nsha256:abcdef…   1\nhéllo            2\n");
  assert.equal(displayWidth("…"), 1);
  assert.equal(displayWidth("héllo"), 5);
  assert.equal(displayWidth("e\u0301"), 1);
  assert.equal(displayWidth("日本"), 4);
  assert.equal(displayWidth("😀"), 2);
});

test("tabwrite: column blocks are per run of lines that have the column", () => {
  // The middle line has no tab, so it ends the block: the two blocks are sized separately.
  const out = tabwrite("a\tb\nno tabs here\nlonger-cell-text\tc\n");
  assert.equal(out, "a         b\nno tabs here\nlonger-cell-text   c\n");
  // Lines with more cells: inner columns are sized over the lines that have them.
  assert.equal(tabwrite("a\tb\tc\nd\te\n"), "a         b         c\nd         e\n");
  assert.equal(tabwrite("x\ty"), "x         y");
  assert.equal(tabwrite("trailing tab\t\n"), "trailing tab   \n");
  assert.equal(tabwrite("a\tb\n", { minWidth: 0, padding: 1 }), "a b\n");
});

test("prepareFormat handles docker's table prefix, json and escapes", () => {
  assert.deepEqual(prepareFormat("table {{.ID}}\\t{{.Name}}"), { table: true, template: "{{.ID}}\t{{.Name}}" });
  assert.deepEqual(prepareFormat("table"), { table: true, template: "" });
  assert.deepEqual(prepareFormat("json"), { table: false, template: "{{json .}}" });
  assert.deepEqual(prepareFormat("{{.ID}}\\n"), { table: false, template: "{{.ID}}\n" });
  assert.deepEqual(prepareFormat("  {{.ID}}  "), { table: false, template: "{{.ID}}" });
  assert.deepEqual(prepareFormat("{{json .}}"), { table: false, template: "{{json .}}" });
});

const headers = { Repository: "REPOSITORY", Tag: "TAG", ID: "IMAGE ID", Size: "SIZE", Names: "NAMES" };
const items = [
  { Repository: "alpine", Tag: "3.19", ID: "0123456789ab", Size: "7.38MB", Names: ["a", "b"] },
  { Repository: "registry.example.com/team/app", Tag: "latest", ID: "ba5eba11cafe", Size: "112MB", Names: ["c"] },
];

test("tableFromTemplate renders a header row from the header map", () => {
  const out = tableFromTemplate("table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}", items, undefined, headers);
  assert.equal(
    out,
    "REPOSITORY                      TAG       SIZE\n" +
      "alpine                          3.19      7.38MB\n" +
      "registry.example.com/team/app   latest    112MB\n",
  );
});

test("tableFromTemplate: header functions keep titles intact", () => {
  const out = tableFromTemplate('table {{.ID}}\\t{{join .Names ","}}\\t{{lower .Tag}}', items, undefined, headers);
  assert.equal(
    out,
    "IMAGE ID       NAMES     TAG\n" + "0123456789ab   a,b       3.19\n" + "ba5eba11cafe   c         latest\n",
  );
});

test("tableFromTemplate: unknown header fields print <no value>; no items still prints the header", () => {
  assert.equal(tableFromTemplate("table {{.ID}}\t{{.Other}}", [], undefined, headers), "IMAGE ID   <no value>\n");
});

test("tableFromTemplate without the table prefix prints one line per item", () => {
  assert.equal(
    tableFromTemplate("{{.Repository}}:{{.Tag}}", items, undefined, headers),
    "alpine:3.19\nregistry.example.com/team/app:latest\n",
  );
  assert.equal(tableFromTemplate("json", [{ a: 1 }, { a: 2 }], undefined, {}), '{"a":1}\n{"a":2}\n');
  assert.equal(tableFromTemplate("{{.ID}}", [], undefined, headers), "");
});

test("tableFromTemplate with a custom renderer and functions", () => {
  const out = tableFromTemplate(
    "table {{.ID}}\\t{{shout .Tag}}",
    items,
    (t, item) => t.execute({ ...(item as object), ID: "x" }),
    headers,
    { shout: (s) => `${String(s)}!` },
  );
  assert.equal(out, "IMAGE ID   TAG!\nx          3.19!\nx          latest!\n");
});

test("tableFromTemplate reports template errors as BerthError USAGE", () => {
  assert.throws(
    () => tableFromTemplate("table {{.ID", items, undefined, headers),
    (e: unknown) => e instanceof BerthError && e.code === "USAGE" && /unclosed action/.test(e.message),
  );
});
