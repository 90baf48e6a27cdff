"""OAuth 2.0 app platform: developers, apps, mall operators, scopes, (next: consent, tokens, installs)."""
