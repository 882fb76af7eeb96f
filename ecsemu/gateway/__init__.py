"""The gateway: one HTTP endpoint for every emulated AWS API."""
