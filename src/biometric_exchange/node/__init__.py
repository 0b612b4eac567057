"""A country's node: runtime, gRPC server and client, exchange worker."""
