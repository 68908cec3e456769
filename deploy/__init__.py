"""Deployment: the embedded dev stack runner and command line, production compose/Kubernetes files."""
