// Hardhat 3 builds the contracts offline: the compiler is solcjs from the pinned npm package `solc`
// (no download), targeting Cancun, which py-evm and most L2s run.
import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);
const solcVersion = require("solc/package.json").version;

export default defineConfig({
  solidity: {
    version: solcVersion,
    path: require.resolve("solc/soljson.js"),
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 10_000 },
    },
  },
  paths: { sources: "./contracts" },
});
