"""Helpers shared by the test modules: processes, clusters, fixtures trees and reference data."""
