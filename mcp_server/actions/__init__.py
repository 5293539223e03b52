"""The ChatGPT Actions / OpenAPI facade: each agent as a small REST API with its own OpenAPI document,
generated from the operations registry (the MCP tools' twin face), for custom GPTs and OpenAPI tools."""

from mcp_server.actions.routes import ActionsFacade

__all__ = ["ActionsFacade"]
