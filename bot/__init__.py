"""Discord community helper for e-commerce brands; Discord itself is only an adapter on top."""
