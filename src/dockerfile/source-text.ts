import type { Position, Range } from "./ast.js";

/** Turns offsets into the Dockerfile's text into line/column positions. */
export class SourceText {
  readonly text: string;
  private readonly lineStarts: number[] = [0];

  constructor(text: string) {
    this.text = text;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  position(offset: number): Position {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    const start = this.lineStarts[lo] as number;
    // Columns count code points, not UTF-16 units, so an emoji is one column as users see it.
    let column = 1;
    for (let i = start; i < offset; i++) {
      const c = this.text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < offset) i++;
      column++;
    }
    return { line: lo + 1, column };
  }

  range(start: number, end: number): Range {
    return { start: this.position(start), end: this.position(end) };
  }
}

interface Segment {
  readonly at: number;
  readonly source: number;
  readonly length: number;
}

/**
 * A logical line: pieces of several physical lines joined into one string (what BuildKit parses
 * after removing line continuations and comment lines), remembering where each character came
 * from so that any slice of it maps back to a source range.
 */
export class LogicalLine {
  text = "";
  private readonly segments: Segment[] = [];
  private readonly source: SourceText;

  constructor(source: SourceText) {
    this.source = source;
  }

  append(sourceOffset: number, piece: string): void {
    if (piece.length === 0) return;
    this.segments.push({ at: this.text.length, source: sourceOffset, length: piece.length });
    this.text += piece;
  }

  /** The source offset of the character at `index` of the joined text. */
  sourceOffset(index: number): number {
    let found: Segment | undefined;
    for (const s of this.segments) {
      if (s.at <= index) found = s;
      else break;
    }
    if (found === undefined) return this.segments[0]?.source ?? 0;
    return found.source + Math.min(index - found.at, found.length);
  }

  /** The source range of `text.slice(start, end)`; an empty slice is an empty range at `start`. */
  range(start: number, end: number): Range {
    const from = this.sourceOffset(start);
    if (end <= start) return this.source.range(from, from);
    // Map the last character, not the end, so a slice ending at a line break stays on its line.
    return this.source.range(from, this.sourceOffset(end - 1) + 1);
  }
}
