"""Outbound HTTP to URLs users supply (webhooks): only to public addresses, only to the address
that was checked, never through a redirect or a proxy (a server-side request forgery guard).

`guard` parses a URL, resolves its host and checks every address; `client` sends a request to the
checked address and reduces failures to coarse classes."""
