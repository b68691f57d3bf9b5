import { extract, type Header, type Pack } from "tar-stream";

/**
 * Extended attributes in layer tars, byte for byte: `SCHILY.xattr.<name>=<value>` records of a
 * PAX extended header (what Go's archive/tar, GNU tar and BuildKit write and read).
 *
 * tar-stream takes and gives PAX values as JavaScript strings and converts them with UTF-8, so
 * a binary value (security.capability is one) is mangled both ways, and it refuses a body for
 * an entry of type `pax-header`. Hence:
 *
 * - writing: `pushPaxHeader` puts the extended header into the pack stream itself, between two
 *   entries, and gives back the entry's header to add after it. The bytes are what tar-stream
 *   makes of a header with `pax` (its `_encodePax`): a ustar block named `PaxHeader` of type
 *   `x`, then `path`, `linkpath` (when there is one) and the given records, each
 *   `"<length> <key>=<value>\n"` with the length in bytes counting itself, zero-padded to 512
 *   bytes; then the entry's own header, also named `PaxHeader`. So a layer whose values are
 *   text keeps the digest it had when tar-stream wrote them.
 * - reading: tar-stream decodes the extended header inside its parser and never shows the
 *   bytes. `extractWithXattrs` wraps that one step of a parser (its `_decodeLongHeader`, a
 *   private method of tar-stream 3, which package.json pins exactly) to parse the same bytes
 *   again, binary-safe, and hang the attributes on the entry's `pax` object; `xattrsOf` reads
 *   them back. If tar-stream changes, extractWithXattrs throws rather than lose attributes.
 */

/** Attribute name → value, byte for byte. */
export type XattrMap = Record<string, Buffer>;

const XATTR_PREFIX = "SCHILY.xattr.";

/** Where a parsed entry's attributes hang on its `pax` object (invisible to everything else). */
const RAW = Symbol("berth.xattrs");

export type EntryHeader = Partial<Header> & { name: string };

/** Names in byte order (what Go's archive/tar sorts PAX records by), not UTF-16 order. */
export function sortedXattrs(attrs: XattrMap): [string, Buffer][] {
  return Object.entries(attrs).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * Pushes the extended header that gives `h` its `xattrs` (in the order given) into `p`, and
 * returns the header to add next, with the entry's content. Only between entries: the previous
 * one must be written whole (its callback called), or the bytes would land inside it.
 */
export function pushPaxHeader(p: Pack, h: EntryHeader, xattrs: readonly (readonly [string, Buffer])[]): EntryHeader {
  const { bytes, header } = paxHeader(h, xattrs);
  p.push(bytes);
  return header;
}

/** The extended header's bytes (block, records, padding) and the header to follow them. */
export function paxHeader(
  h: EntryHeader,
  xattrs: readonly (readonly [string, Buffer])[],
): { bytes: Buffer; header: EntryHeader } {
  const type = h.type ?? "file";
  const records: Buffer[] = [record("path", Buffer.from(h.name))];
  if (h.linkname) records.push(record("linkpath", Buffer.from(h.linkname)));
  for (const [name, value] of xattrs) records.push(record(`${XATTR_PREFIX}${name}`, value));
  const body = Buffer.concat(records);
  // tar-stream's defaults for what the entry leaves out, as its own PAX writer sees them
  const common = {
    name: "PaxHeader",
    mode: h.mode || (type === "directory" ? 0o755 : 0o644),
    uid: h.uid || 0,
    gid: h.gid || 0,
    mtime: h.mtime ?? new Date(),
    linkname: h.linkname ? "PaxHeader" : "",
    uname: h.uname ?? "",
    gname: h.gname ?? "",
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  };
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  return {
    bytes: Buffer.concat([ustarBlock({ ...common, size: body.length, typeflag: "x" }), body, padding]),
    header: { ...common, type, size: h.size },
  };
}

/**
 * A ustar header block as tar-stream's `headers.encode` writes it: numbers as zero-padded
 * octal with a trailing space (values too large for the field saturate to 7s, as there), the
 * checksum over the block with its own field read as spaces.
 */
function ustarBlock(f: {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const b = Buffer.alloc(512);
  b.write(f.name, 0, 100);
  b.write(octal(f.mode & 0o7777, 6), 100);
  b.write(octal(f.uid, 6), 108);
  b.write(octal(f.gid, 6), 116);
  b.write(octal(f.size, 11), 124);
  b.write(octal(Math.trunc(f.mtime.getTime() / 1000), 11), 136);
  b.write(f.typeflag, 156);
  b.write(f.linkname, 157, 100);
  b.write("ustar\u000000", 257);
  b.write(f.uname, 265, 32);
  b.write(f.gname, 297, 32);
  b.write(octal(f.devmajor, 6), 329);
  b.write(octal(f.devminor, 6), 337);
  let sum = 8 * 0x20;
  for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += b[i] as number;
  b.write(octal(sum, 6), 148);
  return b;
}

function octal(n: number, digits: number): string {
  const s = n.toString(8);
  return s.length > digits ? `${"7".repeat(digits)} ` : `${s.padStart(digits, "0")} `;
}

/** One PAX record: `"<length> <key>=<value>\n"`, the length in bytes, its own digits included. */
function record(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, NEWLINE]);
  let digits = String(rest.length).length;
  if (rest.length + digits >= 10 ** digits) digits++;
  return Buffer.concat([Buffer.from(String(rest.length + digits)), rest]);
}

