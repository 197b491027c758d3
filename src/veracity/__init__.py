"""veracity: check an ICT product's security pledge from its image."""

__version__ = "0.1.0"
