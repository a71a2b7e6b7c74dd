#!/usr/bin/env python
import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["rundemo"]:
        # A Ctrl-C while Django loads (nothing started yet) ends the demo quietly, without a traceback;
        # the command installs its own handlers, which stop whatever it has started.
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *_: sys.exit(0))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
