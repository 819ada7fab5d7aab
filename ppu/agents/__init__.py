"""Agents: an AI assistant reads and steers a campaign through the Model Context Protocol
(`ppu mcp`), over the same commands table the dashboard and the CLI write, as itself in the
audit. See `ppu.agents.mcp_server` and docs/decisions/0014."""
