"""The engine seen from outside: health, Prometheus metrics, and the HTTP server for them."""
