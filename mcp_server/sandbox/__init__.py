"""A local CustomGPT-compatible REST API for tests and the demo; see FAULTS.md."""
