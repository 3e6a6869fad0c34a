"""Modal screens: each gathers what one action needs, then hands commands back."""
