"""OAuth 2.1: the bridge as a protected resource, and its optional built-in authorization server."""
