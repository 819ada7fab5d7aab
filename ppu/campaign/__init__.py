"""A campaign: its file (schema and loading), the bridge to a planner, the closed loop
that launches experiments and streams results back, and its summary."""
