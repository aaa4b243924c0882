"""The finance and operations cockpit (issue 16): what the Dagster UI's cockpit assets show and the CLI exports.

Domain code only (no dagster): `deadletters` lists the open dead letters per flow and says how to replay them,
`overview` summarises each settlement and each flow in numbers, `export` writes them to an xlsx workbook.
"""
