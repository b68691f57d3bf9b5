import { Writable } from "node:stream";
import { extract } from "tar-stream";

/**
 * Walks an uncompressed layer tar and computes the size docker reports for the layer:
 * the bytes of regular files plus the length of each symlink's target (what `lstat`
 * gives on an overlay2 diff directory), with whiteouts and directories counting zero.
 * A stream that is not a tar, or is cut short, makes this stream fail with the parser's error.
 */
export class LayerStats extends Writable {
  size = 0;
  entries = 0;
  private readonly parser = extract();
  private failure: Error | undefined;
  private parserDone = false;
  private onParserDone: ((err?: Error) => void) | undefined;

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
    this.parser.on("finish", () => this.settle());
    this.parser.on("error", (err: Error) => this.settle(err));
  }

  private settle(err?: Error): void {
    if (this.parserDone) return;
    this.parserDone = true;
    this.failure = err;
    const done = this.onParserDone;
    this.onParserDone = undefined;
    if (done) done(err);
    else if (err) this.destroy(err);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.failure) {
      cb(this.failure);
      return;
    }
    if (this.parser.write(chunk)) {
      cb();
      return;
    }
    const onDrain = () => {
      this.parser.off("error", onError);
      cb();
    };
    const onError = (err: Error) => {
      this.parser.off("drain", onDrain);
      cb(err);
    };
    this.parser.once("drain", onDrain);
    this.parser.once("error", onError);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.parserDone) {
      cb(this.failure);
      return;
    }
    this.onParserDone = (err) => cb(err);
    (this.parser as unknown as NodeJS.WritableStream).end();
  }
}
