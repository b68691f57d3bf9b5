import assert from "node:assert/strict";
import { test } from "node:test";
import { BerthError } from "../oci/errors.js";
import {
  compileTemplate,
  DOCKER_FUNCS,
  goJSON,
  goSprint,
  goSprintf,
  goSprintln,
  goValueString,
  HEADER_FUNCS,
  parseTemplate,
  renderTemplate,
} from "./go-template.js";

const image = {
  ID: "sha256:0123456789ab",
  Repository: "alpine",
  Tag: "3.19",
  RepoTags: ["alpine:3.19", "alpine:latest"],
  Size: 7_377_920,
  Config: {
    Env: ["A=1", "B=2"],
    Labels: { l: "v", "org.opencontainers.image.title": "Alpine <base> & co" },
    Entrypoint: null,
  },
};

function r(template: string, data: unknown = image): string {
  return renderTemplate(template, data);
}

/** Runs `fn`, expecting a BerthError("USAGE") whose message matches `re`. */
function throwsUsage(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BerthError, `expected BerthError, got ${String(e)}`);
    assert.equal(e.code, "USAGE");
    assert.match(e.message, re);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// docker-style uses

test("docker: fields, json, range, index, join", () => {
  assert.equal(r("{{.Repository}}:{{.Tag}}"), "alpine:3.19");
  assert.equal(r("{{range .RepoTags}}{{.}} {{end}}"), "alpine:3.19 alpine:latest ");
  assert.equal(r('{{index .Config.Labels "l"}}'), "v");
  assert.equal(r('{{join .Config.Env ","}}'), "A=1,B=2");
  assert.equal(r("{{.Config.Env}}"), "[A=1 B=2]");
  assert.equal(r('{{if eq .Tag "<none>"}}x{{end}}'), "");
  assert.equal(r('{{if eq .Tag "<none>"}}x{{end}}', { Tag: "<none>" }), "x");
  // docker's json function escapes <, > and & as Go's json.Marshal does
  // (`docker images --format '{{json .}}'` prints "Digest":"\u003cnone\u003e", docker 20.10 and 28).
  assert.equal(
    r("{{json .Config.Labels}}"),
    '{"l":"v","org.opencontainers.image.title":"Alpine \\u003cbase\\u003e \\u0026 co"}',
  );
  assert.equal(
    r("{{json .}}", { ID: "x", Size: 3, Tags: ["a"], Nil: null }),
    '{"ID":"x","Size":3,"Tags":["a"],"Nil":null}',
  );
});

test("docker: the json format of a whole item is one compact line", () => {
  const t = compileTemplate("{{json .}}");
  assert.equal(t.execute({ a: 1, b: "two" }), '{"a":1,"b":"two"}');
  assert.equal(t.execute([1, "x", true, null]), '[1,"x",true,null]');
});

test("compileTemplate parses once and executes per item", () => {
  const t = compileTemplate("{{.Name}}={{.Value}}");
  assert.equal(t.source, "{{.Name}}={{.Value}}");
  assert.equal(t.execute({ Name: "a", Value: 1 }), "a=1");
  assert.equal(t.execute({ Name: "b", Value: 2 }), "b=2");
  assert.equal(parseTemplate("{{.}}").execute("x"), "x");
});

// ---------------------------------------------------------------------------------------------
// text, actions, trim markers, comments

test("text passes through; actions print values", () => {
  assert.equal(r("plain text", null), "plain text");
  assert.equal(r("", null), "");
  assert.equal(r("a {{.}} b", "x"), "a x b");
  assert.equal(r("{ } }} {", null), "{ } }} {");
});

test("trim markers remove adjacent whitespace", () => {
  assert.equal(r("a  \n {{- .}}", "x"), "ax");
  assert.equal(r("{{. -}} \n\t b", "x"), "xb");
  assert.equal(r("a {{- . -}} b", "x"), "axb");
  assert.equal(r("{{-3}}", null), "-3"); // a negative number, not a trim marker
  assert.equal(r("{{range .}}\n  {{- .}}\n{{- end}}", [1, 2]), "12");
});

