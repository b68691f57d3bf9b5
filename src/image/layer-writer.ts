import * as fs from "node:fs";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pack } from "tar-stream";

/** One entry of a layer to write. Paths are relative to the image root, without a leading "/". */
export type LayerEntry =
  | (EntryMeta & { type: "directory" })
  | (EntryMeta & { type: "file"; size: number; source: { path: string } | { bytes: Buffer } })
  | (EntryMeta & { type: "symlink"; target: string })
  | (EntryMeta & { type: "link"; target: string });

interface EntryMeta {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. Builders pass a fixed value for reproducible layers. */
  mtime: number;
}

/**
 * Writes a layer tar from entries, in sorted path order with fixed metadata (no user or
 * group names, no access or change times), so the same entries always give the same bytes and
 * the same diffID. Directories end with "/", as docker's layers have them.
 */
export async function writeLayer(entries: readonly LayerEntry[], out: Writable): Promise<void> {
  const tar = pack();
  const done = pipeline(tar, out);
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const e of sorted) {
    const base = {
      name: e.type === "directory" ? `${e.path.replace(/\/+$/, "")}/` : e.path,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      uname: "",
      gname: "",
      mtime: new Date(e.mtime * 1000),
    };
    switch (e.type) {
      case "directory":
        tar.entry({ ...base, type: "directory" });
        break;
      case "symlink":
        tar.entry({ ...base, type: "symlink", linkname: e.target });
        break;
      case "link":
        tar.entry({ ...base, type: "link", linkname: e.target });
        break;
      case "file":
        if ("bytes" in e.source) {
          tar.entry({ ...base, type: "file", size: e.source.bytes.length }, e.source.bytes);
        } else if (e.size <= 1 << 20) {
          // small files in one read: a stream per file costs far more than the bytes
          const bytes = fs.readFileSync(e.source.path);
          if (bytes.length !== e.size) throw new Error(`${e.source.path} changed size while its layer was written`);
          await new Promise<void>((resolve, reject) =>
            tar.entry({ ...base, type: "file", size: bytes.length }, bytes, (err) => (err ? reject(err) : resolve())),
          );
        } else {
          await new Promise<void>((resolve, reject) => {
            const entry = tar.entry({ ...base, type: "file", size: e.size }, (err) => (err ? reject(err) : resolve()));
            const src = fs.createReadStream((e.source as { path: string }).path, { highWaterMark: 1 << 20 });
            src.on("error", reject);
            src.pipe(entry as unknown as Writable);
          });
        }
        break;
    }
  }
  tar.finalize();
  await done;
}
