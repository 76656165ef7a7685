"""Peer for tests/io/test_rdata_peer.cpp: the lines of Jane Austen's novels as the PyPI
`rdata` parser decodes them from janeaustenr's R lazy-load database (austen_text.novel).

  io_rdata.py NOVEL...   prints {"NOVEL": [line, ...], ...} as JSON (UTF-8, not escaped)"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import austen_text  # noqa: E402


def main():
    out = {}
    for name in sys.argv[1:]:
        out[name] = austen_text.novel(name)
    sys.stdout.buffer.write(json.dumps(out, ensure_ascii=False).encode("utf-8"))


if __name__ == "__main__":
    main()
