/**
 * A Go text/template evaluator for docker's `--format` flag, with docker's template functions
 * (json, join, split, title, lower, upper, pad, truncate) and Go's builtins (and, or, not,
 * len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge, call, html, js, urlquery).
 *
 * JavaScript values stand in for Go values: objects are maps (missing keys print
 * "<no value>", keys iterate in sorted order), arrays are slices, numbers are ints when
 * integral and float64 otherwise, null is a nil interface ("<nil>"), undefined is Go's
 * "no value". A function-valued field is a method: `{{.Method arg}}` calls it.
 *
 * Every error is a BerthError("USAGE", "template parsing error: template: :LINE: ...") worded
 * as Go and docker word them.
 */
import { BerthError } from "../oci/errors.js";
import { formatGoFloat, type GoFloatVerb, goTimeString } from "./units.js";

export type TemplateFunc = (...args: unknown[]) => unknown;
export type FuncMap = Readonly<Record<string, TemplateFunc>>;

export interface ExecuteOptions {
  /** Functions that replace same-named ones for this execution (names must exist at parse time). */
  funcs?: FuncMap;
}

export interface CompiledTemplate {
  readonly source: string;
  /** Runs the template against `data`; throws BerthError("USAGE") on execution errors. */
  execute(data: unknown, options?: ExecuteOptions): string;
  /** Like execute, but keeps what was written before an error (docker's table headers do this). */
  executePartial(data: unknown, options?: ExecuteOptions): { output: string; error: BerthError | undefined };
}

/** An error worded as Go's text/template words it (docker adds "template parsing error: "). */
class GoTemplateError extends Error {}

/** A function argument of the wrong type: reported without "error calling ...", as Go does. */
class ArgTypeError extends Error {}

function toBerthError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new BerthError("USAGE", `template parsing error: ${msg}`, { cause: err });
}

// =============================================================================================
// Lexer

type ItemType =
  | "error"
  | "eof"
  | "text"
  | "leftDelim"
  | "rightDelim"
  | "space"
  | "field"
  | "identifier"
  | "variable"
  | "string"
  | "rawString"
  | "charConstant"
  | "number"
  | "bool"
  | "pipe"
  | "assign"
  | "declare"
  | "leftParen"
  | "rightParen"
  | "char"
  // keywords
  | "dot"
  | "nil"
  | "block"
  | "break"
  | "continue"
  | "define"
  | "else"
  | "end"
  | "if"
  | "range"
  | "template"
  | "with";

interface Item {
  typ: ItemType;
  val: string;
  pos: number;
  line: number;
}

const KEYWORDS: ReadonlySet<string> = new Set([
  "block",
  "break",
  "continue",
  "define",
  "else",
  "end",
  "if",
  "nil",
  "range",
  "template",
  "with",
]);
const KEYWORD_ITEMS: ReadonlySet<ItemType> = new Set([...KEYWORDS, "dot"] as ItemType[]);

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\r" || c === "\n";
}

