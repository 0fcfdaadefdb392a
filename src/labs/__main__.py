"""`python -m labs` is the `labs` command."""

from labs.cli import main

main()
