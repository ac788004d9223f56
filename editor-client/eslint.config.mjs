// ESLint for the extension's TypeScript: the recommended rules of ESLint and typescript-eslint.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "test/e2e/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `void promise` marks a promise deliberately not awaited (VS Code's own habit).
      "no-void": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
);
