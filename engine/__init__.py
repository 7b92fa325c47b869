"""tingshuo engine: server, sessions, wire protocols, HTTP API, WebUI, config and CLI."""
