// Agents served as the TypeScript SDKs' examples serve them, on 127.0.0.1 only:
// * a legacy HTTP+SSE MCP agent as @modelcontextprotocol/sdk's simpleSseServer
//   (GET /mcp opens the stream, POST /messages carries requests, so a POST to /mcp
//   gets Express's 404 "Cannot POST /mcp");
// * an A2A agent as @a2a-js/sdk's sample agent (the card at the origin's
//   /.well-known/agent-card.json, JSON-RPC at /a2a/jsonrpc).
// Prints the port it listens on, then serves until its parent closes stdin.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { AGENT_CARD_PATH } from "@a2a-js/sdk";
import { DefaultRequestHandler, InMemoryTaskStore } from "@a2a-js/sdk/server";
import { agentCardHandler, jsonRpcHandler, UserBuilder } from "@a2a-js/sdk/server/express";

const app = createMcpExpressApp();
const transports = {};

app.get("/mcp", async (req, res) => {
  const transport = new SSEServerTransport("/messages", res);
  transports[transport.sessionId] = transport;
  transport.onclose = () => delete transports[transport.sessionId];
  const server = new McpServer({ name: "ts-signals", version: "1.0.0" });
  server.registerTool("get_signals", { description: "Audience signals" }, async () => ({ content: [] }));
  server.registerTool("activate_signal", { description: "Activate a signal" }, async () => ({ content: [] }));
  await server.connect(transport);
});

app.post("/messages", async (req, res) => {
  const transport = transports[req.query.sessionId];
  if (!transport) {
    res.status(404).send("Session not found");
    return;
  }
  await transport.handlePostMessage(req, res, req.body);
});

const listener = app.listen(0, "127.0.0.1", () => {
  const base = `http://127.0.0.1:${listener.address().port}`;
  const card = {
    name: "ts-sales",
    description: "A sales agent built with @a2a-js/sdk",
    supportedInterfaces: [{ url: `${base}/a2a/jsonrpc`, protocolBinding: "JSONRPC", protocolVersion: "1.0" }],
    version: "1.0.0",
    capabilities: { streaming: false, pushNotifications: false },
    defaultInputModes: ["text"],
    defaultOutputModes: ["text"],
    skills: [
      { id: "get_products", name: "Products", description: "Inventory for a brief", tags: ["sales"] },
      { id: "create_media_buy", name: "Media buy", description: "Book a campaign", tags: ["sales"] },
    ],
  };
  const executor = {
    execute: async (context, bus) => bus.finished(),
    cancelTask: async () => {},
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
  app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: handler }));
  app.use("/a2a/jsonrpc", jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
  process.stdout.write(`${listener.address().port}\n`);
});

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
