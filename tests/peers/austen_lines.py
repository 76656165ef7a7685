"""Prints one Austen novel's lines as a JSON list (tests feed them to lowbit and peers)."""
import json
import sys

import austen_text

print(json.dumps(austen_text.novel(sys.argv[1])))
