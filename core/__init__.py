"""The kernel: settings, database, migrations, language, business hours, accounts, the bot contract.

It imports nothing of the web layer (no aiohttp) and nothing above it."""
