"""The per-node daemon: collection of the enabled collectors, exposition, and the exporter's HTTP routes."""
