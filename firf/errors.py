"""Errors a person can act on."""


class InputError(ValueError):
    """Bad user input: unreadable or corrupt media, empty text, everything dropped, wrong types.

    The message is written for the person who supplied the input; the CLI and the app show it
    as-is, without a traceback.
    """
