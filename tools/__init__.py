"""Project tools outside the library: screenshots of the demo and other chores."""
