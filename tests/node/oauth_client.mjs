// The TypeScript MCP SDK's OAuth client against a bridge: node oauth_client.mjs MCP_URL QUESTION
// (QUESTION is argv[3].) It discovers the authorization server, registers (RFC 7591), and prints one line
// `authorize <URL>`; it then reads the redirect URL (where the browser landed) on stdin, finishes
// the sign-in (PKCE, token), connects again, lists tools and calls `ask`, and prints one JSON line
// {"tools": [...], "answer": "...", "scope": "..."} (or {"error": "..."}).
import { createInterface } from "node:readline";
import { Client } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js";
import { StreamableHTTPClientTransport } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js";
import { UnauthorizedError } from "./node_modules/@modelcontextprotocol/sdk/dist/esm/client/auth.js";

const url = new URL(process.argv[2]);
const redirectUrl = "http://127.0.0.1:1/callback";
const stored = { client: undefined, tokens: undefined, verifier: undefined };
const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return { client_name: "TypeScript SDK test client", redirect_uris: [redirectUrl],
             grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
             token_endpoint_auth_method: "none" };
  },
  clientInformation() { return stored.client; },
  saveClientInformation(info) { stored.client = info; },
  tokens() { return stored.tokens; },
  saveTokens(tokens) { stored.tokens = tokens; },
  redirectToAuthorization(authorizationUrl) { console.log(`authorize ${authorizationUrl.href}`); },
  saveCodeVerifier(verifier) { stored.verifier = verifier; },
  codeVerifier() { return stored.verifier; },
};

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function connected() {
  const client = new Client({ name: "ts-oauth-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return client;
}

try {
  let client;
  try {
    client = await connected();
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    const redirected = new URL((await lines.next()).value.trim());
    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await transport.finishAuth(redirected.searchParams.get("code"));
    client = await connected();
  }
  const tools = (await client.listTools()).tools.map((tool) => tool.name);
  const result = await client.callTool({ name: "ask", arguments: { question: process.argv[3] } });
  console.log(JSON.stringify({ tools, answer: JSON.stringify(result.structuredContent ?? result.content),
                               scope: stored.tokens?.scope }));
  await client.close();
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message ?? error) }));
}
process.exit(0);
