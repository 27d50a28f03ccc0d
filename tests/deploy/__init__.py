"""Deployment: the nginx gateway in front of several app processes, the compose file."""
