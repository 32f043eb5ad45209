"""Serve the app: `python app.py [--host H] [--port P] [--auth-file FILE]` is `assistant serve`."""

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
