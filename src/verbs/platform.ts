// The platform model lives in oci/platform.ts; this keeps the verbs' import path.
export { hostPlatform } from "../oci/platform.js";
