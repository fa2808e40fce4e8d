"""The dashboard: Dash app, pages, message catalogue, figure builders (everything a person sees)."""
