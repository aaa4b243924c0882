"""The reference flow: mapping YAML files, the account map and Sage's item master as ref tables."""

FLOW = "reference"  # its asset group, its run tag sage_amazon/flow
