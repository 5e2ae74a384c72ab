"""rnngen: compile trained recurrent networks into standalone C99 projects."""

__version__ = "0.1.0"
