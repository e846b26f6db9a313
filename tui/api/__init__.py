"""The async API client: typed results, one error taxonomy, no Textual."""
