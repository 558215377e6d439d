"""Pure-ASGI middleware: security headers and the API key, search admission, metrics and request logs."""
