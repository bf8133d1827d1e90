"""Message catalogs, one module per locale: ``MESSAGES`` maps a stable code to its text.

Texts are ``str.format`` templates: ``{name}`` inserts a detail, ``{name:@kind}`` inserts the
translated label ``label.<kind>.<value>`` of a detail (lists are labelled item by item).
"""
