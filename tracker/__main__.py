"""`python -m tracker` runs the command line."""

from tracker.entry import main

main()
