"""FIRF demo: ``python app.py`` serves it on http://127.0.0.1:7860 (``--help`` for options).

Also the entry point of the Hugging Face Space (``app_file: app.py``).
"""

from app.server import main

if __name__ == "__main__":
    main()
