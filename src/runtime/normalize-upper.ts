import * as fs from "node:fs";
import { join } from "node:path";

/**
 * Makes a finished container's upper directory hold exactly what its layer tar holds (see
 * diff.ts), so that it can become that layer's snapshot (snapshots.ts's adoptSnapshot) and a
 * later step sees the same files it would see had the tar been unpacked:
 *
 * - mtimes as the tar has them: whole seconds, none later than the epoch. Without this a
 *   later RUN that reads mtimes (tar, ls -l, make) would write different bytes on every
 *   build, and the build would not be reproducible.
 * - no sockets: they are not file system content, and the tar leaves them out.
 *
 * Access times follow the mtimes; the tar has none. The upper directory's own root is left
 * alone: a mount's root takes its metadata from the topmost layer, never from a lower one.
 */
export function normalizeUpper(upper: string, epoch?: number): void {
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isSocket()) {
        fs.rmSync(path, { force: true });
        continue;
      }
      // a directory's children first: removing a socket would move the directory's mtime
      if (e.isDirectory()) walk(path);
      const st = fs.lstatSync(path);
      const ms = st.mtime.getTime();
      // diff.ts's clamp, to the millisecond
      const want = epoch !== undefined && ms > epoch * 1000 ? epoch * 1000 : Math.floor(ms / 1000) * 1000;
      if (st.mtimeMs !== want) {
        const t = new Date(want);
        fs.lutimesSync(path, t, t);
      }
    }
  };
  walk(upper);
}
