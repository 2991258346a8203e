"""The use cases: one object per area, over the ports."""
