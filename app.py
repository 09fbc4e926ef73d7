"""Serve the ldnqa web app: `python app.py` (see docs/web.md for LDNQA_HOST, LDNQA_PORT, LDNQA_DATA_DIR)."""
from pathlib import Path

from ldnqa.server import main

if __name__ == "__main__":
    main(Path(__file__).resolve().parent)
