// ESLint: typescript-eslint's type-checked rules plus Pulumi's: an Output in a plain
// template literal is an error (use pulumi.interpolate).
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "bin/", "rendered/", "test/doubles/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The developer repo's check script runs on Node as it is (lib/developerRepo/check.mjs).
  {
    files: ["**/*.mjs"],
    languageOptions: { globals: { console: "readonly", process: "readonly", Buffer: "readonly" } },
  },
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@pulumi": pulumi },
    rules: {
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      // Tests load the program with require() after the mocks are set, as Pulumi's docs do.
      "@typescript-eslint/no-require-imports": "off",
    },
  },
);
