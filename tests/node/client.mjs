// Drives the TypeScript MCP SDK (what Cursor, Claude and n8n embed) from a JSON spec on argv[2]:
// {"transport": "http"|"sse"|"stdio", "url", "headers", "command", "args", "env",
//  "ops": [{"op": "listTools"} | {"op": "callTool", "name", "arguments", "progress", "timeout"}
//          | {"op": "readResource", "uri"}]}
// Prints one JSON object: {"results": [...]}; an op that fails gives {"error": message}.
import { Client } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js";
import { StreamableHTTPClientTransport } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js";
import { SSEClientTransport } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/sse.js";
import { StdioClientTransport } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.js";

const spec = JSON.parse(process.argv[2]);
const headers = spec.headers ?? {};

function makeTransport() {
  if (spec.transport === "http") {
    return new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers } });
  }
  if (spec.transport === "sse") {
    return new SSEClientTransport(new URL(spec.url), {
      requestInit: { headers },
      eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers ?? {}), ...headers } }) },
    });
  }
  return new StdioClientTransport({ command: spec.command, args: spec.args ?? [], env: spec.env, stderr: "inherit" });
}

const client = new Client({ name: "agent-bridge-tests", version: "1.0.0" });
const results = [];
try {
  await client.connect(makeTransport());
  for (const op of spec.ops) {
    try {
      if (op.op === "listTools") {
        const listed = await client.listTools();
        results.push({ tools: listed.tools.map((t) => t.name) });
      } else if (op.op === "callTool") {
        const progress = [];
        const started = Date.now();
        const options = op.progress
          ? {
              onprogress: (p) => progress.push({ progress: p.progress, message: p.message ?? null, at: Date.now() - started }),
              resetTimeoutOnProgress: true,
              timeout: op.timeout ?? 60000,
            }
          : { timeout: op.timeout ?? 60000 };
        const result = await client.callTool({ name: op.name, arguments: op.arguments ?? {} }, undefined, options);
        results.push({ result, progress, elapsed_ms: Date.now() - started });
      } else if (op.op === "readResource") {
        results.push({ resource: await client.readResource({ uri: op.uri }) });
      }
    } catch (error) {
      results.push({ error: String(error?.message ?? error) });
    }
  }
} catch (error) {
  results.push({ error: String(error?.message ?? error) });
} finally {
  await client.close().catch(() => {});
}
process.stdout.write(JSON.stringify({ results }) + "\n");
process.exit(0);
