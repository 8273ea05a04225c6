"""The Lambda path, locally: `python -m adapter serve` puts an emulated API Gateway (REST or HTTP API), Function
URL or ALB in front of a handler, in this process; `invoke` runs one event through a handler; `event` prints the
event a request would become.

- `events`: requests to events, as each service builds them (pure functions).
- `responses`: handler results to HTTP responses, and the services' own error answers (pure functions).
- `runtime`: the function's execution environment: handler loading, timeouts, limits, START/END/REPORT.
- `gateway`: the HTTP server.
- `template`: the function and its API read from a SAM template.
- `cli`: the command line.
"""
