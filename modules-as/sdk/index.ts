// The SDK's entry for `import { ... } from "@wasmfleet/sdk"`: asc resolves a package name to
// `<package>/index.ts` (and `@wasmfleet/sdk/exports` to `exports.ts`), as TypeScript does for
// an editor. The sources live in assembly/.
export * from "./assembly/index";
