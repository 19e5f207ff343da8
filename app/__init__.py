"""The Gradio demo: `ui` builds the page, `plots` draws the results, `examples` makes example
media offline, `server` loads the models once and launches with bounded load."""
