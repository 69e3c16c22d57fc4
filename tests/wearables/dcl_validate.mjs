// Decentraland's own validators (@dcl/schemas) on documents from the tests.
//   stdin: {"schema": "Wearable" | "Mappings" | "WearableRepresentation" | "WearableCategory", "doc": ...}
//   stdout: {"valid": bool, "errors": [ajv errors]}
import dcl from "@dcl/schemas";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { schema, doc } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const validate = dcl[schema].validate;
const valid = validate(doc);
process.stdout.write(JSON.stringify({ valid, errors: validate.errors ?? [] }) + "\n");
