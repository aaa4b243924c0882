"""Sage ERP targets: one protocol (`protocol.SageTarget`), implemented for X3 and Sage 500."""
