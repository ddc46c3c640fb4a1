"""labctl: the controller daemon for small jewelry casting labs."""

__version__ = "0.1.0"
