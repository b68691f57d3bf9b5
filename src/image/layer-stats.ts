import { Writable } from "node:stream";
import { extract } from "tar-stream";

/**
 * Walks an uncompressed layer tar and computes the size docker reports for the layer:
 * the bytes of regular files plus the length of each symlink's target (what `lstat`
 * gives on an overlay2 diff directory), with whiteouts and directories counting zero.
 */
export class LayerStats extends Writable {
  size = 0;
  entries = 0;
  private readonly parser = extract();
  private readonly done: Promise<void>;

  constructor() {
    super({ highWaterMark: 1 << 20 });
    this.parser.on("entry", (header, stream, next) => {
      this.entries++;
      const base = header.name.slice(header.name.lastIndexOf("/") + 1);
      if (!base.startsWith(".wh.")) {
        if (header.type === "file" || header.type === "contiguous-file") this.size += header.size ?? 0;
        else if (header.type === "symlink") this.size += Buffer.byteLength(header.linkname ?? "");
      }
      stream.on("end", next);
      stream.resume();
    });
    this.done = new Promise((resolve, reject) => {
      this.parser.on("finish", resolve);
      this.parser.on("error", reject);
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.parser.write(chunk)) this.parser.once("drain", () => cb(null));
    else cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.parser.end(undefined as never);
    this.done.then(() => cb(), cb);
  }
}
