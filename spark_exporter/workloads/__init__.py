"""Workloads the cluster runs, as Prometheus sees them: a vLLM metrics simulator for tests and the demo."""
