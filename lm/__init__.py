"""In-process language-model toolkit: tokenizer, data, Llama model, training, sampling.

This package never imports the bot; the bot imports it.
"""
