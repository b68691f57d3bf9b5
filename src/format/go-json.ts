/**
 * JSON as Go's encoding/json writes it (what docker prints): <, > and & escaped as \u003c,
 * \u003e and \u0026, and U+2028/U+2029 escaped, so output matches docker's byte for byte.
 */
export function goJson(value: unknown, indent?: string): string {
  return JSON.stringify(value, null, indent)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}
