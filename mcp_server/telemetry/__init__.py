"""What operators see of the bridge: Prometheus metrics, OpenTelemetry traces, JSON logs.

Each module has one job and costs nothing on the hot path beyond a histogram observation per call:
`metrics` (the metric families and their exposition, multiprocess-aware), `mcp_metrics` (the MCP
server middleware that times every operation), `upstream` (one upstream request: duration sample,
client span, reachability), `tracing` (OTLP export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set),
`recent` (calls and errors in the last hour, for the connect page), `json_logs` (`--log-format json`).
"""