function isAlphaNumeric(c: string | undefined): boolean {
  return c !== undefined && c !== "" && /^[\p{L}\p{Nd}_]$/u.test(c);
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

/** Go's %#U: U+0023 '#'. */
function fmtCodePoint(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  const hex = cp.toString(16).toUpperCase().padStart(4, "0");
  return isPrintRune(cp) ? `U+${hex} '${c}'` : `U+${hex}`;
}

function lex(input: string): Item[] {
  const items: Item[] = [];
  const newlines: number[] = [];
  for (let i = input.indexOf("\n"); i >= 0; i = input.indexOf("\n", i + 1)) newlines.push(i);
  const lineAt = (pos: number): number => {
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((newlines[mid] ?? 0) < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  const emit = (typ: ItemType, val: string, pos: number): void => {
    items.push({ typ, val, pos, line: lineAt(pos) });
  };
  const fail = (msg: string, pos: number): Item[] => {
    emit("error", msg, pos);
    return items;
  };
  /** Right delimiter at p: "}}" or, with a trim marker, " -}}". */
  const atRightDelim = (p: number): { delim: boolean; trim: boolean } => {
    if (isSpace(input[p]) && input[p + 1] === "-" && input.startsWith("}}", p + 2)) return { delim: true, trim: true };
    if (input.startsWith("}}", p)) return { delim: true, trim: false };
    return { delim: false, trim: false };
  };
  const skipSpace = (p: number): number => {
    while (p < input.length && isSpace(input[p])) p++;
    return p;
  };
  const atTerminator = (p: number): boolean => {
    const c = input[p];
    if (c === undefined || isSpace(c)) return true;
    if (c === "." || c === "," || c === "|" || c === ":" || c === ")" || c === "(") return true;
    return input.startsWith("}}", p);
  };
  const charAt = (p: number): string => {
    const cp = input.codePointAt(p);
    return cp === undefined ? "" : String.fromCodePoint(cp);
  };

  let pos = 0;
  for (;;) {
    // Text up to the next action.
    const open = input.indexOf("{{", pos);
    if (open < 0) {
      if (pos < input.length) emit("text", input.slice(pos), pos);
      emit("eof", "", input.length);
      return items;
    }
    const trimLeft = input[open + 2] === "-" && isSpace(input[open + 3]);
    let text = input.slice(pos, open);
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, "");
    if (text.length > 0) emit("text", text, pos);
    pos = open + 2;
    const afterMarker = trimLeft ? 2 : 0;

    if (input.startsWith("/*", pos + afterMarker)) {
      pos += afterMarker;
      const close = input.indexOf("*/", pos + 2);
      if (close < 0) return fail("unclosed comment", pos);
      pos = close + 2;
      const rd = atRightDelim(pos);
      if (!rd.delim) return fail("comment ends before closing delimiter", pos);
      pos += (rd.trim ? 2 : 0) + 2;
      if (rd.trim) pos = skipSpace(pos);
      continue;
    }

    emit("leftDelim", "{{", open);
    pos += afterMarker;
    let parenDepth = 0;
    for (;;) {
      const rd = atRightDelim(pos);
      if (rd.delim) {
        if (parenDepth > 0) return fail("unclosed left paren", pos);
        if (rd.trim) pos += 2;
        emit("rightDelim", "}}", pos);
        pos += 2;
        if (rd.trim) pos = skipSpace(pos);
        break;
      }
      if (pos >= input.length) return fail("unclosed action", pos);
      const c = charAt(pos);
      const start = pos;
      if (isSpace(c)) {
        let j = pos;
        while (j < input.length && isSpace(input[j])) j++;
        // The last space before "-}}" belongs to the trim marker.
        if (input[j] === "-" && input.startsWith("}}", j + 1)) j--;
        if (j > pos) emit("space", input.slice(pos, j), pos);
        pos = j;
        continue;
      }
      if (c === "=") {
        emit("assign", "=", pos++);
        continue;
      }
      if (c === ":") {
        if (input[pos + 1] !== "=") return fail("expected :=", pos);
        emit("declare", ":=", pos);
        pos += 2;
        continue;
      }
      if (c === "|") {
        emit("pipe", "|", pos++);
        continue;
      }
      if (c === '"' || c === "'") {
        pos++;
        for (;;) {
          const ch = input[pos++];
          if (ch === "\\") {
            const nx = input[pos++];
            if (nx !== undefined && nx !== "\n") continue;
            return fail(c === '"' ? "unterminated quoted string" : "unterminated character constant", start);
          }
          if (ch === undefined || ch === "\n") {
            return fail(c === '"' ? "unterminated quoted string" : "unterminated character constant", start);
          }
          if (ch === c) break;
        }
        emit(c === '"' ? "string" : "charConstant", input.slice(start, pos), start);
        continue;
      }
      if (c === "`") {
        const close = input.indexOf("`", pos + 1);
        if (close < 0) return fail("unterminated raw quoted string", start);
        pos = close + 1;
        emit("rawString", input.slice(start, pos), start);
        continue;
      }
      if (c === "$" || (c === "." && !isDigit(input[pos + 1]))) {
        pos++;
        if (atTerminator(pos)) {
          emit(c === "$" ? "variable" : "dot", c, start);
          continue;
        }
        while (pos < input.length && isAlphaNumeric(charAt(pos))) pos += charAt(pos).length;
        if (!atTerminator(pos)) return fail(`bad character ${fmtCodePoint(charAt(pos))}`, pos);
        emit(c === "$" ? "variable" : "field", input.slice(start, pos), start);
        continue;
      }
      if (c === "+" || c === "-" || c === "." || isDigit(c)) {
        const end = scanNumber(input, pos);
        if (end < 0) return fail(`bad number syntax: ${goQuote(input.slice(start, -end))}`, start);
        pos = end;
        emit("number", input.slice(start, pos), start);
        continue;
      }
      if (isAlphaNumeric(c)) {
        while (pos < input.length && isAlphaNumeric(charAt(pos))) pos += charAt(pos).length;
        const word = input.slice(start, pos);
        if (!atTerminator(pos)) return fail(`bad character ${fmtCodePoint(charAt(pos))}`, pos);
        if (KEYWORDS.has(word)) emit(word as ItemType, word, start);
        else if (word === "true" || word === "false") emit("bool", word, start);
        else emit("identifier", word, start);
        continue;
      }
      if (c === "(") {
        parenDepth++;
        emit("leftParen", "(", pos++);
        continue;
      }
      if (c === ")") {
        parenDepth--;
        if (parenDepth < 0) return fail(`unexpected right paren ${fmtCodePoint(c)}`, pos);
        emit("rightParen", ")", pos++);
        continue;
      }
      const cp = c.codePointAt(0) ?? 0;
      if (cp <= 0x7f && isPrintRune(cp)) {
        emit("char", c, pos++);
        continue;
      }
      return fail(`unrecognized character in action: ${fmtCodePoint(c)}`, pos);
    }
  }
}

/** Go's lexer number scan; returns the end offset, or -(end) on bad syntax. */
function scanNumber(input: string, pos: number): number {
  const accept = (set: string): boolean => {
    const c = input[pos];
    if (c !== undefined && set.includes(c)) {
      pos++;
      return true;
    }
    return false;
  };
  const acceptRun = (set: string): void => {
    while (accept(set)) {
      /* absorb */
    }
  };
  accept("+-");
  let digits = "0123456789_";
  if (accept("0")) {
    if (accept("xX")) digits = "0123456789abcdefABCDEF_";
    else if (accept("oO")) digits = "01234567_";
    else if (accept("bB")) digits = "01_";
  }
  acceptRun(digits);
  if (accept(".")) acceptRun(digits);
  if (digits.length === 11 && accept("eE")) {
    accept("+-");
    acceptRun("0123456789_");
  }
  if (digits.length === 23 && accept("pP")) {
    accept("+-");
    acceptRun("0123456789_");
  }
  accept("i");
  const next = input.codePointAt(pos);
  if (next !== undefined && isAlphaNumeric(String.fromCodePoint(next))) return -(pos + 1);
  return pos;
}

// =============================================================================================
// Parse tree

type ArgNode =
  | { k: "field"; pos: number; idents: string[] }
  | { k: "variable"; pos: number; idents: string[] }
  | { k: "chain"; pos: number; node: ArgNode; fields: string[] }
  | { k: "identifier"; pos: number; name: string }
  | { k: "dot"; pos: number }
  | { k: "nil"; pos: number }
  | { k: "bool"; pos: number; value: boolean }
  | { k: "number"; pos: number; value: number; text: string }
  | { k: "string"; pos: number; value: string; quoted: string }
  | { k: "pipe"; pos: number; pipe: PipeNode };

interface CommandNode {
  pos: number;
  args: ArgNode[];
}

interface PipeNode {
  pos: number;
  isAssign: boolean;
  decl: string[];
  cmds: CommandNode[];
}

type Node =
  | { k: "text"; pos: number; text: string }
  | { k: "action"; pos: number; pipe: PipeNode }
  | { k: "if" | "with" | "range"; pos: number; pipe: PipeNode; list: Node[]; elseList: Node[] | null }
  | { k: "break" | "continue"; pos: number }
  | { k: "template"; pos: number; name: string; pipe: PipeNode | null };

/** What textOrAction can return: a node, or the {{end}} / {{else}} that closes a list. */
type ListItem = Node | { k: "end"; pos: number } | { k: "else"; pos: number };

interface ParsedTemplate {
  source: string;
  root: Node[];
  defines: Map<string, Node[]>;
}

function argString(a: ArgNode): string {
  switch (a.k) {
    case "field":
      return a.idents.map((i) => `.${i}`).join("");
    case "variable":
      return a.idents.join(".");
    case "chain":
      return argString(a.node) + a.fields.map((f) => `.${f}`).join("");
    case "identifier":
      return a.name;
    case "dot":
      return ".";
    case "nil":
      return "nil";
    case "bool":
      return String(a.value);
    case "number":
      return a.text;
    case "string":
      return a.quoted;
    case "pipe":
      return `(${pipeString(a.pipe)})`;
  }
}

function pipeString(p: PipeNode): string {
  const decl = p.decl.length > 0 ? `${p.decl.join(", ")} ${p.isAssign ? "=" : ":="} ` : "";
  return decl + p.cmds.map((c) => c.args.map(argString).join(" ")).join(" | ");
}

function listItemString(n: ListItem): string {
  switch (n.k) {
    case "end":
      return "{{end}}";
    case "else":
      return "{{else}}";
    case "text":
      return goQuote(n.text);
    case "action":
      return `{{${pipeString(n.pipe)}}}`;
    case "break":
    case "continue":
      return `{{${n.k}}}`;
    case "template":
      return `{{template ${goQuote(n.name)}${n.pipe ? ` ${pipeString(n.pipe)}` : ""}}}`;
    default:
      return `{{${n.k} ${pipeString(n.pipe)}}}`;
  }
}

function itemString(it: Item): string {
  if (it.typ === "eof") return "EOF";
  if (it.typ === "error") return it.val;
  if (KEYWORD_ITEMS.has(it.typ)) return `<${it.val}>`;
  const runes = [...it.val];
  if (runes.length > 10) return `${goQuote(runes.slice(0, 10).join(""))}...`;
  return goQuote(it.val);
}

class Parser {
  private i = 0;
  private vars: string[] = ["$"];
  private rangeDepth = 0;
  readonly defines = new Map<string, Node[]>();

  constructor(
    private readonly items: Item[],
    private readonly funcNames: ReadonlySet<string>,
  ) {}

  private next(): Item {
    const it = this.peek();
    this.i++;
    return it;
  }

  private backup(): void {
    this.i--;
  }

  /** The current item; past the end, the last one (EOF or the lexer's error) forever. */
  private peek(): Item {
    return this.items[Math.min(this.i, this.items.length - 1)] as Item;
  }

  private nextNonSpace(): Item {
    for (;;) {
      const it = this.next();
      if (it.typ !== "space") return it;
    }
  }

  private peekNonSpace(): Item {
    while (this.peek().typ === "space") this.i++;
    return this.peek();
  }

  private errorf(msg: string): never {
    const tok = this.items[Math.min(Math.max(this.i - 1, 0), this.items.length - 1)];
    throw new GoTemplateError(`template: :${tok?.line ?? 1}: ${msg}`);
  }

  private unexpected(it: Item, context: string): never {
    if (it.typ === "error") this.errorf(it.val);
    this.errorf(`unexpected ${itemString(it)} in ${context}`);
  }

  private expect(typ: ItemType, context: string): Item {
    const it = this.nextNonSpace();
    if (it.typ !== typ) this.unexpected(it, context);
    return it;
  }

  parse(): Node[] {
    const root: Node[] = [];
    while (this.peek().typ !== "eof") {
      if (this.peek().typ === "leftDelim") {
        const mark = this.i;
        this.next();
        if (this.nextNonSpace().typ === "define") {
          this.parseDefinition();
          continue;
        }
        this.i = mark;
      }
      const n = this.textOrAction();
      if (n.k === "end" || n.k === "else") this.errorf(`unexpected ${listItemString(n)}`);
      root.push(n);
    }
    return root;
  }

  /** The body of {{define}} or {{block}} up to its {{end}}: a template of its own, with only $. */
  private defineBody(name: string, context: string): void {
    const saved = this.vars;
    const savedDepth = this.rangeDepth;
    this.vars = ["$"];
    this.rangeDepth = 0;
    const [list, end] = this.itemList();
    if (end.k !== "end") this.errorf(`unexpected ${listItemString(end)} in ${context}`);
    this.vars = saved;
    this.rangeDepth = savedDepth;
    this.addDefine(name, list);
  }

  private addDefine(name: string, list: Node[]): void {
    const existing = this.defines.get(name);
    if (existing !== undefined && !isEmptyList(existing) && !isEmptyList(list)) {
      this.errorf(`template: multiple definition of template ${goQuote(name)}`);
    }
    if (existing === undefined || isEmptyList(existing)) this.defines.set(name, list);
  }

  private parseDefinition(): void {
    const context = "define clause";
    const nameTok = this.nextNonSpace();
    const name = this.templateName(nameTok, context);
    this.expect("rightDelim", context);
    this.defineBody(name, context);
  }

  private templateName(tok: Item, context: string): string {
    if (tok.typ === "string" || tok.typ === "rawString") return this.unquote(tok);
    this.unexpected(tok, context);
  }

  private itemList(): [Node[], ListItem] {
    const list: Node[] = [];
    while (this.peekNonSpace().typ !== "eof") {
      const n = this.textOrAction();
      if (n.k === "end" || n.k === "else") return [list, n];
      list.push(n);
    }
    this.errorf("unexpected EOF");
  }

  private textOrAction(): ListItem {
    const tok = this.nextNonSpace();
    if (tok.typ === "text") return { k: "text", pos: tok.pos, text: tok.val };
    if (tok.typ === "leftDelim") return this.action();
    this.unexpected(tok, "input");
  }

  private action(): ListItem {
    const tok = this.nextNonSpace();
    switch (tok.typ) {
      case "block":
        return this.blockControl();
      case "break":
      case "continue": {
        const end = this.nextNonSpace();
        if (end.typ !== "rightDelim") this.unexpected(end, `{{${tok.typ}}}`);
        if (this.rangeDepth === 0) this.errorf(`{{${tok.typ}}} outside {{range}}`);
        return { k: tok.typ, pos: tok.pos };
      }
      case "else": {
        const peek = this.peekNonSpace();
        if (peek.typ === "if" || peek.typ === "with") return { k: "else", pos: peek.pos };
        return { k: "else", pos: this.expect("rightDelim", "else").pos };
      }
      case "end":
        return { k: "end", pos: this.expect("rightDelim", "end").pos };
      case "if":
      case "range":
      case "with":
        return this.control(tok.typ, tok.pos);
      case "template":
        return this.templateControl(tok.pos);
      default: {
        this.backup();
        const start = this.peek();
        return { k: "action", pos: start.pos, pipe: this.pipeline("command", "rightDelim") };
      }
    }
  }

  private control(context: "if" | "range" | "with", pos: number): Node {
    const varsLen = this.vars.length;
    try {
      const pipe = this.pipeline(context, "rightDelim");
      if (context === "range") this.rangeDepth++;
      const [list, first] = this.itemList();
      let next = first;
      if (context === "range") this.rangeDepth--;
      let elseList: Node[] | null = null;
      if (next.k === "else") {
        const peek = this.peek();
        if ((context === "if" && peek.typ === "if") || (context === "with" && peek.typ === "with")) {
          const kw = this.next();
          elseList = [this.control(context, kw.pos)];
        } else {
          [elseList, next] = this.itemList();
          if (next.k !== "end") this.errorf(`expected end; found ${listItemString(next)}`);
        }
      }
      return { k: context, pos, pipe, list, elseList };
    } finally {
      this.vars.length = varsLen;
    }
  }

  private templateControl(pos: number): Node {
    const context = "template clause";
    const name = this.templateName(this.nextNonSpace(), context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().typ !== "rightDelim") {
      this.backup();
      pipe = this.pipeline(context, "rightDelim");
    }
    return { k: "template", pos, name, pipe };
  }

  private blockControl(): Node {
    const context = "block clause";
    const tok = this.nextNonSpace();
    const name = this.templateName(tok, context);
    const pipe = this.pipeline(context, "rightDelim");
    this.defineBody(name, context);
    return { k: "template", pos: tok.pos, name, pipe };
  }

  private pipeline(context: string, end: "rightDelim" | "rightParen"): PipeNode {
    const start = this.peekNonSpace();
    const pipe: PipeNode = { pos: start.pos, isAssign: false, decl: [], cmds: [] };
    for (;;) {
      const v = this.peekNonSpace();
      if (v.typ !== "variable") break;
      const mark = this.i;
      this.next();
      const next = this.peekNonSpace();
      if (next.typ === "assign" || next.typ === "declare") {
        pipe.isAssign = next.typ === "assign";
        this.nextNonSpace();
        pipe.decl.push(v.val);
        this.vars.push(v.val);
      } else if (next.typ === "char" && next.val === ",") {
        this.nextNonSpace();
        pipe.decl.push(v.val);
        this.vars.push(v.val);
        if (context === "range" && pipe.decl.length < 2) {
          const t = this.peekNonSpace().typ;
          if (t === "variable" || t === "rightDelim" || t === "rightParen") continue;
          this.errorf("range can only initialize variables");
        }
        this.errorf(`too many declarations in ${context}`);
      } else {
        this.i = mark;
      }
      break;
    }
    for (;;) {
      const tok = this.nextNonSpace();
      if (tok.typ === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (tok.typ) {
        case "bool":
        case "charConstant":
        case "dot":
        case "field":
        case "identifier":
        case "number":
        case "nil":
        case "rawString":
        case "string":
        case "variable":
        case "leftParen":
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(tok, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((c, i) => {
      const k = c.args[0]?.k;
      if (k === "bool" || k === "dot" || k === "nil" || k === "number" || k === "string") {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand !== null) cmd.args.push(operand);
      const tok = this.next();
      if (tok.typ === "space") continue;
      if (tok.typ === "rightDelim" || tok.typ === "rightParen") this.backup();
      else if (tok.typ !== "pipe") this.unexpected(tok, "operand");
      break;
    }
    if (cmd.args.length === 0) this.errorf("empty command");
    return cmd;
  }

  private operand(): ArgNode | null {
    const node = this.term();
    if (node === null) return null;
    if (this.peek().typ !== "field") return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().typ === "field") fields.push(this.next().val.slice(1));
    if (node.k === "field") return { k: "field", pos, idents: [...node.idents, ...fields] };
    if (node.k === "variable") return { k: "variable", pos, idents: [...node.idents, ...fields] };
    if (node.k === "bool" || node.k === "string" || node.k === "number" || node.k === "nil" || node.k === "dot") {
      this.errorf(`unexpected . after term ${goQuote(argString(node))}`);
    }
    return { k: "chain", pos, node, fields };
  }

  private term(): ArgNode | null {
    const tok = this.nextNonSpace();
    switch (tok.typ) {
      case "identifier":
        if (!this.funcNames.has(tok.val)) this.errorf(`function ${goQuote(tok.val)} not defined`);
        return { k: "identifier", pos: tok.pos, name: tok.val };
      case "dot":
        return { k: "dot", pos: tok.pos };
      case "nil":
        return { k: "nil", pos: tok.pos };
      case "variable":
        if (!this.vars.includes(tok.val)) this.errorf(`undefined variable ${goQuote(tok.val)}`);
        return { k: "variable", pos: tok.pos, idents: [tok.val] };
      case "field":
        return { k: "field", pos: tok.pos, idents: [tok.val.slice(1)] };
      case "bool":
        return { k: "bool", pos: tok.pos, value: tok.val === "true" };
      case "charConstant": {
        const s = this.unquote(tok);
        const cp = s.codePointAt(0) ?? 0;
        return { k: "number", pos: tok.pos, value: cp, text: tok.val };
      }
      case "number":
        return { k: "number", pos: tok.pos, value: this.number(tok.val), text: tok.val };
      case "leftParen":
        return { k: "pipe", pos: tok.pos, pipe: this.pipeline("parenthesized pipeline", "rightParen") };
      case "string":
      case "rawString":
        return { k: "string", pos: tok.pos, value: this.unquote(tok), quoted: tok.val };
      default:
        this.backup();
        return null;
    }
  }

  private unquote(tok: Item): string {
    const s = goUnquote(tok.val);
    if (s === undefined) this.errorf("invalid syntax");
    return s;
  }

  private number(text: string): number {
    const n = parseGoNumber(text);
    if (n === "overflow") this.errorf(`integer overflow: ${goQuote(text)}`);
    if (n === undefined) this.errorf(`illegal number syntax: ${goQuote(text)}`);
    return n;
  }
}

function isEmptyList(list: readonly Node[]): boolean {
  return list.every((n) => n.k === "text" && n.text.trim() === "");
}

/** A Go number literal's value; "overflow" for integers beyond 64 bits. */
function parseGoNumber(text: string): number | "overflow" | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith("+") || s.startsWith("-")) {
    if (s.startsWith("-")) sign = -1;
    s = s.slice(1);
  }
  if (s === "" || s.endsWith("i")) return undefined;
  if (/(^_|_$|__)/.test(s) || /_\.|\._|[eEpP]_|_[eEpP]/.test(s)) return undefined;
  const clean = s.replace(/_/g, "");
  const asInt = (digits: string, prefix: string): number | "overflow" | undefined => {
    if (digits === "") return undefined;
    const big = BigInt(prefix + digits);
    if (big > 0xffffffffffffffffn) return "overflow";
    return sign * Number(big);
  };
  const hex = /^0[xX]([0-9a-fA-F]*)$/.exec(clean);
  if (hex) return asInt(hex[1] ?? "", "0x");
  const hexFloat = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(clean);
  if (hexFloat) {
    const int = hexFloat[1] ?? "";
    const frac = hexFloat[2] ?? "";
    if (int === "" && frac === "") return undefined;
    const mant = Number(BigInt(`0x${int}${frac}`));
    return sign * mant * 2 ** (Number(hexFloat[3]) - 4 * frac.length);
  }
  const oct = /^0[oO]([0-7]*)$/.exec(clean);
  if (oct) return asInt(oct[1] ?? "", "0o");
  const bin = /^0[bB]([01]*)$/.exec(clean);
  if (bin) return asInt(bin[1] ?? "", "0b");
  if (/^0[0-7]+$/.test(clean)) return asInt(clean.slice(1), "0o");
  if (/^\d+$/.test(clean)) return asInt(clean, "");
  if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(clean)) return sign * Number(clean);
  return undefined;
}

/** strconv.Unquote for "...", `...` and '.' literals; undefined when malformed. */
function goUnquote(lit: string): string | undefined {
  const q = lit[0];
  if (lit.length < 2 || lit[lit.length - 1] !== q) return undefined;
  const body = lit.slice(1, -1);
  if (q === "`") return body.includes("`") ? undefined : body.replace(/\r/g, "");
  if (q !== '"' && q !== "'") return undefined;
  let out = "";
  for (let i = 0; i < body.length; ) {
    const c = body[i] as string;
    if (c === q || c === "\n") return undefined;
    if (c !== "\\") {
      const cp = body.codePointAt(i) ?? 0;
      out += String.fromCodePoint(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    const simple: Record<string, string> = {
      a: "\x07",
      b: "\b",
      f: "\f",
      n: "\n",
      r: "\r",
      t: "\t",
      v: "\v",
      "\\": "\\",
    };
    if (e !== undefined && simple[e] !== undefined) {
      out += simple[e];
    } else if (e === q) {
      out += e;
    } else if (e === "x" || e === "u" || e === "U") {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = body.slice(i, i + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) return undefined;
      const cp = Number.parseInt(hex, 16);
      if (cp > 0x10ffff || (e !== "x" && cp >= 0xd800 && cp < 0xe000)) return undefined;
      out += String.fromCodePoint(cp);
      i += n;
    } else if (e !== undefined && e >= "0" && e <= "7") {
      const oct = body.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(oct)) return undefined;
      const v = Number.parseInt(oct, 8);
      if (v > 255) return undefined;
      out += String.fromCharCode(v);
      i += 2;
    } else {
      return undefined;
    }
  }
  if (q === "'" && [...out].length !== 1) return undefined;
  return out;
}

// =============================================================================================
// Values: Go's view of JavaScript values

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

/** The Go type a value would have if it came from encoding/json (or a docker formatter). */
function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  if (typeof v === "bigint") return "int64";
  if (typeof v === "function") return "func(...interface {}) interface {}";
  if (Array.isArray(v)) return "[]interface {}";
  if (v instanceof Date) return "time.Time";
  return "map[string]interface {}";
}

/** Go's template truth: false, 0, "", nil and empty slices and maps are false. */
function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "bigint") return v !== 0n;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "function" || v instanceof Date) return true;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

function sortedKeys(o: object): string[] {
  return Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Whether `name` is a field or method of `obj` (own keys, or class members). */
function hasField(obj: object, name: string): boolean {
  if (Object.hasOwn(obj, name)) return true;
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto === null || proto === Object.prototype) return false;
  return name in obj && !(name in Object.prototype);
}

// =============================================================================================
// fmt: Go's value printing (%v) and Sprintf

interface FmtFlags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number | undefined;
  prec: number | undefined;
}

