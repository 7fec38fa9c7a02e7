"""The only code that writes: XMP sidecars, the history journal, apply and revert under the library lock."""
