"""Local stand-ins for external APIs that the local runtime and the tests talk to over loopback."""
