"""Jane Austen's six novels from Debian's r-cran-janeaustenr (an R lazy-load database:
Rdata.rdx indexes zlib-compressed serialized character vectors in Rdata.rdb), decoded
with the PyPI `rdata` parser. scripts/install-deps.sh unpacks the .deb into .deps/
without installing R; a system-wide install is used when present."""
import gzip
import os
import warnings
import zlib

import rdata

# rdata cannot tell a bare serialized stream from an .rds file and says so on stderr.
warnings.filterwarnings("ignore", message="Unknown file type")

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CANDIDATES = [
    os.environ.get("LOWBIT_AUSTEN_DIR", ""),
    os.path.join(_ROOT, ".deps/janeaustenr/usr/lib/R/site-library/janeaustenr/data"),
    "/usr/lib/R/site-library/janeaustenr/data",
]


def data_dir():
    for d in _CANDIDATES:
        if d and os.path.exists(os.path.join(d, "Rdata.rdx")):
            return d
    raise SystemExit("janeaustenr data not found (run scripts/install-deps.sh); looked in " + ", ".join(c for c in _CANDIDATES if c))


def novel(name):
    """Lines of one novel: emma, mansfieldpark, northangerabbey, persuasion,
    prideprejudice, sensesensibility."""
    d = data_dir()
    index = rdata.conversion.convert(rdata.parser.parse_data(gzip.decompress(open(os.path.join(d, "Rdata.rdx"), "rb").read())))
    off, length = (int(v) for v in index["variables"][name])
    with open(os.path.join(d, "Rdata.rdb"), "rb") as f:
        f.seek(off)
        blob = f.read(length)
    lines = rdata.conversion.convert(rdata.parser.parse_data(zlib.decompress(blob[4:])))
    return [str(s) for s in lines]


def sentences(name, count, min_words=6):
    """The first `count` sentences of a novel with at least min_words words: paragraphs
    are joined and split after '.', '!' or '?'."""
    text = " ".join(l.strip() for l in novel(name))
    out, cur = [], []
    for word in text.split():
        cur.append(word)
        if word[-1] in ".!?" or word.endswith(('."', '!"', '?"')):
            if len(cur) >= min_words:
                out.append(" ".join(cur))
                if len(out) == count:
                    break
            cur = []
    return out
