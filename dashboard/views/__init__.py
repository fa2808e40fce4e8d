"""Page builders: pure functions from model frames to Dash components and Plotly figures (no reads, no callbacks)."""
