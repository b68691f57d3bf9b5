// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile words, not templates.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DockerfileValueError } from "./errors.js";
import { expandWord, expandWords, processWord, type VariableSource } from "./expand.js";

// The cases of BuildKit's shell lexer tests (frontend/dockerfile/shell: envVarTest, wordsTest,
// lex_test.go), as input → expected pairs; `null` means the lexer must refuse the input.
const ENV = new Map([
  ["PWD", "/home"],
  ["SHELL", "bash"],
  ["KOREAN", "한국어"],
  ["NULL", ""],
]);

const WORDS: [string, string | null][] = [
  ["hello", "hello"],
  ["he'll'o", "hello"],
  ["he'llo", null],
  ["he\\'llo", "he'llo"],
  ["he\\\\'llo", null],
  ["abc\\tdef", "abctdef"],
  ['"abc\\tdef"', "abc\\tdef"],
  ['"abc\\\\tdef"', "abc\\tdef"],
  ["'abc\\tdef'", "abc\\tdef"],
  ["hello\\", "hello"],
  ["hello\\\\", "hello\\"],
  ['"hello', null],
  ['"hello\\"', null],
  ['"hel\'lo"', "hel'lo"],
  ["'hello", null],
  ["'hello\\'", "hello\\"],
  ["'hello\\there'", "hello\\there"],
  ["'hello\\\\there'", "hello\\\\there"],
  ["\"''\"", "''"],
  ["$.", "$."],
  ["he$1x", "hex"],
  ["he$.x", "he$.x"],
  ["he$pwd.", "he."],
  ["he$PWD", "he/home"],
  ["he\\$PWD", "he$PWD"],
  ["he\\\\$PWD", "he\\/home"],
  ['"he\\$PWD"', "he$PWD"],
  ['"he\\\\$PWD"', "he\\/home"],
  ["\\${}", "${}"],
  ["\\${}aaa", "${}aaa"],
  ["he\\${}", "he${}"],
  ["he\\${}xx", "he${}xx"],
  ["${}", null],
  ["${}aaa", null],
  ["he${}", null],
  ["he${}xx", null],
  ["he${hi}", "he"],
  ["he${hi}xx", "hexx"],
  ["he${PWD}", "he/home"],
  ["he${.}", null],
  ["he${XXX:-000}xx", "he000xx"],
  ["he${PWD:-000}xx", "he/homexx"],
  ["he${XXX:-$PWD}xx", "he/homexx"],
  ["he${XXX:-${PWD:-yyy}}xx", "he/homexx"],
  ["he${XXX:-${YYY:-yyy}}xx", "heyyyxx"],
  ["he${XXX:YYY}", null],
  ["he${XXX?}", null],
  ["he${XXX:?}", null],
  ["he${PWD?}", "he/home"],
  ["he${PWD:?}", "he/home"],
  ["he${NULL?}", "he"],
  ["he${NULL:?}", null],
  ["he${XXX:+${PWD}}xx", "hexx"],
  ["he${PWD:+${XXX}}xx", "hexx"],
  ["he${PWD:+${SHELL}}xx", "hebashxx"],
  ["he${XXX:+000}xx", "hexx"],
  ["he${PWD:+000}xx", "he000xx"],
  ["'he${XX}'", "he${XX}"],
  ['"he${PWD}"', "he/home"],
  ["\"he'$PWD'\"", "he'/home'"],
  ['"$PWD"', "/home"],
  ["'$PWD'", "$PWD"],
  ["'\\$PWD'", "\\$PWD"],
  ["'\"hello\"'", '"hello"'],
  ["'he\\$PWD'", "he\\$PWD"],
  ["he${PWD", null],
  ["he${PWD:=000}xx", null],
  ["he${PWD:+${PWD}:}xx", "he/home:xx"],
  ["he${XXX:-\\$PWD:}xx", "he$PWD:xx"],
  ["he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"],
  ["안녕하세요", "안녕하세요"],
  ["안'녕'하세요", "안녕하세요"],
  ["안'녕하세요", null],
  ["안녕\\'하세요", "안녕'하세요"],
  ["안녕\\t하세요", "안녕t하세요"],
  ['"안녕\\t하세요"', "안녕\\t하세요"],
  ["안녕$PWD", "안녕/home"],
  ["$KOREAN", "한국어"],
  ["안녕$KOREAN", "안녕한국어"],
  ["${{aaa}", null],
  ["${aaa}}", "}"],
  ["${aaa", null],
  ["${{aaa:-bbb}", null],
  ["${aaa:-bbb}}", "bbb}"],
  ["${aaa:-bbb", null],
  ["${aaa:-bbb}", "bbb"],
  ["${aaa:-${bbb:-ccc}}", "ccc"],
  ["${aaa:-bbb ${foo}", null],
  ["${aaa:-bbb {foo}", "bbb {foo"],
  ["${:}", null],
  ["${:-bbb}", null],
  ["${:+bbb}", null],
];

