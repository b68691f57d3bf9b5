import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { type Header, pack } from "tar-stream";

/** One entry of a hand-made tar: a header and, for files, the content. */
export type TarEntry = Partial<Header> & { name: string; content?: string | Buffer };

/** Builds a tar in memory from `entries`, in the order given (hostile orders too). */
export async function makeTar(entries: readonly TarEntry[], opts: { gzip?: boolean } = {}): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    const { content, ...header } = e;
    const body = content === undefined ? undefined : Buffer.from(content);
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) p.entry({ type: "file", mode: 0o644, mtime: new Date(0), ...header, size: body.length }, body, cb);
      else p.entry({ mtime: new Date(0), mode: header.type === "directory" ? 0o755 : 0o644, ...header }, cb);
    });
  }
  p.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return opts.gzip ? gzipSync(tar) : tar;
}

export function streamOf(bytes: Buffer): Readable {
  return Readable.from([bytes]);
}

/** Reads a tar into a list of {name, type, ...} records, content as text. */
export async function readTar(src: AsyncIterable<unknown>): Promise<(Header & { content: string })[]> {
  const { extract } = await import("tar-stream");
  const parser = extract();
  const out: (Header & { content: string })[] = [];
  const feed = (async () => {
    for await (const c of src) {
      const chunk = Buffer.from(c as Uint8Array);
      if (!parser.write(chunk)) await new Promise<void>((r) => parser.once("drain", () => r()));
    }
    parser.end(undefined);
  })();
  for await (const entry of parser) {
    const parts: Buffer[] = [];
    for await (const c of entry) parts.push(Buffer.from(c as Uint8Array));
    out.push({ ...entry.header, content: Buffer.concat(parts).toString() });
  }
  await feed;
  return out;
}
