"""Host-side deployment errors: one line each, naming the host, file or option at fault."""


class DeployError(Exception):
    """A bundle, flash, rollback, fleet or remote bench step failed; the message says which and why."""
