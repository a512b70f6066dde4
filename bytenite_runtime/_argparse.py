"""An ``argparse`` parser whose usage errors are one ``error:`` line, as every other error."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .errors import ConfigError


class OneLineParser(argparse.ArgumentParser):
    """Report a bad command line in one line (not argparse's usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(ConfigError.exit_code, f"error: {message} (see {self.prog} --help)\n")
