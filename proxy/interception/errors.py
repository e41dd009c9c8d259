"""The interception error, kept apart from the CA code so importing it does not load cryptography."""


class CAError(Exception):
    """The CA files are missing, unreadable or unusable; the message says how to fix it."""
