"""The Prometheus kit: the cluster inventory, prometheus.yml generation, and the packaged rules and dashboards."""