const NO_FLAGS: FmtFlags = {
  plus: false,
  minus: false,
  sharp: false,
  space: false,
  zero: false,
  width: undefined,
  prec: undefined,
};

function isPrintRune(cp: number): boolean {
  if (cp === 0x20) return true;
  if (cp < 0x20 || cp === 0x7f) return false;
  return /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(String.fromCodePoint(cp));
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function escapeRune(cp: number, quote: string): string {
  const ch = String.fromCodePoint(cp);
  if (ch === quote || ch === "\\") return `\\${ch}`;
  if (isPrintRune(cp)) return ch;
  switch (ch) {
    case "\x07":
      return "\\a";
    case "\b":
      return "\\b";
    case "\f":
      return "\\f";
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    case "\v":
      return "\\v";
  }
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex2(cp)}`;
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return `\\U${cp.toString(16).padStart(8, "0")}`;
}

/** strconv.Quote. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0) ?? 0, '"');
  return `${out}"`;
}

/** strconv.QuoteRune. */
function goQuoteRune(cp: number): string {
  if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) cp = 0xfffd;
  return `'${escapeRune(cp, "'")}'`;
}

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function padTo(s: string, f: FmtFlags, zeroOK = false): string {
  if (f.width === undefined) return s;
  const n = f.width - runeCount(s);
  if (n <= 0) return s;
  if (f.minus) return s + " ".repeat(n);
  return (zeroOK && f.zero ? "0" : " ").repeat(n) + s;
}

