"""The node process: config, CLI, HTTP server, peer client, rounds, backends, model store."""