test("comments", () => {
  assert.equal(r("a{{/* comment */}}b", null), "ab");
  assert.equal(r("a {{- /* comment */ -}} b", null), "ab");
  assert.equal(r("a{{/* multi\nline */}}b", null), "ab");
  throwsUsage(() => r("{{/* x */ .}}", null), /comment ends before closing delimiter/);
  throwsUsage(() => r("{{/* x", null), /unclosed comment/);
});

// ---------------------------------------------------------------------------------------------
// fields, variables

test("field chains, missing keys and nil", () => {
  const data = { A: { B: { C: "deep" } }, N: null, E: "" };
  assert.equal(r("{{.A.B.C}}", data), "deep");
  assert.equal(r("{{.Missing}}", data), "<no value>");
  assert.equal(r("{{.A.Missing}}", data), "<no value>");
  assert.equal(r("{{.A.Missing.Deeper}}", data), "<no value>");
  assert.equal(r("{{.N}}", data), "<nil>");
  assert.equal(r("{{.N.X}}", data), "<no value>");
  assert.equal(r("[{{.E}}]", data), "[]");
  assert.equal(r("{{.}}", data), "map[A:map[B:map[C:deep]] E: N:<nil>]");
  assert.equal(r("{{.Config.Entrypoint}}"), "<nil>");
});

test("field on a non-map is an execution error with Go's wording and position", () => {
  throwsUsage(
    () => r("{{.Repository.X}}"),
    /^template parsing error: template: :1:13: executing "" at <\.Repository\.X>: can't evaluate field X in type string$/,
  );
  throwsUsage(
    () => r("a\nb {{.RepoTags.X}}"),
    /template: :2:13: executing "" at <\.RepoTags\.X>: can't evaluate field X in type \[\]interface \{\}/,
  );
  throwsUsage(() => r("{{.Tag 1}}"), /Tag is not a method but has arguments/);
});

test("methods: function-valued fields are called, with arguments", () => {
  const data = {
    name: "box",
    Name() {
      return this.name.toUpperCase();
    },
    Greet: (who: unknown, punct: unknown) => `hi ${String(who)}${String(punct)}`,
    Fail: () => {
      throw new Error("boom");
    },
  };
  assert.equal(r("{{.Name}}", data), "BOX");
  assert.equal(r('{{.Greet "you" "!"}}', data), "hi you!");
  assert.equal(r('{{"!" | .Greet "me"}}', data), "hi me!");
  throwsUsage(() => r("{{.Fail}}", data), /error calling Fail: boom/);
  class Ctx {
    constructor(private readonly v: string) {}
    get ID(): string {
      return `id-${this.v}`;
    }
    Short(): string {
      return this.v.slice(0, 2);
    }
  }
  assert.equal(r("{{.ID}} {{.Short}}", new Ctx("abcdef")), "id-abcdef ab");
  assert.equal(r("{{.toString}}", {}), "<no value>");
});

test("dot, $ and variables", () => {
  assert.equal(r("{{.}}", 42), "42");
  assert.equal(r("{{$}}", "root"), "root");
  assert.equal(r("{{with .A}}{{$.B}}{{end}}", { A: 1, B: "b" }), "b");
  assert.equal(r("{{$x := .A}}{{$x}}", { A: "a" }), "a");
  assert.equal(r("{{$x := 1}}{{$x = 2}}{{$x}}", null), "2");
  assert.equal(r("{{$x := 1}}{{range .}}{{$x = .}}{{end}}{{$x}}", [5, 6]), "6");
  assert.equal(r("{{$x := .A}}{{$x.B}}", { A: { B: "c" } }), "c");
  assert.equal(r("{{$.A.B}}", { A: { B: "c" } }), "c");
  assert.equal(r("{{if true}}{{$y := 1}}{{$y}}{{end}}", null), "1");
  throwsUsage(() => r("{{if true}}{{$y := 1}}{{end}}{{$y}}", null), /undefined variable "\$y"/);
  throwsUsage(() => r("{{$x}}", null), /^template parsing error: template: :1: undefined variable "\$x"$/);
});