function fmtInteger(n: bigint, verb: string, f: FmtFlags): string {
  if (verb === "c") {
    const cp = Number(n);
    const ok = cp >= 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp < 0xe000);
    return padTo(String.fromCodePoint(ok ? cp : 0xfffd), f);
  }
  if (verb === "q") return padTo(goQuoteRune(Number(n)), f);
  if (verb === "U") {
    const cp = Number(n);
    let s = `U+${(n < 0n ? -n : n)
      .toString(16)
      .toUpperCase()
      .padStart(f.prec ?? 4, "0")}`;
    if (f.sharp && cp >= 0 && cp <= 0x10ffff && isPrintRune(cp)) s += ` '${String.fromCodePoint(cp)}'`;
    return padTo(s, f);
  }
  const base = verb === "b" ? 2 : verb === "o" || verb === "O" ? 8 : verb === "x" || verb === "X" ? 16 : 10;
  const neg = n < 0n;
  let digits = (neg ? -n : n).toString(base);
  if (verb === "X") digits = digits.toUpperCase();
  const sign = neg ? "-" : f.plus ? "+" : f.space ? " " : "";
  if (f.prec !== undefined) {
    if (f.prec === 0 && n === 0n) digits = "";
    digits = digits.padStart(f.prec, "0");
  } else if (f.zero && !f.minus && f.width !== undefined) {
    digits = digits.padStart(f.width - sign.length, "0");
  }
  let prefix = "";
  if (verb === "O") prefix = "0o";
  else if (f.sharp) {
    if (verb === "b") prefix = "0b";
    else if (verb === "o" && !digits.startsWith("0")) prefix = "0";
    else if (verb === "x") prefix = "0x";
    else if (verb === "X") prefix = "0X";
  }
  return padTo(sign + prefix + digits, { ...f, zero: false });
}

function fmtFloat(x: number, verb: string, f: FmtFlags): string {
  const goVerb = (verb === "v" ? "g" : verb) as GoFloatVerb;
  const prec = f.prec ?? (goVerb === "g" || goVerb === "G" ? -1 : 6);
  let s = formatGoFloat(x, goVerb, prec);
  if (s[0] !== "-" && s[0] !== "+") {
    if (f.plus) s = `+${s}`;
    else if (f.space) s = ` ${s}`;
  } else if (s[0] === "+" && !f.plus) {
    s = f.space ? ` ${s.slice(1)}` : s; // "+Inf" keeps its sign, as Go prints it
  }
  if (f.zero && !f.minus && f.width !== undefined && Number.isFinite(x)) {
    const sign = /^[+\- ]/.test(s) ? s.slice(0, 1) : "";
    const body = sign ? s.slice(1) : s;
    return sign + body.padStart(f.width - sign.length, "0");
  }
  return padTo(s, f);
}

