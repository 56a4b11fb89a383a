"""The package version, in a leaf module: parts that record it never import the package root."""

__version__ = "0.1.0"
