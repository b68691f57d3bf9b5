/**
 * docker's column writer: text/tabwriter as docker configures it
 * (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`), and the `table` form of `--format`.
 */
import { type CompiledTemplate, compileTemplate, type FuncMap, HEADER_FUNCS } from "./go-template.js";

export interface TabWriterOptions {
  /** Minimal cell width including padding (docker: 10). */
  minWidth?: number;
  /** Width of a tab when padding with tabs (docker: 1; unused with space padding). */
  tabWidth?: number;
  /** Padding added to the widest cell of a column (docker: 3). */
  padding?: number;
  /** Padding character (docker: " "). */
  padChar?: string;
}

interface Cell {
  text: string;
  width: number;
}

/** Zero-width code points: combining marks, joiners, variation selectors, controls. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cc}\p{Cf}]$/u;

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/**
 * Display width in terminal columns, as go-runewidth (which docker's tabwriter uses) counts
 * it: East Asian wide characters are 2, combining marks 0, everything else ("…" too) 1.
 */
export function displayWidth(s: string): number {
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x7f) w += cp >= 0x20 ? 1 : 0;
    else if (ZERO_WIDTH.test(ch)) w += 0;
    else w += isWide(cp) ? 2 : 1;
  }
  return w;
}

/**
 * Go's text/tabwriter over a whole text: cells are tab-terminated, the text after a line's
 * last tab is not part of any column, and a column's width is computed per block of
 * consecutive lines that have that column. Left-aligned, no flags — as docker uses it.
 */
export function tabwrite(text: string, options: TabWriterOptions = {}): string {
  const minWidth = options.minWidth ?? 10;
  const padding = options.padding ?? 3;
  const tabWidth = options.tabWidth ?? 1;
  const padChar = options.padChar ?? " ";

  const rawLines = text.split("\n");
  const trailing = rawLines.pop() ?? ""; // text after the last newline (no newline printed)
  const lines: Cell[][] = [...rawLines, trailing].map((l) =>
    l.split(/[\t\v]/).map((t) => ({ text: t, width: displayWidth(t) })),
  );
  // A final line with no text and no cells prints nothing.
  const lastIndex = lines.length - 1;

  let out = "";
  const widths: number[] = [];

  const pad = (textWidth: number, cellWidth: number): string => {
    if (padChar === "\t") {
      if (tabWidth === 0) return "";
      const cw = Math.ceil(cellWidth / tabWidth) * tabWidth;
      return "\t".repeat(Math.ceil((cw - textWidth) / tabWidth));
    }
    return padChar.repeat(Math.max(cellWidth - textWidth, 0));
  };

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i] as Cell[];
      line.forEach((c, j) => {
        out += c.text;
        const w = widths[j];
        if (j < widths.length && w !== undefined) out += pad(c.width, w);
      });
      if (i !== lastIndex) out += "\n";
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let row = line0; row < line1; row++) {
      if (column >= (lines[row] as Cell[]).length - 1) continue;
      // This line has a cell in this column: print the lines before it, then size the block.
      writeLines(line0, row);
      line0 = row;
      let width = minWidth;
      for (; row < line1; row++) {
        const line = lines[row] as Cell[];
        if (column >= line.length - 1) break;
        const w = (line[column] as Cell).width + padding;
        if (w > width) width = w;
      }
      widths.push(width);
      format(line0, row);
      widths.pop();
      line0 = row;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out;
}

/**
 * A table as docker prints one: rows[0] is the header; every cell but the last in a row is
 * padded to max(widest cell in its column + 3, 10); each line ends with "\n".
 */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const cells = rows[0]?.length ?? 0;
  if (!rows.every((r) => r.length === cells)) return tabwrite(rows.map((r) => `${r.join("\t")}\n`).join(""));
  // Every row has the same cells, so each column is one tabwriter block: size it directly
  // (the general port above costs ~10x more on a 1,000-row `images`).
  const widths: number[] = [];
  for (let j = 0; j < cells - 1; j++) {
    let width = 10;
    for (const r of rows) width = Math.max(width, displayWidth(r[j] as string) + 3);
    widths.push(width);
  }
  const out: string[] = [];
  for (const r of rows) {
    let line = "";
    for (let j = 0; j < cells - 1; j++) {
      const text = r[j] as string;
      line += text + " ".repeat((widths[j] as number) - displayWidth(text));
    }
    out.push(`${line}${r[cells - 1] ?? ""}\n`);
  }
  return out.join("");
}

export interface PreparedFormat {
  /** Whether the format asked for a table (starts with "table"). */
  table: boolean;
  /** The Go template to run per item. */
  template: string;
}

/**
 * docker's handling of a `--format` value: "json" means `{{json .}}`; a "table" prefix asks
 * for a table and is removed; surrounding spaces are trimmed; the two-character sequences
 * `\t` and `\n` become a tab and a newline. A bare "table" yields an empty template — the
 * caller should substitute its default table format.
 */
export function prepareFormat(format: string): PreparedFormat {
  if (format === "json") return { table: false, template: "{{json .}}" };
  if (format === "table") return { table: true, template: "" };
  const table = format.startsWith("table");
  let t = table ? format.slice("table".length) : format;
  t = t.replace(/^ +| +$/g, "");
  t = t.replace(/\\t|\\n/g, (m) => (m === "\\t" ? "\t" : "\n"));
  return { table, template: t };
}

/** Renders one item with the compiled template (default: `template.execute(item)`). */
export type TemplateRender = (template: CompiledTemplate, item: unknown) => string;

/**
 * Output for a `--format` value over items, as docker's formatter writes it:
 *  - "table TEMPLATE": a header row (the template run over `headers`, a map of field name →
 *    column title, with docker's header functions that leave titles as they are), then one
 *    row per item, aligned by the tab writer;
 *  - any other template: one rendered line per item.
 * Every line ends with "\n". Throws BerthError("USAGE") for bad templates.
 */
export function tableFromTemplate(
  format: string,
  items: readonly unknown[],
  render: TemplateRender | undefined,
  headers: Readonly<Record<string, string>>,
  funcs?: FuncMap,
): string {
  const { table, template } = prepareFormat(format);
  const compiled = compileTemplate(template, funcs);
  const renderItem = render ?? ((t: CompiledTemplate, item: unknown) => t.execute(item));
  let body = "";
  for (const item of items) body += `${renderItem(compiled, item)}\n`;
  if (!table) return body;
  // docker ignores errors while writing the header, keeping what was written before one.
  const header = compiled.executePartial({ ...headers }, { funcs: HEADER_FUNCS }).output;
  return tabwrite(`${header}\n${body}`);
}
