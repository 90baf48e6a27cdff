"""openmall: a self-hostable commerce platform with an Open API and an app ecosystem."""

__version__ = "0.1.0"
