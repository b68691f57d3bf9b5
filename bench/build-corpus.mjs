#!/usr/bin/env node
// Writes the build benchmarks' contexts (issue 3, "Speed"), deterministically: every byte comes
// from AES-256-CTR over zeros, keyed by a fixed seed per file set, so two machines get the same
// corpus. See bench/build.sh and bench/README.md.
//
//   node bench/build-corpus.mjs DIR CELL     writes the context of CELL into DIR (must not exist)
//   node bench/build-corpus.mjs --list       prints the cells, one per line
//
// The cells, each a context with a Dockerfile (the bases are berthbuild/bb:1, busybox-static,
// and berthbuild/deb:1, Debian bookworm minbase; build.sh makes them):
//   c1-small-files  COPY of 20,000 small files (~43 MB)
//   c2-big-file     COPY of one 500 MiB file (then a small VERSION file)
//   c3-multistage   a builder stage on Debian (COPY 1,000 sources, RUN sha256sum + tar | gzip),
//                   then a busybox final stage that copies its output
//   c4-runs         40 RUN steps with a COPY in the middle
//   c5-metadata     metadata-only instructions (ARG ENV LABEL EXPOSE USER ... CMD)
//   c6-ignore       a 363 MB context of which .dockerignore keeps 1 MB; COPY . /app
//   c7-run-delete   a RUN writing 2,000 files + 50 MB, a RUN deleting them, a COPY of a small file
//
// Each cell's "one file edited" target is printed by --edit-target CELL (build.sh rewrites it).
import { createCipheriv, createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";

const BB = "berthbuild/bb:1";
const DEB = "berthbuild/deb:1";

/** A deterministic byte stream: AES-256-CTR of zeros, keyed by sha256(seed). */
class Stream {
  constructor(seed) {
    const key = createHash("sha256").update(`berth-bench:${seed}`).digest();
    this.cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
    this.zeros = Buffer.alloc(1 << 20);
  }
  bytes(n) {
    const parts = [];
    let left = n;
    while (left > 0) {
      const k = Math.min(left, this.zeros.length);
      parts.push(this.cipher.update(this.zeros.subarray(0, k)));
      left -= k;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
  /** An integer in [0, n). */
  int(n) {
    return this.bytes(4).readUInt32LE(0) % n;
  }
  /** n bytes of text: base64 of random bytes, in lines of 76 characters. */
  text(n) {
    const b64 = this.bytes(Math.ceil((n * 3) / 4) + 3).toString("base64");
    let out = "";
    for (let i = 0; out.length < n; i += 76) out += `${b64.slice(i, i + 76)}\n`;
    return `${out.slice(0, n - 1)}\n`;
  }
}

const pad = (n, w) => String(n).padStart(w, "0");

/** Writes a big file in 8 MiB chunks (it never sits in memory whole). */
function writeBig(path, stream, size) {
  const fd = openSync(path, "w");
  try {
    for (let left = size; left > 0; left -= 8 << 20) writeSync(fd, stream.bytes(Math.min(left, 8 << 20)));
  } finally {
    closeSync(fd);
  }
}

const cells = {
  "c1-small-files": {
    edit: "files/d000/f000.txt",
    make(dir) {
      const s = new Stream("c1");
      // 200 directories × 100 files, 100–4,200 bytes each (mean ~2,150): ~43 MB
      for (let d = 0; d < 200; d++) {
        const sub = join(dir, "files", `d${pad(d, 3)}`);
        mkdirSync(sub, { recursive: true });
        for (let f = 0; f < 100; f++) writeFileSync(join(sub, `f${pad(f, 3)}.txt`), s.text(100 + s.int(4101)));
      }
      writeFileSync(join(dir, "Dockerfile"), `FROM ${BB}\nCOPY files /files\n`);
    },
  },
  "c2-big-file": {
    edit: "VERSION",
    make(dir) {
      writeBig(join(dir, "big.bin"), new Stream("c2"), 500 * 1024 * 1024);
      writeFileSync(join(dir, "VERSION"), "1.0.0\n");
      writeFileSync(join(dir, "Dockerfile"), `FROM ${BB}\nCOPY big.bin /data/big.bin\nCOPY VERSION /data/VERSION\n`);
    },
  },
  "c3-multistage": {
    edit: "src/mod000.c",
    make(dir) {
      const s = new Stream("c3");
      // 1,000 "sources" of 20,000 bytes of text: 20 MB
      mkdirSync(join(dir, "src"), { recursive: true });
      for (let i = 0; i < 1000; i++) writeFileSync(join(dir, "src", `mod${pad(i, 3)}.c`), s.text(20000));
      writeFileSync(
        join(dir, "Dockerfile"),
        [
          `FROM ${DEB} AS builder`,
          "WORKDIR /src",
          "COPY src/ ./",
          "RUN set -e; mkdir -p /out; find . -type f | sort | xargs sha256sum > /out/SUMS; \\",
          "    tar -cf - . | gzip -6 > /out/app.tar.gz; ls -l /out",
          "",
          `FROM ${BB}`,
          "COPY --from=builder /out /app",
          'CMD ["/bin/sh"]',
          "",
        ].join("\n"),
      );
    },
  },
  "c4-runs": {
    edit: "app.txt",
    make(dir) {
      writeFileSync(join(dir, "app.txt"), "app 1\n");
      const lines = [`FROM ${BB}`];
      for (let i = 1; i <= 20; i++) lines.push(`RUN echo step ${i} >> /steps.log`);
      lines.push("COPY app.txt /app.txt");
      for (let i = 21; i <= 40; i++) lines.push(`RUN echo step ${i} >> /steps.log`);
      writeFileSync(join(dir, "Dockerfile"), `${lines.join("\n")}\n`);
    },
  },
  "c5-metadata": {
    edit: "Dockerfile",
    make(dir) {
      writeFileSync(
        join(dir, "Dockerfile"),
        [
          `FROM ${BB}`,
          "ARG VERSION=1.0",
          "ENV APP_HOME=/app APP_VERSION=$VERSION",
          "ENV PATH=/app/bin:$PATH",
          'LABEL org.opencontainers.image.title="berth bench" org.opencontainers.image.version=$VERSION',
          "LABEL maintainer=bench@example.com tier=backend",
          "EXPOSE 8080/tcp 8443",
          "USER 1000:1000",
          "STOPSIGNAL SIGTERM",
          'HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/true"]',
          "VOLUME /data",
          'ENTRYPOINT ["/bin/sh", "-c"]',
          'CMD ["echo hello"]',
          'LABEL bench.edit="0"',
          "",
        ].join("\n"),
      );
    },
  },
  "c6-ignore": {
    edit: "app/f000.txt",
    make(dir) {
      const s = new Stream("c6");
      // kept: app/, 100 files × 10,000 bytes = 1 MB
      mkdirSync(join(dir, "app"), { recursive: true });
      for (let i = 0; i < 100; i++) writeFileSync(join(dir, "app", `f${pad(i, 3)}.txt`), s.text(10000));
      // left out: data/ 4 × 50 MB, node_modules/ 10,000 × 16,200 bytes (162 MB), build.log
      mkdirSync(join(dir, "data"), { recursive: true });
      for (let i = 0; i < 4; i++) writeBig(join(dir, "data", `blob${i}.bin`), s, 50_000_000);
      for (let p = 0; p < 100; p++) {
        const sub = join(dir, "node_modules", `pkg${pad(p, 3)}`);
        mkdirSync(sub, { recursive: true });
        for (let f = 0; f < 100; f++) writeFileSync(join(sub, `m${pad(f, 3)}.js`), s.text(16200));
      }
      writeFileSync(join(dir, "build.log"), s.text(1000));
      writeFileSync(join(dir, ".dockerignore"), "data\nnode_modules\n*.log\n");
      writeFileSync(join(dir, "Dockerfile"), `FROM ${BB}\nCOPY . /app\n`);
    },
  },
  "c7-run-delete": {
    edit: "note.txt",
    make(dir) {
      writeFileSync(join(dir, "note.txt"), "note 1\n");
      writeFileSync(
        join(dir, "Dockerfile"),
        [
          `FROM ${BB}`,
          "RUN mkdir /junk && i=0 && while [ $i -lt 2000 ]; do echo file $i > /junk/f$i; i=$((i+1)); done \\",
          "    && head -c 50000000 /dev/urandom > /junk/big.bin",
          "RUN rm -rf /junk",
          "COPY note.txt /note.txt",
          "",
        ].join("\n"),
      );
    },
  },
};

const [a, b] = process.argv.slice(2);
if (a === "--list") {
  process.stdout.write(`${Object.keys(cells).join("\n")}\n`);
} else if (a === "--edit-target") {
  const c = cells[b] ?? fail(`unknown cell ${b}`);
  process.stdout.write(`${c.edit}\n`);
} else if (a && b) {
  const c = cells[b] ?? fail(`unknown cell ${b}`);
  if (existsSync(a)) fail(`${a} exists`);
  mkdirSync(a, { recursive: true });
  c.make(a);
} else fail("usage: build-corpus.mjs DIR CELL | --list | --edit-target CELL");

function fail(msg) {
  process.stderr.write(`build-corpus: ${msg}\n`);
  process.exit(2);
}