function badVerb(verb: string, v: unknown): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(v)}=${fmtArg(v, "v", NO_FLAGS)})`;
}

/** Formats one operand for one verb, as fmt.Sprintf does. */
function fmtArg(v: unknown, verb: string, f: FmtFlags): string {
  if (verb === "T") return padTo(goTypeName(v), f);
  if (v === null || v === undefined) return verb === "v" ? padTo("<nil>", f) : badVerb(verb, v);
  if (typeof v === "boolean") return verb === "v" || verb === "t" ? padTo(String(v), f) : badVerb(verb, v);
  if (typeof v === "bigint")
    return "vdboOxXcqU".includes(verb) ? fmtInteger(v, verb === "v" ? "d" : verb, f) : badVerb(verb, v);
  if (typeof v === "number") {
    if (Number.isInteger(v) && Math.abs(v) < 2 ** 64) {
      if ("vdboOxXcqU".includes(verb)) return fmtInteger(BigInt(v), verb === "v" ? "d" : verb, f);
      if ("eEfFgG".includes(verb)) return fmtFloat(v, verb, f);
      return badVerb(verb, v);
    }
    return "veEfFgG".includes(verb) ? fmtFloat(v, verb, f) : badVerb(verb, v);
  }
  if (typeof v === "string") {
    switch (verb) {
      case "v":
      case "s":
        return padTo(f.prec === undefined ? v : [...v].slice(0, f.prec).join(""), f, true);
      case "q":
        return padTo(f.sharp && !/[`\p{Cc}]/u.test(v) ? `\`${v}\`` : goQuote(v), f);
      case "x":
      case "X": {
        const bytes = [...Buffer.from(v, "utf8")].map((x) => hex2(x));
        let hex = f.space ? bytes.join(" ") : bytes.join("");
        if (verb === "X") hex = hex.toUpperCase();
        return padTo(hex, f);
      }
      default:
        return badVerb(verb, v);
    }
  }
  if (v instanceof Date) {
    return verb === "v" || verb === "s" ? padTo(goTimeString(v), f) : badVerb(verb, v);
  }
  if (typeof v === "function") return verb === "v" || verb === "p" ? "0x0" : badVerb(verb, v);
  if (Array.isArray(v)) {
    return `[${Array.from(v, (e) => fmtArg(e, verb, f)).join(" ")}]`;
  }
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `map[${sortedKeys(o)
      .map((k) => `${fmtArg(k, verb, f)}:${fmtArg(o[k], verb, f)}`)
      .join(" ")}]`;
  }
  return padTo(String(v), f);
}

/** A value as Go's fmt prints it with %v: [a b], map[k:v], <nil>, 1.5, 1e+06. */
export function goValueString(v: unknown): string {
  return fmtArg(v, "v", NO_FLAGS);
}

