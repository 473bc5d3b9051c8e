"""Domain types and rules: no I/O, no SQL, no HTTP. Shared by the API, the CLI and the store."""