const NEWLINE = Buffer.from("\n");

/** The SCHILY.xattr records of a PAX extended header's bytes; undefined when there are none. */
export function decodeXattrRecords(buf: Buffer): XattrMap | undefined {
  let out: XattrMap | undefined;
  let at = 0;
  while (at < buf.length) {
    const space = buf.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number.parseInt(buf.toString("latin1", at, space), 10);
    const end = at + length;
    if (!(length > 0) || end > buf.length || end <= space) break; // malformed: stop, as tar-stream does
    const eq = buf.indexOf(0x3d, space + 1);
    if (eq > 0 && eq < end) {
      const key = buf.toString("utf8", space + 1, eq);
      if (key.startsWith(XATTR_PREFIX)) {
        out ??= {};
        // The record ends with "\n", which is not part of the value.
        out[key.slice(XATTR_PREFIX.length)] = Buffer.from(buf.subarray(eq + 1, buf[end - 1] === 0x0a ? end - 1 : end));
      }
    }
    at = end;
  }
  return out;
}

interface ExtractInternals {
  _header: { type: string } | null;
  _pax: Record<string, string> | null;
  _decodeLongHeader(buf: Buffer): void;
}

/** tar-stream's `extract()`, whose entries' attributes `xattrsOf` gives byte for byte. */
export function extractWithXattrs(): ReturnType<typeof extract> {
  const parser = extract();
  const inner = parser as unknown as ExtractInternals;
  const decode = inner._decodeLongHeader;
  if (typeof decode !== "function") {
    throw new Error("tar-stream has no _decodeLongHeader: this berth needs the tar-stream version it pins");
  }
  inner._decodeLongHeader = function (this: ExtractInternals, buf: Buffer): void {
    decode.call(this, buf);
    if (this._header?.type !== "pax-header" || !this._pax) return;
    const attrs = decodeXattrRecords(buf);
    if (attrs) Object.defineProperty(this._pax, RAW, { value: attrs });
  };
  return parser;
}

/**
 * The attributes of an entry parsed by extractWithXattrs, byte for byte; undefined when it has
 * none. Records that reached the entry only as text (from a global PAX header, which applies to
 * every entry after it) are taken as their UTF-8 bytes unless decoding lost bytes of them.
 */
export function xattrsOf(h: Header): XattrMap | undefined {
  const pax = h.pax as (Record<string, string> & { [RAW]?: XattrMap }) | null | undefined;
  if (!pax) return undefined;
  const raw = pax[RAW];
  if (raw) return raw;
  let out: XattrMap | undefined;
  for (const [key, value] of Object.entries(pax)) {
    if (key.startsWith(XATTR_PREFIX) && !value.includes("\uFFFD")) {
      out ??= {};
      out[key.slice(XATTR_PREFIX.length)] = Buffer.from(value);
    }
  }
  return out;
}
