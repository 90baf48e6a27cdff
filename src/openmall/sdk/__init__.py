"""What an app's own code imports from openmall (standard library only, so it runs anywhere)."""

from openmall.sdk.launch import verify_launch

__all__ = ["verify_launch"]
