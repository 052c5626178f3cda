"""The aiohttp kernel the route modules share: app keys, HTTP auth, JSON bodies, errors, sign-in."""
