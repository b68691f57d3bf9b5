import { createRequire } from "node:module";

/**
 * berth's native addon `berth-mount` (native/mount, an optional dependency built by node-gyp on
 * install): mount(2) and umount2(2) for mount.ts, llistxattr(2), lgetxattr(2) and lsetxattr(2)
 * for xattrs.ts. Where it was not built (no compiler), each caller falls back to programs.
 * Every call answers an errno (a positive number) rather than throwing.
 */
export interface NativeMount {
  /** 0, or the errno. `cwd`: where relative paths in `data` resolve from. */
  mount(cwd: string | null, source: string, target: string, fstype: string, flags: number, data: string | null): number;
  umount(target: string, flags: number): number;
  /** The names of `path`'s attributes (a symlink itself, not its target), or the errno. */
  llistxattr?(path: string): string[] | number;
  /** One attribute's value, byte for byte, or the errno (ENODATA when it has none). */
  lgetxattr?(path: string, name: string): Buffer | number;
  /** 0, or the errno. `flags`: XATTR_CREATE (1), XATTR_REPLACE (2) or 0. */
  lsetxattr?(path: string, name: string, value: Buffer, flags: number): number;
}

let loaded: NativeMount | null | undefined;

/** The addon, loaded on first use; null where it was not built. */
export function nativeMount(): NativeMount | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)("berth-mount/build/Release/berth_mount.node") as NativeMount;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}