/** fmt.Sprintf, for the verbs %v %s %d %q %t %x %X %o %b %c %U %e %f %g %T %% with flags. */
export function goSprintf(format: string, ...args: unknown[]): string {
  let out = "";
  let argNum = 0;
  let i = 0;
  const n = format.length;
  while (i < n) {
    const pct = format.indexOf("%", i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const f: FmtFlags = { ...NO_FLAGS };
    flags: for (; i < n; i++) {
      switch (format[i]) {
        case "#":
          f.sharp = true;
          break;
        case "0":
          f.zero = true;
          break;
        case "+":
          f.plus = true;
          break;
        case "-":
          f.minus = true;
          break;
        case " ":
          f.space = true;
          break;
        default:
          break flags;
      }
    }
    const readNum = (): number | undefined => {
      const start = i;
      while (i < n && isDigit(format[i])) i++;
      return i > start ? Number(format.slice(start, i)) : undefined;
    };
    let bad = "";
    if (format[i] === "*") {
      i++;
      const w = args[argNum++];
      if (isInt(w)) {
        f.width = Math.abs(w);
        if (w < 0) f.minus = true;
      } else bad += "%!(BADWIDTH)";
    } else {
      f.width = readNum();
    }
    if (format[i] === ".") {
      i++;
      if (format[i] === "*") {
        i++;
        const p = args[argNum++];
        if (isInt(p) && p >= 0) f.prec = p;
        else bad += "%!(BADPREC)";
      } else {
        f.prec = readNum() ?? 0;
      }
    }
    out += bad;
    if (i >= n) {
      out += "%!(NOVERB)";
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    i += verb.length;
    if (verb === "%") {
      out += "%";
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += fmtArg(args[argNum++], verb, f);
  }
  if (argNum < args.length) {
    const extra = args
      .slice(argNum)
      .map((a) => (a === null || a === undefined ? "<nil>" : `${goTypeName(a)}=${fmtArg(a, "v", NO_FLAGS)}`));
    out += `%!(EXTRA ${extra.join(", ")})`;
  }
  return out;
}

/** fmt.Sprint: spaces between operands when neither is a string. */
export function goSprint(...args: unknown[]): string {
  let out = "";
  let prevString = false;
  args.forEach((a, i) => {
    const isString = typeof a === "string";
    if (i > 0 && !isString && !prevString) out += " ";
    out += fmtArg(a, "v", NO_FLAGS);
    prevString = isString;
  });
  return out;
}

/** fmt.Sprintln: spaces between all operands, newline at the end. */
export function goSprintln(...args: unknown[]): string {
  return `${args.map((a) => fmtArg(a, "v", NO_FLAGS)).join(" ")}\n`;
}

// =============================================================================================
// JSON as docker's `json` template function writes it

export interface GoJSONOptions {
  /**
   * Escape <, > and & as \u003c, \u003e, \u0026, as json.Marshal does. The default: docker 20.10
   * and 28 print `"Digest":"\u003cnone\u003e"` from `{{json .}}` (checked on this machine).
   */
  escapeHTML?: boolean;
}

function jsonString(s: string, escapeHTML: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i] as string;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20) out += `\\u00${hex2(c)}`;
    else if (escapeHTML && (ch === "<" || ch === ">" || ch === "&")) out += `\\u00${hex2(c)}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c < 0xdc00) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo < 0xe000) {
        out += ch + s[i + 1];
        i++;
      } else out += "\\ufffd";
    } else if (c >= 0xdc00 && c < 0xe000) out += "\\ufffd";
    else out += ch;
  }
  return `${out}"`;
}

function jsonDate(d: Date): string {
  return d.toISOString().replace(/\.?0*Z$/, "Z");
}

/**
 * Compact JSON as Go's encoding/json writes it: object keys in insertion order (struct
 * order), U+2028/U+2029 escaped, -0 kept, dates in RFC 3339; NaN and ±Inf are errors.
 */
export function goJSON(value: unknown, options: GoJSONOptions = {}): string {
  const escapeHTML = options.escapeHTML ?? true;
  const seen = new Set<object>();
  const enc = (v: unknown): string => {
    if (v === null || v === undefined || typeof v === "function" || typeof v === "symbol") return "null";
    if (typeof v === "boolean") return String(v);
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${formatGoFloat(v, "g", -1)}`);
      return Object.is(v, -0) ? "-0" : String(v);
    }
    if (typeof v === "string") return jsonString(v, escapeHTML);
    if (v instanceof Date) return `"${jsonDate(v)}"`;
    if (typeof v !== "object") return "null";
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return enc(toJSON.call(v));
    if (seen.has(v)) throw new Error("json: unsupported value: encountered a cycle");
    seen.add(v);
    try {
      if (Array.isArray(v)) return `[${Array.from(v, (e) => enc(e)).join(",")}]`;
      const o = v as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(o)) {
        const e = o[k];
        if (e === undefined || typeof e === "function" || typeof e === "symbol") continue;
        parts.push(`${jsonString(k, escapeHTML)}:${enc(e)}`);
      }
      return `{${parts.join(",")}}`;
    } finally {
      seen.delete(v);
    }
  };
  return enc(value);
}

// =============================================================================================
// Functions

interface FuncDef {
  min: number;
  max: number;
  fn: (args: unknown[]) => unknown;
  lazy?: "and" | "or";
}

function typeError(expected: string, v: unknown): ArgTypeError {
  if (v === null || v === undefined) return new ArgTypeError(`invalid value; expected ${expected}`);
  return new ArgTypeError(`wrong type for value; expected ${expected}; got ${goTypeName(v)}`);
}

function wantString(v: unknown): string {
  if (typeof v === "string") return v;
  throw typeError("string", v);
}

function wantInt(v: unknown): number {
  if (isInt(v)) return v;
  if (typeof v === "bigint") return Number(v);
  throw typeError("int", v);
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** s[:n] in bytes, dropping a character the cut would split. */
function byteTruncate(s: string, n: number): string {
  let bytes = 0;
  let out = "";
  for (const ch of s) {
    const len = utf8Length(ch);
    if (bytes + len > n) break;
    bytes += len;
    out += ch;
  }
  return out;
}

function isSeparatorRune(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp <= 0x7f) return !/[0-9A-Za-z_]/.test(ch);
  if (/[\p{L}\p{Nd}]/u.test(ch)) return false;
  return /\s/u.test(ch);
}

/** strings.Title (deprecated in Go, still what docker's `title` uses). */
function goTitle(s: string): string {
  let prev = " ";
  let out = "";
  for (const ch of s) {
    out += isSeparatorRune(prev) ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

function goSplit(s: string, sep: string): string[] {
  return sep === "" ? [...s] : s.split(sep);
}

function repeatSpaces(n: number): string {
  if (n < 0) throw new Error("strings: negative Repeat count");
  return " ".repeat(n);
}

/** docker's `join`: slices joined with fmt.Sprint of each element; map values sorted. */
function dockerJoin(elems: unknown, sepArg: unknown): string {
  const sep = wantString(sepArg);
  if (elems === null || elems === undefined) return "";
  if (Array.isArray(elems)) return Array.from(elems, (e) => goSprint(e)).join(sep);
  if (isMap(elems)) {
    return Object.values(elems)
      .map((e) => goSprint(e))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .join(sep);
  }
  throw new Error(`expected slice, got ${goTypeName(elems)}`);
}

/** The zero value for a missing key of map `m`, guessed from its other values. */
function zeroValueOf(m: Record<string, unknown> | null | undefined): unknown {
  if (m === null || m === undefined) return "";
  const values = Object.values(m);
  return values.every((v) => typeof v === "string") ? "" : null;
}

function indexOf(item: unknown, indexes: unknown[]): unknown {
  let v = item;
  for (const idx of indexes) {
    if (v === null || v === undefined) {
      if (typeof idx === "string") {
        v = "";
        continue;
      }
      if (isInt(idx)) throw new Error(`index out of range: ${idx}`);
      throw new Error("index of untyped nil");
    }
    if (Array.isArray(v) || typeof v === "string") {
      if (!isInt(idx)) {
        if (idx === null || idx === undefined) throw new Error("cannot index slice/array with nil");
        throw new Error(`cannot index slice/array with type ${goTypeName(idx)}`);
      }
      if (typeof v === "string") {
        const bytes = Buffer.from(v, "utf8");
        if (idx < 0 || idx >= bytes.length) throw new Error(`index out of range: ${idx}`);
        v = bytes[idx];
        continue;
      }
      if (idx < 0 || idx >= v.length) throw new Error(`index out of range: ${idx}`);
      v = v[idx] ?? null;
      continue;
    }
    if (isMap(v)) {
      if (typeof idx !== "string") {
        if (idx === null || idx === undefined) throw new Error("value is nil; should be of type string");
        throw new Error(`value has type ${goTypeName(idx)}; should be string`);
      }
      v = hasField(v, idx) ? v[idx] : zeroValueOf(v);
      continue;
    }
    throw new Error(`can't index item of type ${goTypeName(v)}`);
  }
  return v;
}

function sliceOf(item: unknown, indexes: unknown[]): unknown {
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  const idx = indexes.map((i) => {
    if (!isInt(i)) {
      if (i === null || i === undefined) throw new Error("cannot index slice/array with nil");
      throw new Error(`cannot index slice/array with type ${goTypeName(i)}`);
    }
    if (i < 0) throw new Error(`index out of range: ${i}`);
    return i;
  });
  if (item === null || item === undefined) {
    if (idx.some((i) => i > 0)) throw new Error(`index out of range: ${Math.max(...idx)}`);
    return item;
  }
  let len: number;
  if (typeof item === "string") {
    if (idx.length === 3) throw new Error("cannot 3-index slice a string");
    len = utf8Length(item);
  } else if (Array.isArray(item)) {
    len = item.length;
  } else {
    throw new Error(`can't slice item of type ${goTypeName(item)}`);
  }
  const [i = 0, j = len, k = len] = idx;
  for (const x of idx) if (x > len) throw new Error(`index out of range: ${x}`);
  if (i > j) throw new Error(`invalid slice index: ${i} > ${j}`);
  if (j > k) throw new Error(`invalid slice index: ${j} > ${k}`);
  if (typeof item === "string") return Buffer.from(item, "utf8").subarray(i, j).toString("utf8");
  return (item as unknown[]).slice(i, j);
}

type BasicKind = "bool" | "number" | "string" | "other";

function basicKind(v: unknown): BasicKind {
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number" || typeof v === "bigint") return "number";
  if (typeof v === "string") return "string";
  return "other";
}

function eq(args: unknown[]): boolean {
  const [a, ...rest] = args;
  if (rest.length === 0) throw new Error("missing argument for comparison");
  const ka = basicKind(a);
  for (const b of rest) {
    const kb = basicKind(b);
    let t: boolean;
    if (a === null || a === undefined || b === null || b === undefined) {
      t = (a === null || a === undefined) && (b === null || b === undefined);
    } else if (ka !== kb) {
      throw new Error("incompatible types for comparison");
    } else if (ka === "other") {
      throw new Error(`non-comparable type ${goValueString(a)}: ${goTypeName(a)}`);
    } else if (ka === "number") {
      t = Number(a) === Number(b);
    } else {
      t = a === b;
    }
    if (t) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === "other" || ka === "bool" || kb === "other" || kb === "bool") {
    throw new Error("invalid type for comparison");
  }
  if (ka !== kb) throw new Error("incompatible types for comparison");
  if (ka === "number") return Number(a) < Number(b);
  return (a as string) < (b as string);
}

function evalArgsString(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  return goSprint(...args);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) =>
    c === "\0"
      ? "\uFFFD"
      : c === '"'
        ? "&#34;"
        : c === "'"
          ? "&#39;"
          : c === "&"
            ? "&amp;"
            : c === "<"
              ? "&lt;"
              : "&gt;",
  );
}

function jsEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === "<") out += "\\u003C";
    else if (ch === ">") out += "\\u003E";
    else if (ch === "&") out += "\\u0026";
    else if (ch === "=") out += "\\u003D";
    else if (cp < 0x20) out += `\\u00${cp.toString(16).toUpperCase().padStart(2, "0")}`;
    else if (cp < 0x80 || isPrintRune(cp)) out += ch;
    else out += `\\u${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return out;
}

function queryEscape(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const BUILTINS: Readonly<Record<string, FuncDef>> = {
  and: { min: 1, max: Number.POSITIVE_INFINITY, fn: (a) => a[a.length - 1], lazy: "and" },
  or: { min: 1, max: Number.POSITIVE_INFINITY, fn: (a) => a[a.length - 1], lazy: "or" },
  not: { min: 1, max: 1, fn: (a) => !truth(a[0]) },
  len: {
    min: 1,
    max: 1,
    fn: ([v]) => {
      if (v === null || v === undefined) return 0;
      if (typeof v === "string") return utf8Length(v);
      if (Array.isArray(v)) return v.length;
      if (isMap(v)) return Object.keys(v).length;
      throw new Error(`len of type ${goTypeName(v)}`);
    },
  },
  index: { min: 1, max: Number.POSITIVE_INFINITY, fn: ([item, ...idx]) => indexOf(item, idx) },
  slice: { min: 1, max: Number.POSITIVE_INFINITY, fn: ([item, ...idx]) => sliceOf(item, idx) },
  print: { min: 0, max: Number.POSITIVE_INFINITY, fn: (a) => goSprint(...a) },
  printf: { min: 1, max: Number.POSITIVE_INFINITY, fn: ([f, ...a]) => goSprintf(wantString(f), ...a) },
  println: { min: 0, max: Number.POSITIVE_INFINITY, fn: (a) => goSprintln(...a) },
  eq: { min: 1, max: Number.POSITIVE_INFINITY, fn: (a) => eq(a) },
  ne: { min: 2, max: 2, fn: ([a, b]) => !eq([a, b]) },
  lt: { min: 2, max: 2, fn: ([a, b]) => lt(a, b) },
  le: { min: 2, max: 2, fn: ([a, b]) => lt(a, b) || eq([a, b]) },
  gt: { min: 2, max: 2, fn: ([a, b]) => !(lt(a, b) || eq([a, b])) },
  ge: { min: 2, max: 2, fn: ([a, b]) => !lt(a, b) },
  call: {
    min: 1,
    max: Number.POSITIVE_INFINITY,
    fn: ([f, ...a]) => {
      if (f === null || f === undefined) throw new Error("call of nil");
      if (typeof f !== "function") throw new Error(`non-function of type ${goTypeName(f)}`);
      return (f as TemplateFunc)(...a);
    },
  },
  html: { min: 0, max: Number.POSITIVE_INFINITY, fn: (a) => htmlEscape(evalArgsString(a)) },
  js: { min: 0, max: Number.POSITIVE_INFINITY, fn: (a) => jsEscape(evalArgsString(a)) },
  urlquery: { min: 0, max: Number.POSITIVE_INFINITY, fn: (a) => queryEscape(evalArgsString(a)) },
};

const DOCKER_FUNC_DEFS: Readonly<Record<string, FuncDef>> = {
  json: { min: 1, max: 1, fn: ([v]) => goJSON(v) },
  split: { min: 2, max: 2, fn: ([s, sep]) => goSplit(wantString(s), wantString(sep)) },
  join: { min: 2, max: 2, fn: ([elems, sep]) => dockerJoin(elems, sep) },
  title: { min: 1, max: 1, fn: ([s]) => goTitle(wantString(s)) },
  lower: { min: 1, max: 1, fn: ([s]) => wantString(s).toLowerCase() },
  upper: { min: 1, max: 1, fn: ([s]) => wantString(s).toUpperCase() },
  pad: {
    min: 3,
    max: 3,
    fn: ([s, before, after]) => {
      const src = wantString(s);
      const b = wantInt(before);
      const a = wantInt(after);
      return src === "" ? src : repeatSpaces(b) + src + repeatSpaces(a);
    },
  },
  truncate: {
    min: 2,
    max: 2,
    fn: ([s, n]) => {
      const src = wantString(s);
      const len = wantInt(n);
      if (utf8Length(src) < len) return src;
      if (len < 0) throw new Error(`runtime error: slice bounds out of range [:${len}]`);
      return byteTruncate(src, len);
    },
  },
};

/** docker's template functions (templates.basicFunctions). */
export const DOCKER_FUNCS: FuncMap = Object.fromEntries(
  Object.entries(DOCKER_FUNC_DEFS).map(([name, def]) => [name, (...args: unknown[]) => def.fn(args)]),
);

/** docker's templates.HeaderFunctions: header rows keep the column title as it is. */
export const HEADER_FUNCS: FuncMap = {
  json: (v: unknown) => wantString(v),
  split: (v: unknown, sep: unknown) => {
    wantString(sep);
    return wantString(v);
  },
  join: (v: unknown, sep: unknown) => {
    wantString(sep);
    return wantString(v);
  },
  title: (v: unknown) => wantString(v),
  lower: (v: unknown) => wantString(v),
  upper: (v: unknown) => wantString(v),
  truncate: (v: unknown, n: unknown) => {
    wantInt(n);
    return wantString(v);
  },
};

function userFunc(f: TemplateFunc): FuncDef {
  return { min: 0, max: Number.POSITIVE_INFINITY, fn: (args) => f(...args) };
}

// =============================================================================================
// Execution

const NO_FINAL: unique symbol = Symbol("noFinal");
type Final = unknown;

const BREAK: unique symbol = Symbol("break");
const CONTINUE: unique symbol = Symbol("continue");

const MAX_DEPTH = 1000;

interface Variable {
  name: string;
  value: unknown;
}

class State {
  out = "";
  private vars: Variable[];
  private at: { pos: number; text: () => string } | undefined;
  private name = "";
  private depth = 0;

  constructor(
    private readonly tpl: ParsedTemplate,
    private readonly lookup: (name: string) => FuncDef | undefined,
    data: unknown,
  ) {
    this.vars = [{ name: "$", value: data }];
  }

  private setAt(pos: number, text: () => string): void {
    this.at = { pos, text };
  }

  private atArg(n: ArgNode): void {
    this.setAt(n.pos, () => argString(n));
  }

  private errorf(msg: string): never {
    if (this.at === undefined) throw new GoTemplateError(`template: ${this.name}: ${msg}`);
    const before = this.tpl.source.slice(0, this.at.pos);
    const nl = before.lastIndexOf("\n");
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = nl < 0 ? this.at.pos : this.at.pos - (nl + 1);
    throw new GoTemplateError(
      `template: :${line}:${col}: executing ${goQuote(this.name)} at <${this.at.text()}>: ${msg}`,
    );
  }

  // --- variables

  private push(name: string, value: unknown): void {
    this.vars.push({ name, value });
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as Variable;
      if (v.name === name) {
        v.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private setTopVar(n: number, value: unknown): void {
    const v = this.vars[this.vars.length - n];
    if (v) v.value = value;
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as Variable;
      if (v.name === name) return v.value;
    }
    this.errorf(`undefined variable: ${name}`);
  }

  // --- walking

  walk(dot: unknown, list: readonly Node[]): void {
    for (const node of list) {
      switch (node.k) {
        case "text":
          this.out += node.text;
          break;
        case "action": {
          const val = this.evalPipeline(dot, node.pipe);
          if (node.pipe.decl.length === 0) this.printValue(node, val);
          break;
        }
        case "if":
        case "with":
          this.walkIfOrWith(dot, node);
          break;
        case "range":
          this.walkRange(dot, node);
          break;
        case "break":
          throw BREAK;
        case "continue":
          throw CONTINUE;
        case "template":
          this.walkTemplate(dot, node);
          break;
      }
    }
  }

  private printValue(node: Node & { k: "action" }, v: unknown): void {
    this.setAt(node.pos, () => `{{${pipeString(node.pipe)}}}`);
    if (v === undefined) {
      this.out += "<no value>";
      return;
    }
    if (typeof v === "function") this.errorf(`can't print ${pipeString(node.pipe)} of type ${goTypeName(v)}`);
    this.out += goValueString(v);
  }

  private walkIfOrWith(dot: unknown, node: Node & { k: "if" | "with" | "range" }): void {
    const mark = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (truth(val)) this.walk(node.k === "with" ? val : dot, node.list);
      else if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.vars.length = mark;
    }
  }

  private walkRange(dot: unknown, node: Node & { k: "if" | "with" | "range" }): void {
    const mark0 = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe);
      const mark = this.vars.length;
      const { decl, isAssign } = node.pipe;
      /** One iteration; false means {{break}}. */
      const iterate = (index: unknown, elem: unknown): boolean => {
        if (decl.length > 0) {
          if (isAssign) this.setVar(decl[0] as string, decl.length > 1 ? index : elem);
          else this.setTopVar(1, elem);
        }
        if (decl.length > 1) {
          if (isAssign) this.setVar(decl[1] as string, elem);
          else this.setTopVar(2, index);
        }
        try {
          this.walk(elem, node.list);
        } catch (e) {
          if (e === BREAK) return false;
          if (e !== CONTINUE) throw e;
        } finally {
          this.vars.length = mark;
        }
        return true;
      };
      if (Array.isArray(val)) {
        if (val.length > 0) {
          for (let i = 0; i < val.length; i++) if (!iterate(i, val[i] ?? null)) break;
          return;
        }
      } else if (isMap(val)) {
        const keys = sortedKeys(val);
        if (keys.length > 0) {
          for (const k of keys) if (!iterate(k, val[k])) break;
          return;
        }
      } else if (isInt(val)) {
        if (decl.length > 1) this.errorf(`can't use ${val} to iterate over more than one variable`);
        if (val > 0) {
          for (let i = 0; i < val; i++) if (!iterate(i, i)) break;
          return;
        }
      } else if (val !== null && val !== undefined) {
        this.errorf(`range can't iterate over ${goValueString(val)}`);
      }
      if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.vars.length = mark0;
    }
  }

  private walkTemplate(dot: unknown, node: Node & { k: "template" }): void {
    this.setAt(node.pos, () => `{{template ${goQuote(node.name)}${node.pipe ? ` ${pipeString(node.pipe)}` : ""}}}`);
    const list = this.tpl.defines.get(node.name);
    if (list === undefined) this.errorf(`template ${goQuote(node.name)} not defined`);
    if (this.depth >= MAX_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_DEPTH})`);
    const val = node.pipe ? this.evalPipeline(dot, node.pipe) : undefined;
    const savedVars = this.vars;
    const savedName = this.name;
    this.vars = [{ name: "$", value: val }];
    this.name = node.name;
    this.depth++;
    try {
      this.walk(val, list);
    } finally {
      this.vars = savedVars;
      this.name = savedName;
      this.depth--;
    }
  }

  // --- evaluation

  private evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    let value: unknown;
    let final: Final = NO_FINAL;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, final);
      final = value;
    }
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, value);
      else this.push(name, value);
    }
    return value;
  }

  private notAFunction(args: readonly ArgNode[], final: Final): void {
    if (args.length > 1 || final !== NO_FINAL) {
      this.errorf(`can't give argument to non-function ${argString(args[0] as ArgNode)}`);
    }
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0] as ArgNode;
    const rest = cmd.args.slice(1);
    switch (first.k) {
      case "field":
        return this.evalFieldNode(dot, first, rest, final);
      case "chain":
        return this.evalChainNode(dot, first, rest, final);
      case "identifier":
        return this.evalFunction(dot, first, rest, final);
      case "pipe":
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
      case "variable":
        return this.evalVariableNode(dot, first, rest, final);
      default:
        break;
    }
    this.atArg(first);
    this.notAFunction(cmd.args, final);
    switch (first.k) {
      case "bool":
      case "number":
      case "string":
        return first.value;
      case "dot":
        return dot;
      case "nil":
        this.errorf("nil is not a command");
    }
  }

  private evalFieldNode(dot: unknown, field: ArgNode & { k: "field" }, args: ArgNode[], final: Final): unknown {
    this.atArg(field);
    return this.evalFieldChain(dot, dot, field, field.idents, args, final);
  }

  private evalChainNode(dot: unknown, chain: ArgNode & { k: "chain" }, args: ArgNode[], final: Final): unknown {
    this.atArg(chain);
    if (chain.node.k === "nil") this.errorf(`indirection through explicit nil in ${argString(chain)}`);
    const pipe = this.evalArg(dot, chain.node);
    return this.evalFieldChain(dot, pipe, chain, chain.fields, args, final);
  }

  private evalVariableNode(dot: unknown, v: ArgNode & { k: "variable" }, args: ArgNode[], final: Final): unknown {
    this.atArg(v);
    const value = this.varValue(v.idents[0] as string);
    if (v.idents.length === 1) {
      this.notAFunction([v, ...args], final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.idents.slice(1), args, final);
  }

  private evalFieldChain(
    dot: unknown,
    receiver: unknown,
    node: ArgNode,
    idents: readonly string[],
    args: ArgNode[],
    final: Final,
  ): unknown {
    const n = idents.length;
    for (let i = 0; i < n - 1; i++) receiver = this.evalField(dot, idents[i] as string, node, [], NO_FINAL, receiver);
    return this.evalField(dot, idents[n - 1] as string, node, args, final, receiver);
  }

  private evalField(
    dot: unknown,
    name: string,
    node: ArgNode,
    args: ArgNode[],
    final: Final,
    receiver: unknown,
  ): unknown {
    // A nil or missing receiver yields "no value" (Go does this for nil maps and missing keys).
    if (receiver === undefined || receiver === null) return undefined;
    const hasArgs = args.length > 0 || final !== NO_FINAL;
    if (typeof receiver === "object" && !Array.isArray(receiver)) {
      const obj = receiver as Record<string, unknown>;
      if (hasField(obj, name)) {
        const v = obj[name];
        if (typeof v === "function") {
          return this.evalCall(
            dot,
            userFunc((...a: unknown[]) => (v as TemplateFunc).apply(obj, a)),
            node,
            name,
            args,
            final,
          );
        }
        if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
        return v;
      }
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      return undefined;
    }
    this.errorf(`can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }

  private evalFunction(dot: unknown, ident: ArgNode & { k: "identifier" }, args: ArgNode[], final: Final): unknown {
    this.atArg(ident);
    const fn = this.lookup(ident.name);
    if (fn === undefined) this.errorf(`${goQuote(ident.name)} is not a defined function`);
    return this.evalCall(dot, fn, ident, ident.name, args, final);
  }

  private evalCall(dot: unknown, fn: FuncDef, node: ArgNode, name: string, args: ArgNode[], final: Final): unknown {
    const numIn = args.length + (final !== NO_FINAL ? 1 : 0);
    if (numIn < fn.min || numIn > fn.max) {
      this.atArg(node);
      if (fn.max === Number.POSITIVE_INFINITY) {
        this.errorf(`wrong number of args for ${name}: want at least ${fn.min} got ${numIn}`);
      }
      this.errorf(`wrong number of args for ${name}: want ${fn.min} got ${numIn}`);
    }
    if (fn.lazy !== undefined) {
      let v: unknown;
      for (const a of args) {
        v = this.evalArg(dot, a);
        if (truth(v) === (fn.lazy === "or")) return v;
      }
      if (final !== NO_FINAL) v = final;
      return v;
    }
    const argv = args.map((a) => this.evalArg(dot, a));
    if (final !== NO_FINAL) argv.push(final);
    try {
      return fn.fn(argv);
    } catch (e) {
      if (e instanceof GoTemplateError || e === BREAK || e === CONTINUE) throw e;
      this.atArg(node);
      if (e instanceof ArgTypeError) this.errorf(e.message);
      this.errorf(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private evalArg(dot: unknown, n: ArgNode): unknown {
    this.atArg(n);
    switch (n.k) {
      case "dot":
        return dot;
      case "nil":
        return null;
      case "field":
        return this.evalFieldNode(dot, n, [], NO_FINAL);
      case "variable":
        return this.evalVariableNode(dot, n, [], NO_FINAL);
      case "pipe":
        return this.evalPipeline(dot, n.pipe);
      case "identifier":
        return this.evalFunction(dot, n, [], NO_FINAL);
      case "chain":
        return this.evalChainNode(dot, n, [], NO_FINAL);
      case "bool":
      case "number":
      case "string":
        return n.value;
    }
  }
}

// =============================================================================================
// Public API

function funcTable(funcs: FuncMap | undefined): Map<string, FuncDef> {
  const table = new Map<string, FuncDef>(Object.entries(BUILTINS));
  for (const [name, def] of Object.entries(DOCKER_FUNC_DEFS)) table.set(name, def);
  if (funcs) for (const [name, f] of Object.entries(funcs)) table.set(name, userFunc(f));
  return table;
}

/**
 * Parses a Go template once (with docker's functions, Go's builtins and `funcs`), for
 * executing per item: `compileTemplate(t).execute(item)`.
 * Throws BerthError("USAGE", "template parsing error: template: :1: ...").
 */
export function compileTemplate(template: string, funcs?: FuncMap): CompiledTemplate {
  const table = funcTable(funcs);
  let parsed: ParsedTemplate;
  try {
    const parser = new Parser(lex(template), new Set(table.keys()));
    const root = parser.parse();
    parsed = { source: template, root, defines: parser.defines };
  } catch (e) {
    throw toBerthError(e);
  }
  const run = (data: unknown, options: ExecuteOptions | undefined): { state: State; error: unknown } => {
    const overrides = options?.funcs;
    const lookup = (name: string): FuncDef | undefined => {
      if (overrides !== undefined && Object.hasOwn(overrides, name)) {
        const o = overrides[name];
        if (o !== undefined) return userFunc(o);
      }
      return table.get(name);
    };
    const state = new State(parsed, lookup, data);
    try {
      state.walk(data, parsed.root);
      return { state, error: undefined };
    } catch (e) {
      if (e === BREAK || e === CONTINUE)
        return { state, error: new GoTemplateError("template: : break outside range") };
      if (e instanceof RangeError) return { state, error: new GoTemplateError(`template: : ${e.message}`) };
      return { state, error: e };
    }
  };
  return {
    source: template,
    execute(data: unknown, options?: ExecuteOptions): string {
      const { state, error } = run(data, options);
      if (error !== undefined) throw toBerthError(error);
      return state.out;
    },
    executePartial(data: unknown, options?: ExecuteOptions) {
      const { state, error } = run(data, options);
      return { output: state.out, error: error === undefined ? undefined : toBerthError(error) };
    },
  };
}

/** Alias of compileTemplate. */
export const parseTemplate = compileTemplate;

/** Parses and executes in one go. */
export function renderTemplate(template: string, data: unknown, funcs?: FuncMap): string {
  return compileTemplate(template, funcs).execute(data);
}