// Positional and special parameters are never set in a Dockerfile.
for (const p of ["1", "2", "9", "999", "001", "@", "*", "#", "?", "-", "$", "!", "0"]) {
  WORDS.push([`\${${p}}`, ""], [`\${${p}:+bbb}`, ""], [`\${${p}:-bbb}`, "bbb"]);
  if (!["@", "*", "#", "?", "-", "$", "!"].includes(p) || p === "@") WORDS.push([`$${p}`, ""]);
}
WORDS.push(["$999aaa", "aaa"], ["${999:-bbb}aaa", "bbbaaa"], ["$001aaa", "aaa"], ["$@@@", "@@"], ["$@aaa", "aaa"]);

test("ProcessWord: quotes, escapes and every ${} form, as BuildKit's lexer", () => {
  for (const [input, expected] of WORDS) {
    if (expected === null) {
      assert.throws(() => expandWord(input, ENV), DockerfileValueError, `expected ${input} to fail`);
    } else {
      assert.equal(expandWord(input, ENV), expected, `input ${input}`);
    }
  }
});

const SPLIT: [Record<string, string>, string, string[] | null][] = [
  [{}, "hello", ["hello"]],
  [{}, "hello${hi}bye", ["hellobye"]],
  [{ hi: "hi" }, "hello${hi}bye", ["hellohibye"]],
  [{ space: "abc  def" }, "hello${space}bye", ["helloabc", "defbye"]],
  [{ space: "abc  def" }, 'hello"${space}"bye', ["helloabc  defbye"]],
  [{ space: "abc  def" }, 'hello "${space}"bye', ["hello", "abc  defbye"]],
  [{ leading: "  ab c" }, "hello${leading}def", ["hello", "ab", "cdef"]],
  [{ leading: "  ab c" }, 'hello"${leading}" def', ["hello  ab c", "def"]],
  [{ leading: "  ab c" }, 'hello"${leading}"', ["hello  ab c"]],
  [{ leading: "  ab c" }, "hello${leading}", ["hello", "ab", "c"]],
  [{ trailing: "ab c   " }, "hello${trailing}", ["helloab", "c"]],
  [{ trailing: "ab c   " }, "hello${trailing}d", ["helloab", "c", "d"]],
  [{ trailing: "ab c   " }, 'hello"${trailing}"d', ["helloab c   d"]],
  [{ trailing: "ab c   " }, 'hel"lo${trailing}"', ["helloab c   "]],
  [{}, 'hello" there  "', ["hello there  "]],
  [{}, "hello there     ", ["hello", "there"]],
  [{}, "hello\\ there", ["hello there"]],
  [{}, 'hello" there', null],
  [{}, 'hello\\" there', ['hello"', "there"]],
  [{}, 'hello"\\\\there"', ["hello\\there"]],
  [{}, 'hello"\\there"', ["hello\\there"]],
  [{}, "hello'\\\\there'", ["hello\\\\there"]],
  [{}, "hello'\\there'", ["hello\\there"]],
  [{}, "hello'$there'", ["hello$there"]],
  // A default inside ${} joins the text around it (BuildKit ≥ mid-2024 would give ["23"]).
  [{}, "1${P:-2}3", ["123"]],
  [{ P: "4 5" }, "1${P:-2}3", ["14", "53"]],
];

test("ProcessWords: splitting after expansion, quotes respected", () => {
  for (const [env, input, expected] of SPLIT) {
    const vars = new Map(Object.entries(env));
    if (expected === null) assert.throws(() => expandWords(input, vars), DockerfileValueError);
    else assert.deepEqual(expandWords(input, vars), expected, `input ${input}`);
  }
});

