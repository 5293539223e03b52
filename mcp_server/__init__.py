"""Agent Bridge: hosted RAG agents as MCP tools and resources."""

__version__ = "0.1.0"