// ---------------------------------------------------------------------------------------------
// control structures

test("if / else if / else", () => {
  const t = compileTemplate("{{if .X}}x{{else if .Y}}y{{else if .Z}}z{{else}}none{{end}}");
  assert.equal(t.execute({ X: 1 }), "x");
  assert.equal(t.execute({ Y: "yes" }), "y");
  assert.equal(t.execute({ Z: [1] }), "z");
  assert.equal(t.execute({}), "none");
  assert.equal(r("{{if $v := .A}}{{$v}}{{end}}", { A: "val" }), "val");
});

test("truthiness follows Go", () => {
  const t = compileTemplate("{{if .}}T{{else}}F{{end}}");
  for (const v of [false, 0, "", null, undefined, [], {}]) assert.equal(t.execute(v), "F", String(v));
  for (const v of [true, 1, -1, 0.5, "x", [0], { a: 0 }, new Date(0)]) assert.equal(t.execute(v), "T", String(v));
});

test("with / else with / else", () => {
  assert.equal(r("{{with .A}}{{.}}{{end}}", { A: "a" }), "a");
  assert.equal(r("{{with .A}}{{.}}{{else}}none{{end}}", { A: "" }), "none");
  assert.equal(r("{{with .A}}a{{else with .B}}{{.}}{{end}}", { B: "b" }), "b");
  assert.equal(r("{{with $x := .A}}{{$x}}{{end}}", { A: 3 }), "3");
});

