"""`python -m estuary` runs the same CLI as the `estuary` command."""

from .cli import app

if __name__ == "__main__":
    app(prog_name="estuary")
