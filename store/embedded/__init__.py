"""The embedded Weaviate server: run it locally, share it between processes, restart it when it dies.

`server` starts, shares (one lease per open client) and stops the server with its last user;
`server_process` launches the binary and watches the process; `supervisor` restarts a server
that dies and checks its vector index after an unclean stop. `store.connect` uses them when
WEAVIATE_URL is unset; docs/ARCHITECTURE.md explains the design.
"""
