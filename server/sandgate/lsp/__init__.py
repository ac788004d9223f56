"""The language-server gateway: vetted inline suggestions, held ones as diagnostics with approvals."""
