"""The errors every layer raises for input it cannot use: one line that says why."""


class InputError(ValueError):
    """Input the commands cannot use (a missing file, a record that is not DNA...); the message says why."""


class OptionError(InputError):
    """An option value out of range or unknown; the message names the option, the value and what is allowed.

    `option` is the option's name as the message starts with it (the Python name, `batch_size`), so that the
    command line can put its own spelling (`-b/--batch-size`) in its place.
    """

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option
