"""The `agent-bridge` subcommands, one module each (see `mcp_server.cli.COMMANDS`)."""
