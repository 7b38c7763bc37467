import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/node.ts"],
  removeNodeProtocol: false,
  format: ["esm", "cjs"],
  dts: true,
  treeshake: true,
  clean: true,
  target: "es2022",
});
