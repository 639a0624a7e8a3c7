"""Reliatic Appliance: on-premises reliability and integrity data API."""

__version__ = "0.1.0"