test("${VAR?msg} and ${VAR:?msg} report the message with the variable's name", () => {
  const set = new Map([
    ["VAR", "plain"],
    ["ARG", "x"],
  ]);
  const empty = new Map([
    ["VAR", ""],
    ["ARG", "x"],
  ]);
  const unset = new Map([["ARG", "x"]]);
  assert.equal(expandWord("${VAR:?message here$ARG}", set), "plain");
  assert.throws(() => expandWord("${VAR:?message here$ARG}", empty), /VAR: message herex/);
  assert.throws(() => expandWord("${VAR:?message here$ARG}", unset), /VAR: message herex/);
  assert.equal(expandWord("${VAR?message here$ARG}", empty), "");
  assert.throws(() => expandWord("${VAR?message here$ARG}", unset), /VAR: message herex/);
  assert.throws(() => expandWord("${VAR:?}", unset), /^.*VAR: is not allowed to be unset$/);
  assert.throws(() => expandWord("${VAR:?}", empty), /VAR: is not allowed to be empty/);
});

test("errors name the word, as BuildKit's do", () => {
  assert.throws(() => expandWord("${A", new Map()), {
    message: `failed to process "\${A": syntax error: missing '}'`,
  });
  assert.throws(() => expandWord("${:}", new Map()), {
    message: `failed to process "\${:}": syntax error: bad substitution`,
  });
  assert.throws(() => expandWord("${A:#x}", new Map()), /unsupported modifier \(:#\) in substitution/);
  assert.throws(() => expandWord("${A=x}", new Map()), /unsupported modifier \(=\) in substitution/);
  assert.throws(() => expandWord("'abc", new Map()), /looking for matching single-quote/);
});

function vars(o: Record<string, string>): VariableSource {
  return new Map(Object.entries(o));
}

test("-, +, ? without the colon look at set/unset only", () => {
  const env = vars({ FOO: "xxx", BAR: "" });
  assert.equal(expandWord("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", env), "xxx  ccc");
  assert.equal(expandWord("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", env), "xxx bbb ccc");
  assert.equal(expandWord("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", env), "aaa bbb ");
  assert.equal(expandWord("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", env), "aaa  ");
  assert.equal(expandWord("${FOO:-}", env), "xxx");
  assert.equal(expandWord("${FOO?aaa}", env), "xxx");
  assert.equal(expandWord("${BAR?bbb}", env), "");
  assert.throws(() => expandWord("${BAZ?ccc}", env));
  assert.throws(() => expandWord("${BAR:?bbb}", env));
});

test("# ## % %% trim prefixes and suffixes by shell pattern", () => {
  const cases: [Record<string, string>, string, string][] = [
    [{ FOO: "()[]{}^$.*?|\\x" }, "${FOO#()[]{\\}^$.\\*\\?|\\\\}", "x"],
    [{ FOO: "xx**" }, "${FOO%%\\**}", "xx"],
    [{ FOO: "xxyy" }, "${FOO#*x*y}", "y"],
    [{ FOO: "xxyy" }, "${FOO#*}", "xxyy"],
    [{ FOO: "xxyy", BAR: "x" }, "${FOO#$BAR}", "xyy"],
    [{ FOO: "xxyy", BAR: "" }, "${FOO#$BAR}", "xxyy"],
    [{ FOO: "xxyy" }, "${FOO#}", "xxyy"],
    [{ FOO: "xxyy" }, "${FOO##*x}", "yy"],
    [{ FOO: "xxyy" }, "${FOO##}", "xxyy"],
    [{ FOO: "???y" }, "${FOO#?\\?}", "?y"],
    [{ FOO: "xxyy" }, "${ABC:-.}${FOO%x}${ABC:-.}", ".xxyy."],
    [{ FOO: "a***yy*" }, "${FOO%%\\**\\*}", "a"],
    [{ FOO: "xxyy" }, "${FOO%}", "xxyy"],
    [{ FOO: "xxyy", BAR: "" }, "${FOO%%$BAR}", "xxyy"],
    [{ FOO: "file.tar.gz" }, "${FOO%.*}", "file.tar"],
    [{ FOO: "file.tar.gz" }, "${FOO%%.*}", "file"],
    [{ FOO: "/usr/local/bin" }, "${FOO##*/}", "bin"],
    [{ FOO: "/usr/local/bin" }, "${FOO#*/}", "usr/local/bin"],
  ];
  for (const [env, input, expected] of cases) assert.equal(expandWord(input, vars(env)), expected, input);
  for (const bad of ["${FOO:#}", "${FOO:##}", "${FOO:%}", "${FOO:%%}"]) assert.throws(() => expandWord(bad, vars({})));
});

test("/ and // replace by shell pattern", () => {
  const cases: [Record<string, string>, string, string][] = [
    [{ FOO: "/foo*/*/*.txt", NEEDLE: "\\*/" }, "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", "/foo.*/*.txt - /foo..*.txt"],
    [{ FOO: "/tmp/tmp/bar.txt", NEEDLE: "/tmp" }, "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", "/tmp/bar.txt - /bar.txt"],
    [
      { FOO: "/a/foo/b/c.txt", NEEDLE: "/?/", REPLACEMENT: "/" },
      "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
      "/foo/b/c.txt - /foo/c.txt",
    ],
    [
      { FOO: "http://google.de", NEEDLE: "http://", REPLACEMENT: "https://" },
      "${FOO/$NEEDLE/$REPLACEMENT}",
      "https://google.de",
    ],
    [{ FOO: "/tmp/foo.txt" }, "${FOO//\\//\\/}", "\\/tmp\\/foo.txt"],
    [{ FOO: "xxyy", BAR: "" }, "${FOO/$BAR/ww}", "wwxxyy"],
    [{ FOO: "xxyy" }, "${FOO///}", "xxyy"],
    [{}, "${FOO///}", ""],
    // Go's ReplaceAll skips an empty match right after a match.
    [{ FOO: "abc" }, "${FOO//*/-}", "-"],
    [{ FOO: "baaac" }, "${FOO//a/-}", "b---c"],
    // The replacement is Go template text: an escaped $0 is the whole match.
    [{ FOO: "abc" }, "${FOO//b/<\\$0>}", "a<\\b>c"],
  ];
  for (const [env, input, expected] of cases) assert.equal(expandWord(input, vars(env)), expected, input);
  assert.throws(() => expandWord("${FOO//ww}", vars({ FOO: "xxyy" })), /missing '\/' in \$\{\}/);
  assert.throws(() => expandWord("${FOO//}", vars({ FOO: "xxyy" })));
});

test("the TARGETVARIANT idiom of release file names", () => {
  const word = "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
  const base = { VERSION: "v1.2.3", TARGETOS: "linux" };
  assert.equal(
    expandWord(word, vars({ ...base, TARGETARCH: "arm", TARGETVARIANT: "v7" })),
    "something-v1.2.3.linux-arm-v7.tar.gz",
  );
  assert.equal(
    expandWord(word, vars({ ...base, TARGETARCH: "arm64", TARGETVARIANT: "" })),
    "something-v1.2.3.linux-arm64.tar.gz",
  );
  assert.equal(expandWord(word, vars({ ...base, TARGETARCH: "arm64" })), "something-v1.2.3.linux-arm64.tar.gz");
});

test("matched and unmatched names are reported", () => {
  const r = processWord("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", vars({ FOO: "xxx", BAR: "" }));
  assert.deepEqual([...r.matched].sort(), ["BAR", "FOO"]);
  assert.deepEqual([...r.unmatched], ["BAZ"]);
});

test("the backtick escape of `# escape=`", () => {
  const env = vars({ A: "x" });
  assert.equal(expandWord("a`$A", env, { escape: "`" }), "a$A");
  assert.equal(expandWord("C:\\path\\$A", env, { escape: "`" }), "C:\\path\\x");
  assert.equal(expandWord('"a`"b"', env, { escape: "`" }), 'a"b');
});

test("raw modes keep quotes, escapes and unset references as written", () => {
  const opts = { rawQuotes: true, skipUnsetEnv: true };
  assert.deepEqual(expandWords("hello'$there' ${X:-y} \"q\"", vars({}), opts), ["hello'$there'", "${X:-y}", '"q"']);
  assert.equal(expandWord("a\\$b", vars({}), { rawEscapes: true }), "a\\$b");
  assert.equal(expandWord('say "hi" $A', vars({ A: "x" }), { skipProcessQuotes: true }), 'say "hi" x');
});