test("range over arrays, maps (sorted keys) and integers", () => {
  assert.equal(r("{{range .}}[{{.}}]{{end}}", ["a", "b"]), "[a][b]");
  assert.equal(r("{{range $i, $v := .}}{{$i}}={{$v}} {{end}}", ["a", "b"]), "0=a 1=b ");
  assert.equal(r("{{range $v := .}}{{$v}}{{end}}", ["a", "b"]), "ab");
  assert.equal(r("{{range $k, $v := .}}{{$k}}={{$v}};{{end}}", { b: 2, a: 1, c: 3 }), "a=1;b=2;c=3;");
  assert.equal(r("{{range .}}{{.}}{{end}}", { b: 2, a: 1 }), "12");
  assert.equal(r("{{range 3}}{{.}}{{end}}", null), "012");
  assert.equal(r("{{range .}}x{{else}}empty{{end}}", []), "empty");
  assert.equal(r("{{range .}}x{{else}}empty{{end}}", {}), "empty");
  assert.equal(r("{{range .}}x{{else}}empty{{end}}", null), "empty");
  assert.equal(r("{{range .Missing}}x{{else}}empty{{end}}", {}), "empty");
  assert.equal(r("{{range .}}{{.Name}},{{end}}", [{ Name: "a" }, { Name: "b" }]), "a,b,");
  throwsUsage(() => r("{{range .}}{{end}}", "str"), /range can't iterate over str/);
});

test("range with break and continue", () => {
  assert.equal(r("{{range .}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}", [1, 2, 3, 4]), "12");
  assert.equal(r("{{range .}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", [1, 2, 3]), "13");
  throwsUsage(() => r("{{break}}", null), /\{\{break\}\} outside \{\{range\}\}/);
});

test("define, template and block", () => {
  assert.equal(r('{{define "T"}}[{{.}}]{{end}}{{template "T" .A}}{{template "T" "lit"}}', { A: 1 }), "[1][lit]");
  assert.equal(r('{{block "B" .}}<{{.}}>{{end}}', "x"), "<x>");
  throwsUsage(() => r('{{template "nope"}}', null), /template "nope" not defined/);
});

// ---------------------------------------------------------------------------------------------
// pipelines, literals

test("pipelines pass the previous value as the last argument", () => {
  assert.equal(r('{{.A | printf "%s-%s" "x"}}', { A: "a" }), "x-a");
  assert.equal(r("{{.A | len}}", { A: [1, 2, 3] }), "3");
  assert.equal(r('{{"abc" | upper | printf "%q"}}', null), '"ABC"');
  assert.equal(r("{{(index .A 1).B}}", { A: [{ B: 1 }, { B: 2 }] }), "2");
  assert.equal(r("{{(.A).B}}", { A: { B: "c" } }), "c");
  assert.equal(r('{{len (split "a,b,c" ",")}}', null), "3");
});

test("literals: strings, raw strings, numbers, chars, bools, nil", () => {
  assert.equal(r('{{"a\\tb\\n\\"q\\"\\u00e9\\x41\\101"}}', null), 'a\tb\n"q"éAA');
  assert.equal(r("{{`raw \\n string`}}", null), "raw \\n string");
  assert.equal(
    r("{{1}} {{-2}} {{+3}} {{1.5}} {{.5}} {{1e3}} {{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", null),
    "1 -2 3 1.5 0.5 1000 31 15 15 5 1000",
  );
  assert.equal(r("{{'a'}} {{'\\n'}}", null), "97 10");
  assert.equal(r("{{true}} {{false}}", null), "true false");
  assert.equal(r("{{eq .A nil}}", { A: null }), "true");
  throwsUsage(() => r("{{nil}}", null), /nil is not a command/);
  throwsUsage(() => r("{{1 2}}", null), /can't give argument to non-function 1/);
  throwsUsage(() => r("{{3x}}", null), /bad number syntax: "3x"/);
  throwsUsage(() => r('{{"abc}}', null), /unterminated quoted string/);
});

// ---------------------------------------------------------------------------------------------
// builtins

test("comparison builtins", () => {
  assert.equal(r('{{eq 1 1}} {{eq 1 2}} {{eq 1 2 3 1}} {{ne 1 2}} {{ne "a" "a"}}', null), "true false true true false");
  assert.equal(
    r('{{lt 1 2}} {{le 2 2}} {{gt 3 2}} {{ge 1 2}} {{lt "a" "b"}} {{gt 1.5 1}}', null),
    "true true true false true true",
  );
  assert.equal(r('{{eq .Missing nil}} {{eq .A .B}} {{eq .A "x"}}', { A: null }), "true true false");
  throwsUsage(() => r('{{eq 1 "1"}}', null), /error calling eq: incompatible types for comparison/);
  throwsUsage(() => r("{{lt true false}}", null), /error calling lt: invalid type for comparison/);
  throwsUsage(() => r("{{eq 1}}", null), /missing argument for comparison/);
});

test("and, or, not short-circuit and return operands", () => {
  assert.equal(
    r('{{and 1 0 2}} {{and 1 2}} {{or 0 "" "z"}} {{or 0 ""}} {{not 0}} {{not "x"}}', null),
    "0 2 z  true false",
  );
  // The unevaluated operand would fail if it were evaluated.
  assert.equal(r("{{and false (index .A 9)}} {{or true (index .A 9)}}", { A: [] }), "false true");
  assert.equal(r("{{if and .A .B}}both{{end}}", { A: 1, B: 1 }), "both");
});

test("len, index, slice", () => {
  assert.equal(
    r("{{len .A}} {{len .M}} {{len .S}} {{len .U}}", { A: [1, 2], M: { a: 1 }, S: "héllo", U: null }),
    "2 1 6 0",
  );
  assert.equal(
    r('{{index .A 1}} {{index .M "k"}} {{index .N 1 0}} {{index .S 1}}', {
      A: ["a", "b"],
      M: { k: "v" },
      N: [[0], ["x"]],
      S: "abc",
    }),
    "b v x 98",
  );
  // Missing keys of string maps (labels) and nil maps index to the empty string, as in docker.
  assert.equal(r('[{{index .L "nope"}}][{{index .Nil "nope"}}]', { L: { a: "b" }, Nil: null }), "[][]");
  throwsUsage(() => r("{{index .A 5}}", { A: [1] }), /error calling index: index out of range: 5/);
  throwsUsage(() => r("{{index 3 1}}", null), /can't index item of type int/);
  assert.equal(
    r("{{slice .A 1}} {{slice .A 1 2}} {{slice .A}} {{slice .S 1 3}}", { A: [1, 2, 3], S: "hello" }),
    "[2 3] [2] [1 2 3] el",
  );
  throwsUsage(() => r("{{slice .A 2 1}}", { A: [1, 2, 3] }), /invalid slice index: 2 > 1/);
  throwsUsage(() => r("{{len 3}}", null), /len of type int/);
});

test("print, printf, println", () => {
  assert.equal(r('{{print "a" "b" 1 2 "c"}}', null), "ab1 2c");
  assert.equal(r('{{println "a" 1}}', null), "a 1\n");
  assert.equal(
    r('{{printf "%s is %d (%v) %q %t %x"  "x" 42 .A "q" true 255}}', { A: ["p", "q"] }),
    'x is 42 ([p q]) "q" true ff',
  );
  assert.equal(r('{{printf "%-6s|%6s|%06.2f" "ab" "cd" 1.23456}}', null), "ab    |    cd|001.23");
  throwsUsage(() => r("{{printf}}", null), /wrong number of args for printf: want at least 1 got 0/);
  throwsUsage(() => r("{{printf 1}}", null), /wrong type for value; expected string; got int/);
});

test("html, js, urlquery, call", () => {
  assert.equal(r('{{html "<a href=\'x\'>&\\""}}', null), "&lt;a href=&#39;x&#39;&gt;&amp;&#34;");
  assert.equal(r('{{js "a\'b<c"}}', null), "a\\'b\\u003Cc");
  assert.equal(r('{{urlquery "a b&c/é"}}', null), "a+b%26c%2F%C3%A9");
  // A function-valued field is a method and is called on access; `call` takes the function it returns.
  const F = () => (a: unknown, b: unknown) => `${String(a)}${String(b)}`;
  assert.equal(r('{{call .F "x" 2}}', { F }), "x2");
  throwsUsage(() => r("{{call .X}}", { X: 1 }), /non-function of type int/);
});

// ---------------------------------------------------------------------------------------------
// docker's functions

test("docker functions: join, split, title, lower, upper, truncate, pad", () => {
  assert.equal(r('{{join . ", "}}', ["a", "b", "c"]), "a, b, c");
  assert.equal(r('{{join . ","}}', [1, "b", true]), "1,b,true");
  assert.equal(r('{{join . ","}}', { x: "b", y: "a" }), "a,b");
  assert.equal(r('[{{join .N ","}}]', { N: null }), "[]");
  throwsUsage(() => r('{{join . ","}}', "str"), /error calling join: expected slice, got string/);
  assert.equal(r('{{split "a:b:c" ":"}}', null), "[a b c]");
  assert.equal(r('{{split "héllo" ""}}', null), "[h é l l o]");
  assert.equal(r('{{range split "a,b" ","}}<{{.}}>{{end}}', null), "<a><b>");
  assert.equal(r('{{title "hello wORLD foo-bar_baz"}}', null), "Hello WORLD Foo-Bar_baz");
  assert.equal(r('{{lower "AbC"}} {{upper "AbC"}}', null), "abc ABC");
  assert.equal(r('{{truncate "abcdef" 3}} {{truncate "ab" 3}} {{truncate "abc" 3}}', null), "abc ab abc");
  assert.equal(r('[{{pad "x" 2 1}}][{{pad "" 2 1}}]', null), "[  x ][]");
  throwsUsage(() => r("{{lower .N}}", { N: 1 }), /wrong type for value; expected string; got int/);
  throwsUsage(() => r("{{upper .Missing}}", {}), /invalid value; expected string/);
  throwsUsage(() => r('{{truncate "x"}}', null), /wrong number of args for truncate: want 2 got 1/);
});

test("DOCKER_FUNCS and HEADER_FUNCS are callable", () => {
  assert.equal(DOCKER_FUNCS.upper?.("a"), "A");
  assert.equal(DOCKER_FUNCS.json?.({ a: "<" }), '{"a":"\\u003c"}');
  assert.equal(HEADER_FUNCS.json?.("IMAGE ID"), "IMAGE ID");
  assert.equal(HEADER_FUNCS.join?.("NAMES", ","), "NAMES");
  assert.equal(HEADER_FUNCS.truncate?.("CREATED BY", 3), "CREATED BY");
});

test("execute can override functions (docker's header functions)", () => {
  const t = compileTemplate('{{upper .A}}|{{join .B ","}}|{{json .C}}');
  assert.equal(t.execute({ A: "a", B: ["x", "y"], C: "c" }), 'A|x,y|"c"');
  assert.equal(t.execute({ A: "NAME", B: "LIST", C: "JSON" }, { funcs: HEADER_FUNCS }), "NAME|LIST|JSON");
});

test("user functions", () => {
  const t = compileTemplate('{{double .N}} {{greet "x"}}', {
    double: (n) => Number(n) * 2,
    greet: (s) => `hello ${String(s)}`,
  });
  assert.equal(t.execute({ N: 21 }), "42 hello x");
  assert.equal(renderTemplate("{{len .}}", [1], { len: () => "mine" }), "mine");
  throwsUsage(
    () =>
      renderTemplate("{{bad}}", null, {
        bad: () => {
          throw new Error("nope");
        },
      }),
    /error calling bad: nope/,
  );
});

// ---------------------------------------------------------------------------------------------
// value printing

test("values print as Go's %v", () => {
  assert.equal(goValueString("s"), "s");
  assert.equal(goValueString(42), "42");
  assert.equal(goValueString(-7), "-7");
  assert.equal(goValueString(1.5), "1.5");
  assert.equal(goValueString(1e21), "1e+21");
  assert.equal(goValueString(1234567.5), "1.2345675e+06");
  assert.equal(goValueString(0.00001), "1e-05");
  assert.equal(goValueString(true), "true");
  assert.equal(goValueString(null), "<nil>");
  assert.equal(goValueString([]), "[]");
  assert.equal(goValueString(["a", ["b", "c"], 1, null]), "[a [b c] 1 <nil>]");
  assert.equal(goValueString({ b: 1, a: { z: [1, 2] } }), "map[a:map[z:[1 2]] b:1]");
  assert.equal(goValueString({}), "map[]");
  assert.equal(goValueString(12345678901234567890n), "12345678901234567890");
  assert.equal(goValueString(Number.POSITIVE_INFINITY), "+Inf");
  assert.equal(goValueString(Number.NaN), "NaN");
});

// ---------------------------------------------------------------------------------------------
// fmt

test("goSprintf verbs and flags", () => {
  assert.equal(
    goSprintf("%s|%v|%d|%5d|%-5d|%05d|%+d|% d", "a", "b", 42, 42, 42, -42, 5, 5),
    "a|b|42|   42|42   |-0042|+5| 5",
  );
  assert.equal(
    goSprintf("%x|%X|%o|%O|%b|%#x|%#o|%#b", 255, 255, 8, 8, 5, 255, 8, 5),
    "ff|FF|10|0o10|101|0xff|010|0b101",
  );
  assert.equal(goSprintf("%c|%q|%U|%#U", 0x263a, 0x263a, 0x263a, 0x263a), "☺|'☺'|U+263A|U+263A '☺'");
  assert.equal(goSprintf("%q|%#q|%x|% x|%X", 'a"b\n', "ab", "hi", "hi", "hi"), '"a\\"b\\n"|`ab`|6869|68 69|6869');
  assert.equal(goSprintf("%.2s|%5.1s|%-4s|", "héllo", "abc", "é"), "hé|    a|é   |");
  assert.equal(goSprintf("%t|%v", false, true), "false|true");
  assert.equal(
    goSprintf(
      "%f|%.2f|%8.3f|%-8.1f|%e|%E|%.2e|%g|%G|%.3g",
      1.23456,
      2.675,
      1.23456,
      2.5,
      123456.789,
      0.000123,
      1234.5,
      1e-7,
      1e20,
      1982.289,
    ),
    "1.234560|2.67|   1.235|2.5     |1.234568e+05|1.230000E-04|1.23e+03|1e-07|1E+20|1.98e+03",
  );
  assert.equal(goSprintf("%v|%v|%.2v", 1.5, 100, 1.23456), "1.5|100|1.2");
  assert.equal(goSprintf("%v|%s|%q|%d", ["a", "b"], ["a", "b"], ["a", "b"], [1, 2]), '[a b]|[a b]|["a" "b"]|[1 2]');
  assert.equal(goSprintf("%v", { b: 2, a: "x" }), "map[a:x b:2]");
  assert.equal(
    goSprintf("%T %T %T %T %T %T", 1, 1.5, "s", true, [1], {}),
    "int float64 string bool []interface {} map[string]interface {}",
  );
  assert.equal(goSprintf("%%|%5%"), "%|%");
  assert.equal(goSprintf("%*d|%-*d|%.*f", 4, 1, 3, 2, 1, 1.23456), "   1|2  |1.2");
});

test("goSprintf reports bad verbs, missing and extra operands as Go does", () => {
  assert.equal(goSprintf("%d", "x"), "%!d(string=x)");
  assert.equal(goSprintf("%s", 5), "%!s(int=5)");
  assert.equal(goSprintf("%d", 1.5), "%!d(float64=1.5)");
  assert.equal(goSprintf("%d", null), "%!d(<nil>)");
  assert.equal(goSprintf("%v", null), "<nil>");
  assert.equal(goSprintf("%d %d", 1), "1 %!d(MISSING)");
  assert.equal(goSprintf("%d", 1, "a", 2), "1%!(EXTRA string=a, int=2)");
  assert.equal(goSprintf("%"), "%!(NOVERB)");
  assert.equal(goSprintf("%z", 1), "%!z(int=1)");
});

test("goSprint and goSprintln spacing", () => {
  assert.equal(goSprint("a", "b"), "ab");
  assert.equal(goSprint(1, 2), "1 2");
  assert.equal(goSprint("a", 1, 2, "b", 3), "a1 2b3");
  assert.equal(goSprint(null, [1]), "<nil> [1]");
  assert.equal(goSprintln("a", "b", 1), "a b 1\n");
});

// ---------------------------------------------------------------------------------------------
// JSON

test("goJSON writes compact JSON as Go's encoder does", () => {
  assert.equal(goJSON({ a: 1, b: [true, null], c: "x" }), '{"a":1,"b":[true,null],"c":"x"}');
  assert.equal(goJSON({ s: "<a & b>" }, { escapeHTML: false }), '{"s":"<a & b>"}');
  assert.equal(goJSON({ s: "<a & b>" }, { escapeHTML: true }), '{"s":"\\u003ca \\u0026 b\\u003e"}');
  assert.equal(goJSON("line\u2028sep\u2029"), '"line\\u2028sep\\u2029"');
  assert.equal(goJSON('\u0001\t\n\r\b\f"\\'), '"\\u0001\\t\\n\\r\\b\\f\\"\\\\"');
  assert.equal(goJSON("\ud800x"), '"\\ufffdx"');
  assert.equal(goJSON("😀é"), '"😀é"');
  assert.equal(goJSON(-0), "-0");
  assert.equal(goJSON(1.5e-7), "1.5e-7");
  assert.equal(goJSON(1e21), "1e+21");
  assert.equal(goJSON(123456789), "123456789");
  assert.equal(goJSON(undefined), "null");
  assert.equal(goJSON({ u: undefined, f: () => 1, n: null }), '{"n":null}');
  assert.equal(goJSON([undefined]), "[null]");
  assert.equal(goJSON(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 600))), '"2026-01-02T03:04:05.6Z"');
  assert.equal(goJSON(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), '"2026-01-02T03:04:05Z"');
  assert.equal(goJSON({}), "{}");
  assert.equal(goJSON([]), "[]");
  assert.throws(() => goJSON(Number.NaN), /json: unsupported value: NaN/);
  throwsUsage(() => r("{{json .}}", Number.POSITIVE_INFINITY), /error calling json: json: unsupported value: \+Inf/);
});

// ---------------------------------------------------------------------------------------------
// parse errors

test("parse errors are worded as docker words them", () => {
  throwsUsage(() => r("{{foo}}"), /^template parsing error: template: :1: function "foo" not defined$/);
  throwsUsage(() => r("{{.A"), /^template parsing error: template: :1: unclosed action$/);
  throwsUsage(() => r("{{.A}"), /^template parsing error: template: :1: bad character U\+007D '\}'$/);
  throwsUsage(() => r("{{if .A}}x"), /^template parsing error: template: :1: unexpected EOF$/);
  throwsUsage(() => r("{{end}}"), /^template parsing error: template: :1: unexpected \{\{end\}\}$/);
  throwsUsage(() => r("{{else}}"), /unexpected \{\{else\}\}/);
  throwsUsage(() => r("{{}}"), /missing value for command/);
  throwsUsage(() => r("{{.A | 3}}"), /non executable command in pipeline stage 2/);
  throwsUsage(() => r("{{(.A}}"), /unclosed left paren/);
  throwsUsage(() => r("{{.A)}}"), /unexpected right paren/);
  throwsUsage(
    () => r("{{range $a, $b, $c := .}}{{end}}"),
    /too many declarations in range|range can only initialize variables/,
  );
  throwsUsage(() => r("{{if}}{{end}}"), /missing value for if/);
  throwsUsage(() => r("{{.A\n.B +}}"), /^template parsing error: template: :2: illegal number syntax: "\+"$/);
  throwsUsage(() => r("line1\nline2 {{nope}}"), /template: :2: function "nope" not defined/);
  throwsUsage(() => r("{{.A #}}"), /unexpected "#" in operand/);
  throwsUsage(() => r("{{1.a}}"), /bad number syntax|unexpected/);
  throwsUsage(() => r("{{.A.}}"), /unexpected|bad character/);
});

test("errors are BerthErrors with code USAGE", () => {
  try {
    compileTemplate("{{nope}}");
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(e instanceof BerthError);
    assert.equal(e.code, "USAGE");
  }
});

test("executePartial keeps output written before an error", () => {
  const t = compileTemplate("{{.A}}-{{index .B 3}}-{{.C}}");
  const { output, error } = t.executePartial({ A: "a", B: [] });
  assert.equal(output, "a-");
  assert.ok(error instanceof BerthError);
  assert.match(error.message, /index out of range: 3/);
  const ok = t.executePartial({ A: "a", B: [0, 1, 2, 3], C: "c" });
  assert.equal(ok.output, "a-3-c");
  assert.equal(ok.error, undefined);
});

test("dates print as Go's time.Time", () => {
  assert.equal(goValueString(new Date(Date.UTC(2026, 10, 23, 20, 10, 39))).length > 0, true);
  assert.match(r("{{.}}", new Date(Date.UTC(2026, 10, 23, 20, 10, 39))), /^2026-11-2[34] \d\d:\d0:39 [+-]\d{4} \S+$/);
});
