"""Generates the hostile GGUF and importance-matrix files in this folder (and, with
--seeds DIR / --imatrix-seeds DIR, small valid seeds for fuzz/corpus/gguf and
fuzz/corpus/imatrix). Each hostile file breaks one rule; manifest.json gives the
substring the error must contain and the key, tensor or entry it must name.

Files are assembled byte by byte here (no GGUF library would write them); the layout is
ggml's: "GGUF", u32 version, u64 tensor count, u64 KV count, KVs (u64-length key, u32
type, value), tensor infos (name, u32 n_dims, i64 ne[n_dims], u32 type, u64 offset),
zero padding to the alignment, tensor data.

Run from anywhere: .venv/bin/python tests/data/hostile_gguf/make_hostile.py [--seeds DIR]
Output is deterministic, so regenerating gives no git diff."""
import argparse
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
manifest = []

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
T_F32, T_F16, T_Q4_0, T_F64 = 0, 1, 2, 28


def s(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload):
    return s(key) + struct.pack("<I", vtype) + payload


def kv_str(key, value):
    return kv(key, STR, s(value))


def kv_u32(key, value):
    return kv(key, U32, struct.pack("<I", value))


def arr(elem, n, payload=b""):
    return struct.pack("<IQ", elem, n) + payload


def tinfo(name, ne, ttype, offset):
    return s(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}q", *ne) + struct.pack("<IQ", ttype, offset)


