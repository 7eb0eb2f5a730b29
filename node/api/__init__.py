"""The HTTP side of a node: routes (`routes`), the logic behind them (`service`), the
OpenAI request and response models (`protocol`), streaming (`sse`), and the aiohttp
application with its background loops (`app`)."""
