"""The one exception type the CLI turns into a single line and a non-zero exit."""


class DsflowError(Exception):
    """A problem the user can fix; its message says what happened and what to do next."""

    exit_code = 2
