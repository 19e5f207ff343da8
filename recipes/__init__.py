"""Project recipes outside the library: how the demo checkpoint's corpus is built."""
