// The Khronos glTF Validator (npm gltf-validator) for the registry's asset uploads.
//
//   node validate.mjs < model.glb     one report as JSON on stdout
//   node validate.mjs --serve         many: each request on stdin is a 4-byte big-endian length and that
//                                     many GLB bytes; each answer one JSON line on stdout, in order
//
// The long-lived form exists because starting Node and loading the validator costs ~100-250 ms while a
// validation of a garment-sized GLB takes about a millisecond. Answers are the validator's own report
// (timestamp off, at most MAX_ISSUES messages) or {"failure": "..."} when it could not run at all.
import { validateBytes } from "gltf-validator";

const MAX_ISSUES = 100;

async function report(bytes) {
  try {
    return await validateBytes(new Uint8Array(bytes), { format: "glb", writeTimestamp: false, maxIssues: MAX_ISSUES });
  } catch (error) {
    return { failure: String(error) };
  }
}

async function once() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  process.stdout.write(JSON.stringify(await report(Buffer.concat(chunks))) + "\n");
}

async function serve() {
  // Chunks are kept in a list and joined once per request: joining on every 64 KiB chunk would copy a
  // large model over and over (quadratic in its size).
  let chunks = [];
  let buffered = 0;
  let wanted = -1; // bytes of the request being read (its length prefix included), once known
  let queue = Promise.resolve();
  process.stdin.on("data", (chunk) => {
    chunks.push(chunk);
    buffered += chunk.length;
    for (;;) {
      if (wanted < 0) {
        if (buffered < 4) return;
        if (chunks[0].length < 4) chunks = [Buffer.concat(chunks)];
        wanted = 4 + chunks[0].readUInt32BE(0);
      }
      if (buffered < wanted) return;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, buffered);
      const bytes = all.subarray(4, wanted);
      const rest = all.subarray(wanted);
      chunks = rest.length ? [rest] : [];
      buffered = rest.length;
      wanted = -1;
      // One at a time, in order: the caller matches answers to requests by position.
      queue = queue.then(async () => process.stdout.write(JSON.stringify(await report(bytes)) + "\n"));
    }
  });
  process.stdin.on("end", () => queue.then(() => process.exit(0)));
}

await (process.argv.includes("--serve") ? serve() : once());
