"""Elastic Load Balancing v2 (``elbv2``, API 2015-12-01): the control plane's API and records."""
