"""Serve the ldnqa web app: `python app.py` (README "The web app": LDNQA_HOST, LDNQA_PORT, LDNQA_DATA_DIR;
SECURITY.md: rate limits, feedback retention)."""
from pathlib import Path

from ldnqa.launch import main

if __name__ == "__main__":
    main(Path(__file__).resolve().parent)
