"""`python -m reliatic_appliance` is `reliatic`."""

from reliatic_appliance.cli.main import entry

entry()
