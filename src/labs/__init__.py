"""labs: run workshops, co-creation labs and learning communities, and trace what they lead to."""

__version__ = "0.1.0"
