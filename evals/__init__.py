"""Eval stage: metrics, runner and report over eval sets in the SCHEMA.md format."""
