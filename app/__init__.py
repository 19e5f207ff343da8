"""The Gradio demo: `config` reads the command line (no heavy imports, so ``--help`` is instant),
`server` loads the models once, step by step, and launches with bounded load, `ui` builds the
page, `plots` draws the results, `explain` puts them in words, `examples` makes example media
offline."""
