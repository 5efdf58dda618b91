"""Delivery modules, one package each: ``delivery/modules/<key>/``."""
