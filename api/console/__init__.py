"""The brand console: server-rendered pages for brand staff, signed in with passkeys."""
