"""HTTP layer: thin handlers that parse input, call one service, and answer in the envelope."""
