import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bytesSize,
  formatGoFloat,
  formatGoG,
  goRFC3339,
  goTimeString,
  humanDuration,
  humanSize,
  humanSizeWithPrecision,
} from "./units.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

test("humanDuration matches go-units HumanDuration", () => {
  const cases: [number, string][] = [
    [0, "Less than a second"],
    [999, "Less than a second"],
    [-5 * SECOND, "Less than a second"],
    [SECOND, "1 second"],
    [1999, "1 second"],
    [2 * SECOND, "2 seconds"],
    [59 * SECOND + 999, "59 seconds"],
    [MINUTE, "About a minute"],
    [MINUTE + 59 * SECOND, "About a minute"],
    [2 * MINUTE, "2 minutes"],
    [59 * MINUTE + 59 * SECOND, "59 minutes"],
    [60 * MINUTE, "About an hour"],
    [HOUR + 29 * MINUTE, "About an hour"],
    [HOUR + 30 * MINUTE, "2 hours"],
    [47 * HOUR, "47 hours"],
    [47 * HOUR + 29 * MINUTE, "47 hours"],
    [47 * HOUR + 30 * MINUTE, "2 days"],
    [48 * HOUR, "2 days"],
    [13 * DAY + 23 * HOUR, "13 days"],
    [14 * DAY, "2 weeks"],
    [59 * DAY, "8 weeks"],
    [60 * DAY, "2 months"],
    [365 * DAY, "12 months"],
    [729 * DAY, "24 months"],
    [730 * DAY, "2 years"],
    [3 * 365 * DAY + 200 * DAY, "3 years"],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
});

test("humanSize is HumanSizeWithPrecision(size, 3)", () => {
  const cases: [number, string][] = [
    [0, "0B"],
    [2, "2B"],
    [999, "999B"],
    [1000, "1kB"],
    [1024, "1.02kB"],
    [1982289, "1.98MB"],
    [999999, "1e+03kB"],
    [7_377_920, "7.38MB"],
    [1_234_567_890, "1.23GB"],
    [5.5e12, "5.5TB"],
    [1e15, "1PB"],
    [1e18, "1EB"],
    [1e21, "1ZB"],
    [1e24, "1YB"],
    [1e27, "1e+03YB"],
    [1125, "1.12kB"], // exact tie 1.125 rounds half to even, as Go does
    [1135, "1.14kB"],
  ];
  for (const [n, want] of cases) assert.equal(humanSize(n), want, String(n));
});

test("humanSizeWithPrecision(size, 4) is go-units HumanSize", () => {
  assert.equal(humanSizeWithPrecision(1982289, 4), "1.982MB");
  assert.equal(humanSizeWithPrecision(0, 4), "0B");
  assert.equal(humanSizeWithPrecision(9999999, 4), "10MB");
  assert.equal(humanSizeWithPrecision(123456789, 4), "123.5MB");
});

test("bytesSize uses binary units and %.4g", () => {
  assert.equal(bytesSize(0), "0B");
  assert.equal(bytesSize(1023), "1023B");
  assert.equal(bytesSize(1024), "1KiB");
  assert.equal(bytesSize(1536), "1.5KiB");
  assert.equal(bytesSize(1024 * 1024), "1MiB");
  assert.equal(bytesSize(5.5 * 1024 ** 3), "5.5GiB");
  assert.equal(bytesSize(1024 ** 4 * 2), "2TiB");
  assert.equal(bytesSize(123456789), "117.7MiB");
});

test("formatGoG matches Go's %g", () => {
  const cases: [number, number, string][] = [
    [1.982289, 3, "1.98"],
    [999.999, 3, "1e+03"],
    [0, 3, "0"],
    [2, 3, "2"],
    [100, 3, "100"],
    [1000, 3, "1e+03"],
    [123.456, 3, "123"],
    [1.5, 3, "1.5"],
    [0.0001, 3, "0.0001"],
    [0.00001, 3, "1e-05"],
    [0.000123456, 3, "0.000123"],
    [-1.25, 2, "-1.2"],
    [2.5, 1, "2"],
    [3.5, 1, "4"],
    [123456789, 4, "1.235e+08"],
    [1e100, 3, "1e+100"],
    [5e-324, 3, "4.94e-324"],
    [1, 0, "1"],
    [Number.NaN, 3, "NaN"],
    [Number.POSITIVE_INFINITY, 3, "+Inf"],
    [Number.NEGATIVE_INFINITY, 3, "-Inf"],
  ];
  for (const [x, p, want] of cases) assert.equal(formatGoG(x, p), want, `${x} %.${p}g`);
});

test("formatGoFloat: shortest %g, %e and %f", () => {
  assert.equal(formatGoFloat(1e6, "g", -1), "1e+06");
  assert.equal(formatGoFloat(123456, "g", -1), "123456");
  assert.equal(formatGoFloat(1234567.5, "g", -1), "1.2345675e+06");
  assert.equal(formatGoFloat(0.1, "g", -1), "0.1");
  assert.equal(formatGoFloat(1e-7, "g", -1), "1e-07");
  assert.equal(formatGoFloat(-0, "g", -1), "-0");
  assert.equal(formatGoFloat(1e21, "G", -1), "1E+21");
  assert.equal(formatGoFloat(123456.789, "e", 6), "1.234568e+05");
  assert.equal(formatGoFloat(12345.678, "e", -1), "1.2345678e+04");
  assert.equal(formatGoFloat(0, "e", 2), "0.00e+00");
  assert.equal(formatGoFloat(1e-100, "E", 1), "1.0E-100");
  assert.equal(formatGoFloat(1.23456, "f", 2), "1.23");
  assert.equal(formatGoFloat(2.675, "f", 2), "2.67"); // 2.675 is really 2.67499999...
  assert.equal(formatGoFloat(0.5, "f", 0), "0");
  assert.equal(formatGoFloat(1.5, "f", 0), "2");
  assert.equal(formatGoFloat(2.5, "f", 0), "2");
  assert.equal(formatGoFloat(0.1, "f", 20), "0.10000000000000000555");
  assert.equal(formatGoFloat(1e20, "f", -1), "100000000000000000000");
  assert.equal(formatGoFloat(0.001, "f", 1), "0.0");
  assert.equal(formatGoFloat(0.09, "f", 0), "0");
  assert.equal(formatGoFloat(0.6, "f", 0), "1");
  assert.equal(formatGoFloat(-1.5, "f", 1), "-1.5");
});

test("goTimeString is Go's time.Time.String()", () => {
  const d = new Date(Date.UTC(2026, 10, 23, 20, 10, 39));
  assert.equal(goTimeString(d, { timeZone: "UTC" }), "2026-11-23 20:10:39 +0000 UTC");
  assert.equal(
    goTimeString(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 450)), { timeZone: "UTC" }),
    "2026-01-02 03:04:05.45 +0000 UTC",
  );
  assert.equal(
    goTimeString(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 7)), { timeZone: "UTC" }),
    "2026-01-02 03:04:05.007 +0000 UTC",
  );
  assert.equal(
    goTimeString(new Date(Date.UTC(2026, 6, 1, 1, 2, 3)), { timeZone: "America/New_York" }),
    "2026-06-30 21:02:03 -0400 EDT",
  );
  assert.equal(
    goTimeString(new Date(Date.UTC(2026, 0, 15, 12)), { timeZone: "America/New_York" }),
    "2026-01-15 07:00:00 -0500 EST",
  );
  assert.equal(goTimeString(d, { timeZone: "Europe/Paris" }), "2026-11-23 21:10:39 +0100 CET");
  assert.equal(goTimeString(d, { timeZone: "Asia/Kolkata" }), "2026-11-24 01:40:39 +0530 IST");
  assert.equal(goTimeString(new Date(0), { timeZone: "Etc/UTC" }), "1970-01-01 00:00:00 +0000 UTC");
  // Default: the local zone, in the same shape.
  assert.match(goTimeString(d), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
});

test("goRFC3339", () => {
  const d = new Date(Date.UTC(2026, 10, 23, 20, 10, 39, 500));
  assert.equal(goRFC3339(d, { timeZone: "UTC" }), "2026-11-23T20:10:39Z");
  assert.equal(goRFC3339(d, { timeZone: "Asia/Kolkata" }), "2026-11-24T01:40:39+05:30");
  assert.equal(goRFC3339(d, { timeZone: "America/New_York" }), "2026-11-23T15:10:39-05:00");
});

test("humanSizeWithPrecision's fast path agrees with the exact %g path", () => {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
  const exact = (size: number, p: number) => {
    let n = size;
    let i = 0;
    while (n >= 1000 && i < units.length - 1) {
      n /= 1000;
      i++;
    }
    return formatGoFloat(n, "g", p) + units[i];
  };
  const sizes = [...Array.from({ length: 300_000 }, (_, i) => i), 1125, 1115, 2225, 999_999, 999_500, 1_982_289];
  for (let k = 0; k < 20_000; k++) sizes.push(Math.floor(Math.random() * 1e13));
  for (const s of sizes) {
    for (const p of [3, 4]) assert.equal(humanSizeWithPrecision(s, p), exact(s, p), `${s} at precision ${p}`);
  }
});