def gguf(kvs=(), tinfos=(), data=b"", align=32, version=3, n_tensors=None, n_kv=None, pad=True):
    head = b"GGUF" + struct.pack("<IQQ", version, len(tinfos) if n_tensors is None else n_tensors,
                                 len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(tinfos)
    if pad:
        body += bytes((-len(body)) % align)
    return body + data


ARCH = kv_str("general.architecture", "llama")
# The valid base: a F32 [8] at 0 (32 bytes) and b Q4_0 [32, 2] at 32 (36 bytes, padded).
GOOD_TENSORS = [tinfo("a", [8], T_F32, 0), tinfo("b", [32, 2], T_Q4_0, 32)]
GOOD_DATA = bytes(range(32)) + bytes(range(100, 136)) + bytes(28)


def good():
    return gguf([ARCH], GOOD_TENSORS, GOOD_DATA)


def add(name, content, error, key=None, tensor=None, kind="gguf", why=""):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(content)
    manifest.append({"path": name, "kind": kind, "error": error, "key": key, "tensor": tensor, "why": why})


def hostile_gguf():
    g = good()
    header_end = len(gguf([ARCH], GOOD_TENSORS, pad=False))
    add("empty_file.gguf", b"", "too short for the GGUF magic", why="0 bytes")
    add("short_magic.gguf", b"GGU", "too short for the GGUF magic", why="3 bytes")
    add("bad_magic.gguf", b"GGML" + g[4:], "not a GGUF file", why="GGML magic")
    add("version_0.gguf", gguf([ARCH], version=0), "unsupported GGUF version 0", why="version 0")
    add("version_1.gguf", gguf([ARCH], version=1), "version 1", why="GGUFv1 (32-bit counts), dropped by ggml")
    add("version_4.gguf", gguf([ARCH], version=4), "unsupported GGUF version 4", why="from the future")
    add("big_endian.gguf", b"GGUF" + struct.pack(">IQQ", 3, 0, 0), "big-endian", why="version 3 stored big-endian")
    add("truncated_version.gguf", g[:6], "file ends inside the version", why="cut in the version")
    add("truncated_counts.gguf", g[:20], "file ends inside the key-value count", why="cut in the KV count")
    add("lying_tensor_count.gguf", gguf([ARCH], n_tensors=2**40), "tensor count 1099511627776", why="2^40 tensors")
    add("lying_kv_count.gguf", gguf([ARCH], n_kv=2**40), "key-value count 1099511627776", why="2^40 KVs")
    add("negative_kv_count.gguf", gguf([ARCH], n_kv=2**64 - 1), "cannot fit", why="-1 as int64")
    add("counts_sum_too_big.gguf", gguf([ARCH], n_kv=3, n_tensors=2), "cannot fit",
        why="each count alone fits, both together do not")
    add("huge_key_length.gguf", gguf([struct.pack("<Q", 2**63) + b"k"]), "exceeds ggml's limit",
        why="key length 2^63")
    add("key_length_past_eof.gguf", gguf([struct.pack("<Q", 64) + b"general.x" + struct.pack("<I", U8) + b"\0"]),
        "runs past the end of the file", why="key length a little past EOF")
    add("string_over_limit.gguf", gguf([kv("k", STR, struct.pack("<Q", 2**30 + 1) + b"x" * 8)]),
        "exceeds ggml's limit", key="k", why="string longer than ggml's 1 GiB")
    add("string_past_eof.gguf", gguf([kv("k", STR, struct.pack("<Q", 1000) + b"x" * 8)]),
        "runs past the end of the file", key="k", why="string value past EOF")
    add("empty_key.gguf", gguf([kv("", U8, b"\1"), ARCH]), "empty key", why="ggml refuses empty keys")
    add("non_utf8_key.gguf", gguf([kv(b"gen\xff", U8, b"\1")]), "not UTF-8", why="0xFF in a key")
    add("duplicate_key.gguf", gguf([ARCH, kv_str("general.name", "a"), kv_str("general.name", "b")]),
        "duplicate key", key="general.name", why="same key twice")
    add("bad_value_type.gguf", gguf([kv("k", 13, b"\0" * 8)]), "invalid value type 13", key="k", why="type 13")
    add("bad_value_type_huge.gguf", gguf([kv("k", 0xFFFFFFFF, b"\0" * 8)]), "invalid value type 4294967295",
        key="k", why="type -1 as int32")
    add("bad_array_element_type.gguf", gguf([kv("k", ARR, arr(13, 1, b"\0" * 8))]), "invalid array element type 13",
        key="k", why="array of type 13")
    add("array_over_limit.gguf", gguf([kv("k", ARR, arr(U8, 2**31, b"\0" * 16))]), "exceeds ggml's limit", key="k",
        why="2^31 elements, past ggml's 2^30")
    add("lying_array_count.gguf", gguf([kv("k", ARR, arr(U64, 1000, b"\0" * 16))]), "cannot fit", key="k",
        why="1000 u64 in 16 bytes")
    add("lying_string_array_count.gguf", gguf([kv("tokenizer.ggml.tokens", ARR, arr(STR, 2**29, s("a")))]),
        "cannot fit", key="tokenizer.ggml.tokens", why="2^29 strings, each needs 8 bytes")
    add("string_array_past_eof.gguf", gguf([kv("k", ARR, arr(STR, 2, s("a") + struct.pack("<Q", 99)))]),
        "runs past the end of the file", key="k", why="second string past EOF")
    nested = arr(U8, 1, b"\1")
    for _ in range(100):
        nested = arr(ARR, 1, nested)
    add("nested_depth_bomb.gguf", gguf([kv("k", ARR, nested)]), "nest deeper than 8", key="k",
        why="101 levels of arrays")
    add("nested_width_bomb.gguf", gguf([kv("k", ARR, arr(ARR, 2**29, arr(U8, 0)))]), "cannot fit", key="k",
        why="2^29 inner arrays, each needs 12 bytes")
    add("nested_inner_lie.gguf", gguf([kv("k", ARR, arr(ARR, 2, arr(U8, 1, b"\1") + arr(U32, 2**20)))]),
        "cannot fit", key="k", why="inner array count lies")
    add("truncated_value.gguf", gguf([ARCH, kv("k", U64, b"\1\2\3")], pad=False), "file ends inside the value",
        key="k", why="u64 cut after 3 bytes")
    add("bool_value_2.gguf", gguf([kv("k", BOOL, b"\2")]), "bool value 2", key="k", why="the spec allows 0 and 1")
    add("bool_array_bad.gguf", gguf([kv("k", ARR, arr(BOOL, 3, b"\0\1\7"))]), "bool array element 2", key="k",
        why="7 in a bool array")
    for name, payload, err in [("alignment_u64.gguf", kv("general.alignment", U64, struct.pack("<Q", 32)), "must be u32"),
                               ("alignment_string.gguf", kv_str("general.alignment", "32"), "must be u32"),
                               ("alignment_zero.gguf", kv_u32("general.alignment", 0), "not a nonzero power of two"),
                               ("alignment_48.gguf", kv_u32("general.alignment", 48), "not a nonzero power of two")]:
        add(name, gguf([ARCH, payload], GOOD_TENSORS, GOOD_DATA), err, key="general.alignment",
            why="ggml and the gguf package accept only a u32 power of two")

    def with_b(info, data=GOOD_DATA, **kw):
        return gguf([ARCH], [GOOD_TENSORS[0], info], data, **kw)

    add("truncated_tensor_info.gguf", g[:header_end - 10], "file ends inside the", tensor="b",
        why="cut inside b's type/offset")
    add("huge_tensor_name.gguf", gguf([ARCH], [struct.pack("<Q", 2**62)]), "exceeds ggml's limit",
        why="tensor name length 2^62")
    add("too_many_dims.gguf", with_b(tinfo("b", [32, 1, 1, 1, 2], T_Q4_0, 32)), "n_dims 5", tensor="b",
        why="ggml has 4 dimensions")
    add("negative_ne.gguf", with_b(tinfo("b", [32, -2], T_Q4_0, 32)), "is negative", tensor="b", why="ne[1] = -2")
    add("ne_overflow.gguf", with_b(tinfo("b", [2**40, 2**40], T_F32, 32)), "overflows", tensor="b",
        why="2^80 elements")
    add("nbytes_overflow.gguf", with_b(tinfo("b", [2**61], T_F64, 32)), "overflows", tensor="b",
        why="2^61 elements fit int64, 2^64 bytes do not")
    add("ne0_not_block_multiple.gguf", with_b(tinfo("b", [33, 2], T_Q4_0, 32)), "not a multiple of the q4_0 block",
        tensor="b", why="33 weights per Q4_0 row")
    for tid in (4, 31, 99, 0xFFFFFFFF):
        add(f"unknown_type_{tid}.gguf", with_b(tinfo("b", [32, 2], tid, 32)), f"unknown ggml type id {tid}",
            tensor="b", why="retired or never assigned type id")
    add("misaligned_offset.gguf", with_b(tinfo("b", [32, 2], T_Q4_0, 36)), "not a multiple of the alignment",
        tensor="b", why="offset 36 with 32-byte alignment")
    add("tensor_past_eof.gguf", with_b(tinfo("b", [32, 2], T_Q4_0, 4096)), "runs past the end", tensor="b",
        why="offset beyond the file")
    add("offset_wraps.gguf", with_b(tinfo("b", [32, 2], T_Q4_0, 2**64 - 32)), "runs past the end", tensor="b",
        why="offset + size wraps 64 bits")
    add("overlapping_tensors.gguf", with_b(tinfo("b", [32, 2], T_Q4_0, 0)), "overlaps tensor 'a'", tensor="b",
        why="b starts where a does")
    add("partial_overlap.gguf", gguf([ARCH], [tinfo("a", [16], T_F32, 0), tinfo("b", [8], T_F32, 32)], bytes(96)),
        "overlaps tensor 'a'", tensor="b", why="a is 64 bytes, b starts at 32")
    add("duplicate_tensor_names.gguf", with_b(tinfo("a", [32, 2], T_Q4_0, 32)), "duplicate tensor name", tensor="a",
        why="two tensors named a")
    add("non_utf8_tensor_name.gguf", with_b(tinfo(b"b\xc0\xaf", [32, 2], T_Q4_0, 32)), "not UTF-8",
        why="overlong encoding in a name")
    add("data_section_past_eof.gguf", gguf([ARCH], GOOD_TENSORS, pad=False), "data section would start",
        why="file ends at the tensor infos, before the padding")
    add("truncated_data.gguf", g[:len(g) - 40], "runs past the end", tensor="b", why="cut inside b's data")


def imatrix(tensors, datasets=True, chunk_count=True, chunk_size=True):
    """An imatrix GGUF from [(name, ne, type, float32 data bytes)], ggml's layout."""
    kvs = [kv_str("general.type", "imatrix")]
    if datasets:
        kvs.append(kv("imatrix.datasets", ARR, arr(STR, 1, s("d.txt"))))
    if chunk_count:
        kvs.append(kv_u32("imatrix.chunk_count", 1))
    if chunk_size:
        kvs.append(kv_u32("imatrix.chunk_size", 512))
    infos, data = [], b""
    for name, ne, ttype, blob in tensors:
        infos.append(tinfo(name, ne, ttype, len(data)))
        data += blob + bytes((-len(blob)) % 32)
    return gguf(kvs, infos, data)


def f32(*xs):
    return struct.pack(f"<{len(xs)}f", *xs)


def dat(entries, trailer=b""):
    out = struct.pack("<i", len(entries))
    for name, ncall, values in entries:
        out += struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", ncall, len(values)) + f32(*values)
    return out + trailer


GOOD_IMATRIX = [("w.in_sum2", [4], T_F32, f32(1, 2, 3, 4)), ("w.counts", [1], T_F32, f32(8))]


def hostile_imatrix():
    def add_im(name, content, error, entry=None, why=""):
        add(name, content, error, tensor=entry, kind="imatrix", why=why)

    add_im("imatrix_no_tensors.gguf", imatrix([]), "no tensors", why="llama.cpp: no data")
    add_im("imatrix_no_chunk_size.gguf", imatrix(GOOD_IMATRIX, chunk_size=False), "missing imatrix metadata key",
           why="llama-quantize requires all three imatrix.* keys")
    add_im("imatrix_unpaired.gguf", imatrix(GOOD_IMATRIX[:1]), "no '.counts'", entry="w", why="sums without counts")
    add_im("imatrix_f16_sums.gguf", imatrix([("w.in_sum2", [4], T_F16, bytes(8)), GOOD_IMATRIX[1]]), "must be f32",
           entry="w.in_sum2", why="F16 sums")
    add_im("imatrix_counts_nan.gguf", imatrix([GOOD_IMATRIX[0], ("w.counts", [1], T_F32, f32(float("nan")))]),
           "not a usable token count", entry="w.counts", why="lround(NaN) is undefined")
    add_im("imatrix_uneven_rows.gguf", imatrix([("w.in_sum2", [5], T_F32, f32(1, 2, 3, 4, 5)),
                                                ("w.counts", [1, 2], T_F32, f32(1, 2))]),
           "do not split", entry="w", why="5 sums for 2 experts")
    add_im("imatrix_empty_counts.gguf", imatrix([GOOD_IMATRIX[0], ("w.counts", [1, 0], T_F32, b"")]), "is empty",
           entry="w.counts", why="zero counts: llama-quantize would divide by zero")
    good_dat = dat([("w", 2, [1, 2])], struct.pack("<ii", 1, 1) + b"d")
    add_im("legacy_truncated.dat", good_dat[:22], "ends inside", entry="w", why="cut inside the values")
    add_im("legacy_zero_entries.dat", struct.pack("<i", 0) + bytes(20), "entry count 0", why="no entries")
    add_im("legacy_huge_entry_count.dat", struct.pack("<i", 2**31 - 1) + good_dat[4:], "cannot fit",
           why="2^31-1 entries in 30 bytes")
    add_im("legacy_negative_name.dat", struct.pack("<ii", 1, -5) + bytes(16), "negative name length",
           why="len -5: llama.cpp would allocate len+1 = -4 bytes")
    add_im("legacy_nval_zero.dat", dat([("w", 2, [])]) + bytes(8), "must be at least 1", entry="w", why="no values")
    add_im("legacy_duplicate.dat", dat([("w", 2, [1]), ("w", 2, [2])]), "duplicate name", entry="w",
           why="same entry twice")
    add_im("legacy_trailing_bytes.dat", good_dat + b"xyz", "unexpected bytes", why="garbage after the dataset name")
    add_im("legacy_partial_trailer.dat", dat([("w", 2, [1, 2])]) + b"\1\0", "trailing chunk count",
           why="2 bytes of a 4-byte chunk count")


def write_seeds(gguf_dir, imatrix_dir):
    os.makedirs(gguf_dir, exist_ok=True)
    os.makedirs(imatrix_dir, exist_ok=True)
    every = [ARCH, kv("u8", U8, b"\7"), kv("i16", I16, b"\1\x80"), kv("f32", F32, f32(0.5)), kv("b", BOOL, b"\1"),
             kv("u64", U64, struct.pack("<Q", 2**64 - 1)), kv("f64", F64, struct.pack("<d", -2.0)),
             kv("a.s", ARR, arr(STR, 2, s("x") + s(""))), kv("a.f", ARR, arr(F32, 2, f32(1, 2))),
             kv("a.n", ARR, arr(ARR, 2, arr(I32, 1, b"\1\0\0\0") + arr(STR, 1, s("y")))),
             kv("a.e", ARR, arr(U32, 0)), kv_u32("general.alignment", 16)]
    seeds = {
        "seed_small.gguf": good(),
        "seed_no_tensors.gguf": gguf([ARCH]),
        "seed_every_value.gguf": gguf(every, [tinfo("t", [4, 1], T_F32, 0), tinfo("e", [0, 3], T_F16, 16)],
                                      bytes(16), align=16),
        "seed_v2.gguf": gguf([ARCH], GOOD_TENSORS, GOOD_DATA, version=2),
    }
    for name, content in seeds.items():
        with open(os.path.join(gguf_dir, name), "wb") as f:
            f.write(content)
    im_seeds = {"seed_imatrix.gguf": imatrix(GOOD_IMATRIX + [("x.in_sum2", [2, 2], T_F32, f32(1, 2, 3, 4)),
                                                             ("x.counts", [1, 2], T_F32, f32(0, 3))]),
                "seed_legacy.dat": dat([("w", 2, [1, 2]), ("v", 0, [5])], struct.pack("<ii", 1, 1) + b"d"),
                "seed_legacy_no_trailer.dat": dat([("w", 2, [1, 2])])}
    for name, content in im_seeds.items():
        with open(os.path.join(imatrix_dir, name), "wb") as f:
            f.write(content)
    for m in manifest:
        d = gguf_dir if m["kind"] == "gguf" else imatrix_dir
        with open(os.path.join(HERE, m["path"]), "rb") as src, open(os.path.join(d, "hostile_" + m["path"]), "wb") as f:
            f.write(src.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", help="also write valid GGUF seeds (and the hostile files) here")
    ap.add_argument("--imatrix-seeds", help="and imatrix seeds here")
    args = ap.parse_args()
    for name in os.listdir(HERE):
        if name not in (os.path.basename(__file__), "manifest.json"):
            os.remove(os.path.join(HERE, name))
    hostile_gguf()
    hostile_imatrix()
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    if args.seeds:
        write_seeds(args.seeds, args.imatrix_seeds or args.seeds)


if __name__ == "__main__":
    main()
